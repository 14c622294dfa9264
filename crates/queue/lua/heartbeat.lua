-- heartbeat: a worker says it is alive and what it runs; workers silent for longer than the
-- time to live drop out of the registry.
-- KEYS[1] workers zset   KEYS[2] worker (this worker's hash)
-- ARGV[1] worker id   ARGV[2] time to live (ms)   ARGV[3..] field, value pairs
-- Returns: the Redis time (ms) of the beat
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ttl = tonumber(ARGV[2])
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], 'last_beat', now, unpack(fields))
redis.call('PEXPIRE', KEYS[2], ttl)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
return now
