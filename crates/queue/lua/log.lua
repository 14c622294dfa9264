-- log: append a batch of an active job's output lines to its capped log, and one event that
-- carries the batch to live viewers.
-- KEYS[1] events
-- ARGV[1] key prefix   ARGV[2] job id   ARGV[3] lease token   ARGV[4] max lines kept
-- ARGV[5..] the lines
-- Returns: 1 recorded, 0 refused (not this lease)
local id = ARGV[2]
local key = ARGV[1] .. 'job:' .. id
local h = redis.call('HMGET', key, 'state', 'token', 'project', 'task')
if h[1] ~= 'active' or h[2] ~= ARGV[3] then return 0 end
local logKey = ARGV[1] .. 'log:' .. id
local lines = {}
for i = 5, #ARGV do lines[#lines + 1] = ARGV[i] end
redis.call('RPUSH', logKey, unpack(lines))
redis.call('LTRIM', logKey, -tonumber(ARGV[4]), -1)
redis.call('XADD', KEYS[1], '*', 'event', 'agent_job_log', 'job', id, 'project', h[3],
  'task', h[4], 'lines', table.concat(lines, '\n'))
return 1
