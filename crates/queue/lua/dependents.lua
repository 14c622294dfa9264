-- dependents: what the end of a job does to the jobs blocked on it (context.dependencies). Not a
-- script of its own: cycle, cancel and decide start with it (src/scripts.rs joins them).
-- A job blocked on others waits in the blocked set with 'pending', the number of its
-- dependencies not yet completed, and is listed in each one's 'dependents:<id>' set. When a
-- dependency completes, 'pending' goes down and at 0 the job joins the wait set; when one
-- fails for good or is cancelled, the job fails naming it (unless it runs anyway:
-- 'on_dep_fail' = 'run'), and so, in turn, do the jobs blocked on it.
local function endDependents(prefix, id, completed, k)
  local now = redis.call('TIME')
  now = now[1] * 1000 + math.floor(now[2] / 1000)
  local ended = { id, completed }
  local i = 1
  while i <= #ended do
    local dep, ok = ended[i], ended[i + 1]
    i = i + 2
    local listKey = prefix .. 'dependents:' .. dep
    local blockedOn = redis.call('SMEMBERS', listKey)
    if #blockedOn > 0 then redis.call('DEL', listKey) end
    for _, job in ipairs(blockedOn) do
      local key = prefix .. 'job:' .. job
      local h = redis.call('HMGET', key, 'state', 'on_dep_fail', 'prio', 'order', 'project', 'task')
      if h[1] == 'blocked' then
        local project, task = h[5] or '', h[6] or ''
        if ok or h[2] == 'run' then
          if redis.call('HINCRBY', key, 'pending', -1) <= 0 then
            redis.call('ZREM', k.blocked, job)
            redis.call('HSET', key, 'state', 'waiting')
            redis.call('ZADD', k.wait, tonumber(h[3]) * 1e12 + tonumber(h[4]), job)
            redis.call('XADD', k.events, '*', 'event', 'agent_job_queued', 'job', job,
              'project', project, 'task', task, 'priority', h[3], 'reason', 'unblocked')
            if redis.call('LLEN', k.marker) == 0 then redis.call('LPUSH', k.marker, '1') end
          end
        else
          local err = 'dependency job ' .. dep .. ' did not complete (failed or cancelled)'
          redis.call('ZREM', k.blocked, job)
          redis.call('HSET', key, 'state', 'failed', 'finished_at', now, 'error', err)
          redis.call('ZADD', k.failed, now, job)
          redis.call('XADD', k.events, '*', 'event', 'agent_job_failed', 'job', job,
            'project', project, 'task', task, 'error', err, 'attempts_made', '0')
          ended[#ended + 1] = job
          ended[#ended + 1] = false
        end
      end
    end
  end
end
