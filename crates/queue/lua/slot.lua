-- slot: take (or keep) one of an agent's `max` run slots for a job, across all workers.
-- Slots whose holder stopped renewing them expire.
-- KEYS[1] slots (the agent's zset: member = job id, score = expiry ms)
-- ARGV[1] job id   ARGV[2] max slots   ARGV[3] time to live (ms)
-- Returns: 1 the job holds a slot (until now + ttl), 0 all slots are taken
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local expiry = now + tonumber(ARGV[3])
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  redis.call('ZADD', KEYS[1], expiry, ARGV[1])
  return 1
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], expiry, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
