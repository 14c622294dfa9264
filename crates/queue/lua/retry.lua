-- retry: queue a failed job again by hand (the seed's retryJob), with a fresh set of attempts.
-- KEYS[1] wait   KEYS[2] failed   KEYS[3] events   KEYS[4] marker
-- ARGV[1] key prefix   ARGV[2] job id
-- Returns: 'queued', 'not_failed' (any other state) or 'missing'
local id = ARGV[2]
local key = ARGV[1] .. 'job:' .. id
local h = redis.call('HMGET', key, 'state', 'prio', 'order', 'project', 'task', 'trace')
if not (h[1] and h[2] and h[3]) then return 'missing' end
if h[1] ~= 'failed' then return 'not_failed' end
redis.call('ZREM', KEYS[2], id)
redis.call('HSET', key, 'state', 'waiting', 'made', 0, 'stalls', 0, 'cancel', '')
redis.call('HDEL', key, 'finished_at', 'error', 'result')
redis.call('ZADD', KEYS[1], tonumber(h[2]) * 1e12 + tonumber(h[3]), id)
-- like every lifecycle event, it carries the job's trace when it has one
if h[6] and h[6] ~= '' then
  redis.call('XADD', KEYS[3], '*', 'event', 'agent_job_queued', 'job', id, 'project', h[4] or '',
    'task', h[5] or '', 'priority', h[2], 'reason', 'manual', 'trace', h[6])
else
  redis.call('XADD', KEYS[3], '*', 'event', 'agent_job_queued', 'job', id, 'project', h[4] or '',
    'task', h[5] or '', 'priority', h[2], 'reason', 'manual')
end
if redis.call('LLEN', KEYS[4]) == 0 then redis.call('LPUSH', KEYS[4], '1') end
return 'queued'
