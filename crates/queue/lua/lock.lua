-- lock: take or renew a named lock for a holder (one recorder, one reconciler at a time).
-- KEYS[1] lock key
-- ARGV[1] holder   ARGV[2] time to live (ms)
-- Returns: 1 held by this holder now, 0 held by another
local current = redis.call('GET', KEYS[1])
if current == false or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
