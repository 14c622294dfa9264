-- cycle: one worker round trip. Records the outcomes of finished leases, recovers expired
-- leases, promotes due retries, trims finished jobs, then leases up to `fetch` waiting jobs.
-- Per-call work (TIME, recovery, promotion, trimming) is paid once for the whole batch.
-- KEYS[1] wait   KEYS[2] delayed   KEYS[3] active   KEYS[4] completed   KEYS[5] failed
-- KEYS[6] cancelled   KEYS[7] events   KEYS[8] marker   KEYS[9] stats hash
-- KEYS[10] turn (string: set to the latest turn leased here; see enqueue.lua)
-- KEYS[11] blocked zset (jobs waiting for their dependencies: see dependents.lua)
-- ARGV[1] key prefix   ARGV[2] worker id   ARGV[3] lease ms   ARGV[4] fetch (max jobs to lease)
-- ARGV[5] max stalls   ARGV[6] backoff cap ms
-- ARGV[7] keep completed ms   ARGV[8] keep completed count
-- ARGV[9] keep failed/cancelled ms   ARGV[10] keep failed/cancelled count
-- ARGV[11] n outcomes, then n groups of 4: id, lease token, kind, value
--   kind: c completed (value = result), f failed and retryable (value = error),
--         F failed for good (value = error), x cancelled, r lease given back
-- Returns: { leased jobs, outcome statuses, ms until the next delayed/lease deadline or -1,
--   ids dropped because their job hash is gone }
--   a leased job: { id, token, payload, attempts made, max attempts, priority, project, task,
--   traceparent or nil }
--   an outcome status: 1 recorded, 0 refused (not active, or not this lease's token)
local prefix = ARGV[1]
local worker = ARGV[2]
local lease = tonumber(ARGV[3])
local fetch = tonumber(ARGV[4])
local maxStalls = tonumber(ARGV[5])
local backoffCap = tonumber(ARGV[6])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
-- A Lua number handed to redis.call is formatted with sprintf, which costs Redis more than
-- the command itself: numbers used for many jobs are formatted once per call, and small
-- counts come from a table.
local nowS = tostring(now)
local SMALL = { '1', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11', '12', '13', '14', '15',
  '16', '17', '18', '19', '20' }
local function count(n) return SMALL[n] or tostring(n) end
local wait, delayed, active = KEYS[1], KEYS[2], KEYS[3]
local completed, failed, cancelled = KEYS[4], KEYS[5], KEYS[6]
local events = KEYS[7]

local function jobKey(id) return prefix .. 'job:' .. id end

-- set membership changes are collected and written with one ZADD per set and one ZREM, which
-- costs Redis far less than one call per job
local adds = {}
local leaving = {}
local function zaddLater(set, score, id)
  local args = adds[set]
  if not args then
    args = {}
    adds[set] = args
  end
  args[#args + 1] = score
  args[#args + 1] = id
end
local function flush()
  for set, args in pairs(adds) do redis.call('ZADD', set, unpack(args)) end
  adds = {}
  if #leaving > 0 then redis.call('ZREM', active, unpack(leaving)) end
  leaving = {}
end

-- `trace`: the job's W3C traceparent, or false/'' for none
local function event(name, id, project, task, trace, ...)
  project, task = project or '', task or ''
  if trace and trace ~= '' then
    redis.call('XADD', events, '*', 'event', name, 'job', id, 'project', project, 'task', task,
      'trace', trace, ...)
  else
    redis.call('XADD', events, '*', 'event', name, 'job', id, 'project', project, 'task', task, ...)
  end
end

-- A job id whose hash is gone (evicted, deleted by hand) is dropped from the sets and reported,
-- never followed by a write that would leave a partial hash or fail this script half-way; the
-- reconciler re-creates such a job from SQL.
local lost = {}
local function drop(id)
  lost[#lost + 1] = id
end

local function requeue(id, reason)
  local h = redis.call('HMGET', jobKey(id), 'prio', 'order', 'project', 'task', 'trace')
  if not (h[1] and h[2]) then return drop(id) end
  redis.call('HSET', jobKey(id), 'state', 'waiting', 'worker', '')
  zaddLater(wait, tonumber(h[1]) * 1e12 + tonumber(h[2]), id)
  event('agent_job_queued', id, h[3], h[4], h[5], 'priority', h[1], 'reason', reason)
end

-- sets that received jobs in this call: only those need trimming by count now
local grew = {}

-- jobs blocked on others are rare: with none, a job's end costs nothing more
local anyBlocked = redis.call('ZCARD', KEYS[11]) > 0
local dependentsKeys = { blocked = KEYS[11], wait = wait, failed = failed, events = events,
  marker = KEYS[8] }

local function finishAs(id, state, set, ...)
  redis.call('HSET', jobKey(id), 'state', state, 'finished_at', nowS, 'worker', '', ...)
  zaddLater(set, nowS, id)
  grew[set] = true
  if anyBlocked then endDependents(prefix, id, state == 'completed', dependentsKeys) end
end

local function failForGood(id, project, task, trace, made, err)
  finishAs(id, 'failed', failed, 'made', count(made), 'error', err)
  event('agent_job_failed', id, project, task, trace, 'error', err, 'attempts_made', count(made))
end

-- 1. outcomes of this worker's finished leases
local n = tonumber(ARGV[11])
local statuses = {}
for i = 0, n - 1 do
  local b = 12 + i * 4
  local id, token, kind, value = ARGV[b], ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local h = redis.call('HMGET', jobKey(id), 'state', 'token', 'project', 'task', 'made', 'max',
    'backoff', 'started_at', 'cancel', 'trace')
  if h[1] ~= 'active' or h[2] ~= token then
    statuses[i + 1] = 0
  else
    statuses[i + 1] = 1
    local project, task, trace = h[3], h[4], h[10]
    local made = tonumber(h[5]) or 0
    leaving[#leaving + 1] = id
    -- a cancel request wins over a failure or a give-back, not over a finished result
    if h[9] == '1' and kind ~= 'c' then kind = 'x' end
    if kind == 'c' then
      -- the completing attempt counts, as in the event and in SQL: a reader of the hash must
      -- not see a completed job with one attempt fewer than the recorder writes
      local attempt = count(made + 1)
      finishAs(id, 'completed', completed, 'result', value, 'progress', '100', 'made', attempt)
      event('agent_job_completed', id, project, task, trace, 'result', value,
        'duration_ms', now - tonumber(h[8]), 'attempt', attempt)
    elseif kind == 'x' then
      finishAs(id, 'cancelled', cancelled)
      event('agent_job_cancelled', id, project, task, trace)
    elseif kind == 'r' then
      requeue(id, 'released')
    else
      made = made + 1
      if kind == 'f' and made < tonumber(h[6]) then
        local delay = math.min(tonumber(h[7]) * 2 ^ (made - 1), backoffCap)
        redis.call('HSET', jobKey(id), 'state', 'delayed', 'made', made, 'error', value,
          'worker', '')
        zaddLater(delayed, now + delay, id)
        event('agent_job_retrying', id, project, task, trace, 'error', value, 'attempts_made', made,
          'delay_ms', delay)
      else
        failForGood(id, project, task, trace, made, value)
      end
    end
  end
end

-- before looking for expired leases, so that a job finished just now is not among them
flush()

-- 2. leases that expired: their worker died or hung
local expired = redis.call('ZRANGEBYSCORE', active, '-inf', nowS, 'LIMIT', 0, 100)
local function recover(id)
  local h = redis.call('HMGET', jobKey(id), 'project', 'task', 'made', 'cancel', 'trace', 'state')
  if not h[6] then return drop(id) end
  redis.call('HINCRBY', KEYS[9], 'stalled', 1)
  local stalls = redis.call('HINCRBY', jobKey(id), 'stalls', 1)
  if h[4] == '1' then
    finishAs(id, 'cancelled', cancelled)
    event('agent_job_cancelled', id, h[1], h[2], h[5])
  elseif stalls > maxStalls then
    failForGood(id, h[1], h[2], h[5], (tonumber(h[3]) or 0) + 1,
      'job stalled more than ' .. maxStalls .. ' times (its worker stopped renewing the lease)')
  else
    requeue(id, 'stalled')
  end
end
for _, id in ipairs(expired) do
  leaving[#leaving + 1] = id
  recover(id)
end

-- 3. retries that are due
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', nowS, 'LIMIT', 0, 100)
for _, id in ipairs(due) do requeue(id, 'retry') end
if #due > 0 then redis.call('ZREM', delayed, unpack(due)) end
flush()

-- 4. retention of finished jobs, by age and by count, at most 200 per set and call. While
-- jobs wait, a set is cut down by count only once it holds TRIM_BATCH jobs too many, so that
-- the calls that trim are paid once per batch rather than per job; an idle call (nothing to
-- lease) trims to the limits exactly, and is how old jobs age out of sets nobody adds to.
local TRIM_BATCH = 50
local waiting = redis.call('ZCARD', wait)
local idle = waiting == 0
local function trim(set, keepMs, keepCount)
  if not (grew[set] or idle) then return end
  local old = redis.call('ZRANGEBYSCORE', set, '-inf', now - keepMs, 'LIMIT', 0, 200)
  local excess = redis.call('ZCARD', set) - #old - keepCount
  if excess > 0 and (idle or excess >= TRIM_BATCH) and #old < 200 then
    local extra = redis.call('ZRANGE', set, #old, #old + math.min(excess, 200 - #old) - 1)
    for _, id in ipairs(extra) do old[#old + 1] = id end
  end
  if #old > 0 then
    local keys = {}
    for i, id in ipairs(old) do
      keys[2 * i - 1] = jobKey(id)
      keys[2 * i] = prefix .. 'log:' .. id
    end
    redis.call('DEL', unpack(keys))
    redis.call('ZREM', set, unpack(old))
  end
end
trim(completed, tonumber(ARGV[7]), tonumber(ARGV[8]))
trim(failed, tonumber(ARGV[9]), tonumber(ARGV[10]))
trim(cancelled, tonumber(ARGV[9]), tonumber(ARGV[10]))

-- 5. lease the best waiting jobs: lowest priority number first, then earliest turn
local leased = {}
local function leaseOne(id, leaseEnd)
  local key = jobKey(id)
  local h = redis.call('HMGET', key, 'data', 'made', 'max', 'prio', 'project', 'task', 'token',
    'trace')
  if not (h[1] and h[3] and h[4]) then return drop(id) end
  local token = count((tonumber(h[7]) or 0) + 1)
  redis.call('HSET', key, 'state', 'active', 'worker', worker, 'started_at', nowS, 'token', token)
  zaddLater(active, leaseEnd, id)
  local made = tonumber(h[2]) or 0
  event('agent_job_started', id, h[5], h[6], h[8], 'attempt', count(made + 1), 'worker', worker)
  leased[#leased + 1] = { id, token, h[1], made, h[3], h[4], h[5] or '', h[6] or '', h[8] }
end
if fetch > 0 then
  local leaseEnd = tostring(now + lease)
  local popped = redis.call('ZPOPMIN', wait, fetch)
  local latestTurn = -1
  for i = 1, #popped, 2 do
    leaseOne(popped[i], leaseEnd)
    latestTurn = math.max(latestTurn, tonumber(popped[i + 1]) % 1e12)
  end
  flush()
  -- a project that queues from now on takes turns from here, not from its old turns
  if latestTurn >= 0 then redis.call('SET', KEYS[10], latestTurn) end
end

-- 6. wake another idle worker when work is left; tell an idle caller when to look again
local left = waiting - #leased
if left > 0 and redis.call('LLEN', KEYS[8]) == 0 then
  redis.call('LPUSH', KEYS[8], '1')
end
local nextWake = -1
if #leased < fetch and left == 0 then
  for _, set in ipairs({ delayed, active }) do
    local first = redis.call('ZRANGE', set, 0, 0, 'WITHSCORES')
    if first[2] then
      local ms = math.max(0, tonumber(first[2]) - now)
      if nextWake < 0 or ms < nextWake then nextWake = ms end
    end
  end
end
if #lost > 0 then redis.call('HINCRBY', KEYS[9], 'lost', #lost) end
return { leased, statuses, nextWake, lost }
