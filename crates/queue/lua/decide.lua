-- decide: a member's answer to a job that awaits approval. Before its run (its agent requires
-- approval) an approved job joins the wait set by its priority and enqueue order, a rejected
-- one ends cancelled. During its run (its agent asked), the answer is kept for the worker, which
-- hands it to the agent.
-- KEYS[1] wait   KEYS[2] held   KEYS[3] cancelled   KEYS[4] events   KEYS[5] marker
-- KEYS[6] blocked   KEYS[7] failed (a rejected job's dependents fail: dependents.lua)
-- ARGV[1] key prefix   ARGV[2] job id   ARGV[3] decision (approved or rejected)   ARGV[4] comment
-- Returns: 'approved' or 'rejected' (before the run), 'answered' (during it), 'not_awaiting'
-- or 'missing'
local id = ARGV[2]
local key = ARGV[1] .. 'job:' .. id
local h = redis.call('HMGET', key, 'state', 'project', 'task', 'prio', 'order', 'question', 'answer')
local state = h[1]
if not state then return 'missing' end
local decision = ARGV[3]
local event = decision == 'approved' and 'agent_job_approved' or 'agent_job_rejected'
local project, task = h[2] or '', h[3] or ''
if state == 'awaiting_approval' then
  redis.call('ZREM', KEYS[2], id)
  redis.call('XADD', KEYS[4], '*', 'event', event, 'job', id, 'project', project, 'task', task,
    'comment', ARGV[4], 'during_run', '0')
  if decision == 'approved' then
    redis.call('HSET', key, 'state', 'waiting')
    redis.call('ZADD', KEYS[1], tonumber(h[4]) * 1e12 + tonumber(h[5]), id)
    if redis.call('LLEN', KEYS[5]) == 0 then
      redis.call('LPUSH', KEYS[5], '1')
    end
    return 'approved'
  end
  local t = redis.call('TIME')
  local now = t[1] * 1000 + math.floor(t[2] / 1000)
  redis.call('HSET', key, 'state', 'cancelled', 'finished_at', now)
  redis.call('ZADD', KEYS[3], now, id)
  endDependents(ARGV[1], id, false, { blocked = KEYS[6], wait = KEYS[1], failed = KEYS[7],
    events = KEYS[4], marker = KEYS[5] })
  return 'rejected'
end
if state == 'active' and h[6] and not h[7] then
  redis.call('HSET', key, 'answer', decision, 'answer_comment', ARGV[4])
  redis.call('XADD', KEYS[4], '*', 'event', event, 'job', id, 'project', project, 'task', task,
    'comment', ARGV[4], 'during_run', '1')
  return 'answered'
end
return 'not_awaiting'
