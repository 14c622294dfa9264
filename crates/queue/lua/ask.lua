-- ask: a running agent asks for approval mid-run; its question waits in the job's hash for a
-- member's answer (decide.lua), which the worker reads and hands to the agent.
-- KEYS[1] events
-- ARGV[1] key prefix   ARGV[2] job id   ARGV[3] lease token   ARGV[4] question
-- ARGV[5] seconds the agent waits for an answer
-- Returns: 1 asked, 0 refused (not this lease)
local key = ARGV[1] .. 'job:' .. ARGV[2]
local h = redis.call('HMGET', key, 'state', 'token', 'project', 'task')
if h[1] ~= 'active' or h[2] ~= ARGV[3] then return 0 end
redis.call('HDEL', key, 'answer', 'answer_comment')
redis.call('HSET', key, 'question', ARGV[4])
redis.call('XADD', KEYS[1], '*', 'event', 'agent_job_awaiting_approval', 'job', ARGV[2],
  'project', h[3], 'task', h[4], 'question', ARGV[4], 'timeout_secs', ARGV[5],
  'during_run', '1')
return 1
