-- cancel: a waiting, delayed or held (awaiting approval) job is cancelled at once; an active one
-- gets a cancel request that is published to the workers, and its worker finishes it as
-- cancelled.
-- KEYS[1] wait   KEYS[2] delayed   KEYS[3] cancelled   KEYS[4] events   KEYS[5] held
-- KEYS[6] blocked   KEYS[7] failed   KEYS[8] marker
-- A job blocked on dependencies is cancelled at once too, and the jobs blocked on a cancelled
-- job fail (dependents.lua).
-- ARGV[1] key prefix   ARGV[2] job id   ARGV[3] control channel
-- Returns: 'cancelled', 'requested' (active), 'finished' (completed/failed/cancelled) or 'missing'
local id = ARGV[2]
local key = ARGV[1] .. 'job:' .. id
local h = redis.call('HMGET', key, 'state', 'project', 'task', 'trace')
local state = h[1]
if not state then return 'missing' end
local from = { waiting = KEYS[1], delayed = KEYS[2], awaiting_approval = KEYS[5], blocked = KEYS[6] }
if from[state] then
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  redis.call('ZREM', from[state], id)
  redis.call('HSET', key, 'state', 'cancelled', 'finished_at', now)
  redis.call('ZADD', KEYS[3], now, id)
  -- like every lifecycle event, it carries the job's trace when it has one
  if h[4] and h[4] ~= '' then
    redis.call('XADD', KEYS[4], '*', 'event', 'agent_job_cancelled', 'job', id,
      'project', h[2] or '', 'task', h[3] or '', 'trace', h[4])
  else
    redis.call('XADD', KEYS[4], '*', 'event', 'agent_job_cancelled', 'job', id,
      'project', h[2] or '', 'task', h[3] or '')
  end
  endDependents(ARGV[1], id, false, { blocked = KEYS[6], wait = KEYS[1], failed = KEYS[7],
    events = KEYS[4], marker = KEYS[8] })
  return 'cancelled'
end
if state == 'active' then
  redis.call('HSET', key, 'cancel', '1')
  redis.call('PUBLISH', ARGV[3], id)
  return 'requested'
end
return 'finished'
