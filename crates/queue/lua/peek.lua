-- peek: what one partition holds for a worker choosing where to lease next; changes nothing.
-- KEYS[1] wait   KEYS[2] delayed   KEYS[3] active
-- Returns: { the best waiting priority (1 first .. 4) or 0 when none waits,
--   1 when a retry is due or a lease has expired (a cycle there has work) else 0,
--   ms until the next delayed/lease deadline or -1, how many wait }
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local prio = 0
if head[2] then prio = math.floor(tonumber(head[2]) / 1e12) end
local due, wake = 0, -1
for _, set in ipairs({ KEYS[2], KEYS[3] }) do
  local first = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
  if first[2] then
    local ms = tonumber(first[2]) - now
    if ms <= 0 then due = 1 end
    ms = math.max(0, ms)
    if wake < 0 or ms < wake then wake = ms end
  end
end
return { prio, due, wake, redis.call('ZCARD', KEYS[1]) }
