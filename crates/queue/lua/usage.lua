-- usage: add what an active job's agent spent to the job's totals and announce the totals, if
-- the lease is current. Reports are deltas; the event carries the sums, so a recorder that
-- applies it twice (or only the last of several) still writes the right totals.
-- KEYS[1] events
-- ARGV[1] key prefix   ARGV[2] job id   ARGV[3] lease token
-- ARGV[4] input tokens   ARGV[5] output tokens   ARGV[6] cost in micro-dollars
-- Returns: 1 recorded, 0 refused (not this lease)
local key = ARGV[1] .. 'job:' .. ARGV[2]
local h = redis.call('HMGET', key, 'state', 'token', 'project', 'task')
if h[1] ~= 'active' or h[2] ~= ARGV[3] then return 0 end
local input = redis.call('HINCRBY', key, 'input_tokens', ARGV[4])
local output = redis.call('HINCRBY', key, 'output_tokens', ARGV[5])
local cost = redis.call('HINCRBY', key, 'cost_micro_usd', ARGV[6])
redis.call('XADD', KEYS[1], '*', 'event', 'agent_job_usage', 'job', ARGV[2],
  'project', h[3], 'task', h[4], 'input_tokens', input, 'output_tokens', output,
  'cost_micro_usd', cost)
return 1
