-- extend: renew the leases a worker still holds, all in one call.
-- KEYS[1] active zset
-- ARGV[1] key prefix   ARGV[2] lease ms   ARGV[3] n, then n pairs: id, lease token
-- Returns: n integers: 1 renewed, 2 renewed but a cancel is requested, 0 lost (expired and
--   taken over, or finished): the worker must stop working on it and report nothing.
local prefix = ARGV[1]
local t = redis.call('TIME')
local deadline = t[1] * 1000 + math.floor(t[2] / 1000) + tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local out = {}
for i = 0, n - 1 do
  local id, token = ARGV[4 + 2 * i], ARGV[5 + 2 * i]
  local h = redis.call('HMGET', prefix .. 'job:' .. id, 'state', 'token', 'cancel')
  if h[1] == 'active' and h[2] == token then
    redis.call('ZADD', KEYS[1], 'XX', deadline, id)
    out[i + 1] = (h[3] == '1') and 2 or 1
  else
    out[i + 1] = 0
  end
end
return out
