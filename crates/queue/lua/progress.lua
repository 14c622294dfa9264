-- progress: record an active job's progress (0..100) and its event, if the lease is current.
-- KEYS[1] events
-- ARGV[1] key prefix   ARGV[2] job id   ARGV[3] lease token   ARGV[4] progress
-- Returns: 1 recorded, 0 refused (not this lease)
local key = ARGV[1] .. 'job:' .. ARGV[2]
local h = redis.call('HMGET', key, 'state', 'token', 'project', 'task')
if h[1] ~= 'active' or h[2] ~= ARGV[3] then return 0 end
redis.call('HSET', key, 'progress', ARGV[4])
redis.call('XADD', KEYS[1], '*', 'event', 'agent_job_progress', 'job', ARGV[2],
  'project', h[3], 'task', h[4], 'progress', ARGV[4])
return 1
