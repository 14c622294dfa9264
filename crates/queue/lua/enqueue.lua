-- enqueue: add jobs to the wait set, each with its queued event; a held job (its agent requires
-- approval) goes to the held set instead, with its awaiting-approval event, until decide.lua.
-- Idempotent per job id: a job whose hash already exists is left as it is (a hash without a
-- state is not a job: it is written over).
-- Fair share: within a priority, projects take turns. A job's turn ('order' in its hash, the
-- wait score's low part) is its project's next turn, or the turn of the last job leased when
-- the project is behind that: a project that queues 10,000 jobs takes turns with one that
-- queues 1 afterwards instead of running first, and each project's jobs keep their order.
-- A project of weight w puts up to w of its jobs at each turn (ties go to the older job id),
-- so it runs w jobs a round where a project of weight 1 runs one.
-- KEYS[1] wait zset   KEYS[2] events stream   KEYS[3] marker list   KEYS[4] held zset
-- KEYS[5] turn (string: the last leased turn; each project's next turn is 'turn:p<project>',
--   'T' or 'T:u' when u of its jobs already took turn T)
-- KEYS[6] blocked zset   KEYS[7] failed zset
-- ARGV[1] key prefix ("aq:{queue}:")   ARGV[2] n
--   then n groups of 12: id, priority (1..4), max attempts, backoff base ms, project, task,
--   payload, W3C traceparent ('' for none; kept with the job and written on its events),
--   held ('1' or ''), dependencies ('' or 'job id:its SQL status,...'), 'run' (run even when
--   a dependency fails) or '', its project's weight (1..)
-- A job with dependencies that have not all completed is blocked (see dependents.lua); one
-- whose dependency failed or was cancelled fails at once, naming it.
-- Returns: n integers, 1 = added, 0 = already known.
-- Counters that start at zero (made, token, stalls) are not written: absent reads as 0.
local prefix = ARGV[1]
local n = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
-- every project's next turn and the last leased turn, read with one MGET and written back with
-- one MSET (a string per project rather than fields of one hash: a hash of a hundred projects
-- is a listpack that each field lookup scans, which cost enqueue a fifth more Redis CPU)
local turnKey = prefix .. 'turn:p'
local keys, seen = { KEYS[5] }, {}
for i = 0, n - 1 do
  local key = turnKey .. ARGV[3 + i * 12 + 4]
  if not seen[key] then
    seen[key] = true
    keys[#keys + 1] = key
  end
end
local stored = redis.call('MGET', unpack(keys))
local nowTurn = tonumber(stored[1]) or 0
-- per project: the turn its next job gets, and how many of its jobs already took that turn
local nextTurn, used = {}, {}
for i = 2, #keys do
  local turn, u = string.match(stored[i] or '', '^(%d+):(%d+)$')
  turn, u = tonumber(turn or stored[i]) or 0, tonumber(u) or 0
  if turn < nowTurn then turn, u = nowTurn, 0 end
  nextTurn[keys[i]], used[keys[i]] = turn, u
end
local taken = {}
local function turnOf(b)
  local key = turnKey .. ARGV[b + 4]
  local turn, u = nextTurn[key], used[key] + 1
  if u >= (tonumber(ARGV[b + 11]) or 1) then
    nextTurn[key], used[key] = turn + 1, 0
  else
    used[key] = u
  end
  taken[key] = true
  return turn
end
local added = {}
local scores = {}

-- the fields every job's hash starts with, for the group of arguments at `b`
local function writeJob(key, b, state, turn)
  redis.call('HSET', key, 'data', ARGV[b + 6], 'prio', ARGV[b + 1], 'order', turn,
    'state', state, 'project', ARGV[b + 4], 'task', ARGV[b + 5], 'max', ARGV[b + 2],
    'backoff', ARGV[b + 3], 'queued_at', now)
  if ARGV[b + 7] ~= '' then redis.call('HSET', key, 'trace', ARGV[b + 7]) end
end

local function announce(b, id, name, ...)
  if ARGV[b + 7] ~= '' then
    redis.call('XADD', KEYS[2], '*', 'event', name, 'job', id, 'project', ARGV[b + 4],
      'task', ARGV[b + 5], 'trace', ARGV[b + 7], ...)
  else
    redis.call('XADD', KEYS[2], '*', 'event', name, 'job', id, 'project', ARGV[b + 4],
      'task', ARGV[b + 5], ...)
  end
end

-- dependencies: 'id:status,...' with each dependency job's status in SQL, used when Redis
-- no longer has the job (a finished job's hash is trimmed after a while). Returns how many
-- have not completed yet (this job is then listed as their dependent) and the first that
-- failed or was cancelled (unless the job runs anyway).
local function dependencies(b, id)
  local pending, failedDep = 0, nil
  for entry in string.gmatch(ARGV[b + 9], '[^,]+') do
    local dep, sqlState = string.match(entry, '^([^:]+):(.*)$')
    local state = redis.call('HGET', prefix .. 'job:' .. dep, 'state') or sqlState
    if state == 'failed' or state == 'cancelled' then
      if ARGV[b + 10] ~= 'run' then failedDep = failedDep or dep end
    elseif state ~= 'completed' then
      pending = pending + 1
      redis.call('SADD', prefix .. 'dependents:' .. dep, id)
    end
  end
  return pending, failedDep
end

for i = 0, n - 1 do
  local b = 3 + i * 12
  local id = ARGV[b]
  local key = prefix .. 'job:' .. id
  if redis.call('HEXISTS', key, 'state') == 1 then
    added[i + 1] = 0
  else
    added[i + 1] = 1
    local pending, failedDep = 0, nil
    if ARGV[b + 9] ~= '' then pending, failedDep = dependencies(b, id) end
    if ARGV[b + 8] == '1' then
      -- its turn is kept for the wait score it gets once approved
      writeJob(key, b, 'awaiting_approval', turnOf(b))
      redis.call('ZADD', KEYS[4], now, id)
      announce(b, id, 'agent_job_awaiting_approval', 'during_run', '0')
    elseif failedDep then
      local err = 'dependency job ' .. failedDep .. ' did not complete (failed or cancelled)'
      writeJob(key, b, 'failed', turnOf(b))
      redis.call('HSET', key, 'finished_at', now, 'error', err)
      redis.call('ZADD', KEYS[7], now, id)
      announce(b, id, 'agent_job_failed', 'error', err, 'attempts_made', '0')
    elseif pending > 0 then
      -- its turn is kept for the wait score it gets once its dependencies completed
      writeJob(key, b, 'blocked', turnOf(b))
      redis.call('HSET', key, 'pending', pending, 'on_dep_fail', ARGV[b + 10])
      redis.call('ZADD', KEYS[6], now, id)
      announce(b, id, 'agent_job_blocked', 'pending', pending)
    else
      local prio = tonumber(ARGV[b + 1])
      local turn = turnOf(b)
      writeJob(key, b, 'waiting', turn)
      -- priority first, then turn (ties: the older job id); both fit the 14 digits Redis
      -- keeps of a Lua number
      scores[#scores + 1] = prio * 1e12 + turn
      scores[#scores + 1] = id
      announce(b, id, 'agent_job_queued', 'priority', prio, 'reason', 'new')
    end
  end
end
local turns = {}
for key in pairs(taken) do
  turns[#turns + 1] = key
  if used[key] == 0 then
    turns[#turns + 1] = string.format('%d', nextTurn[key])
  else
    turns[#turns + 1] = string.format('%d:%d', nextTurn[key], used[key])
  end
end
if #turns > 0 then redis.call('MSET', unpack(turns)) end
if #scores > 0 then
  redis.call('ZADD', KEYS[1], unpack(scores))
  if redis.call('LLEN', KEYS[3]) == 0 then
    redis.call('LPUSH', KEYS[3], '1')
  end
end
return added
