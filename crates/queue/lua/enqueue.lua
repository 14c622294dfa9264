-- enqueue: add jobs to the wait set, each with its queued event; a held job (its agent requires
-- approval) goes to the held set instead, with its awaiting-approval event, until decide.lua.
-- Idempotent per job id: a job whose hash already exists is left as it is (a hash without a
-- state is not a job: it is written over).
-- Fair share: within a priority, projects take turns. A job's turn ('order' in its hash, the
-- wait score's low part) is its project's next turn, or the turn of the last job leased when
-- the project is behind that: a project that queues 10,000 jobs takes turns with one that
-- queues 1 afterwards instead of running first, and each project's jobs keep their order.
-- KEYS[1] wait zset   KEYS[2] events stream   KEYS[3] marker list   KEYS[4] held zset
-- KEYS[5] turn (string: the last leased turn; each project's next turn is 'turn:p<project>')
-- ARGV[1] key prefix ("aq:{queue}:")   ARGV[2] n
--   then n groups of 9: id, priority (1..4), max attempts, backoff base ms, project, task, payload,
--   W3C traceparent ('' for none; kept with the job and written on its events), held ('1' or '')
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
  local key = turnKey .. ARGV[3 + i * 9 + 4]
  if not seen[key] then
    seen[key] = true
    keys[#keys + 1] = key
  end
end
local stored = redis.call('MGET', unpack(keys))
local nowTurn = tonumber(stored[1]) or 0
local nextTurn = {}
for i = 2, #keys do nextTurn[keys[i]] = math.max(tonumber(stored[i]) or 0, nowTurn) end
local taken = {}
local function turnOf(project)
  local key = turnKey .. project
  local turn = nextTurn[key]
  nextTurn[key] = turn + 1
  taken[key] = true
  return turn
end
local added = {}
local scores = {}
for i = 0, n - 1 do
  local b = 3 + i * 9
  local id = ARGV[b]
  local key = prefix .. 'job:' .. id
  if redis.call('HEXISTS', key, 'state') == 1 then
    added[i + 1] = 0
  elseif ARGV[b + 8] == '1' then
    -- its turn is kept for the wait score it gets once approved
    redis.call('HSET', key, 'data', ARGV[b + 6], 'prio', ARGV[b + 1], 'order', turnOf(ARGV[b + 4]),
      'state', 'awaiting_approval', 'project', ARGV[b + 4], 'task', ARGV[b + 5],
      'max', ARGV[b + 2], 'backoff', ARGV[b + 3], 'queued_at', now)
    if ARGV[b + 7] ~= '' then redis.call('HSET', key, 'trace', ARGV[b + 7]) end
    redis.call('ZADD', KEYS[4], now, id)
    redis.call('XADD', KEYS[2], '*', 'event', 'agent_job_awaiting_approval', 'job', id,
      'project', ARGV[b + 4], 'task', ARGV[b + 5], 'during_run', '0')
    added[i + 1] = 1
  else
    local prio = tonumber(ARGV[b + 1])
    local order = turnOf(ARGV[b + 4])
    redis.call('HSET', key, 'data', ARGV[b + 6], 'prio', prio, 'order', order,
      'state', 'waiting', 'project', ARGV[b + 4], 'task', ARGV[b + 5], 'max', ARGV[b + 2],
      'backoff', ARGV[b + 3], 'queued_at', now)
    -- priority first, then turn (ties: the older job id); both fit the 14 digits Redis keeps of
    -- a Lua number
    scores[#scores + 1] = prio * 1e12 + order
    scores[#scores + 1] = id
    local trace = ARGV[b + 7]
    if trace ~= '' then
      redis.call('HSET', key, 'trace', trace)
      redis.call('XADD', KEYS[2], '*', 'event', 'agent_job_queued', 'job', id,
        'project', ARGV[b + 4], 'task', ARGV[b + 5], 'priority', prio, 'reason', 'new',
        'trace', trace)
    else
      redis.call('XADD', KEYS[2], '*', 'event', 'agent_job_queued', 'job', id,
        'project', ARGV[b + 4], 'task', ARGV[b + 5], 'priority', prio, 'reason', 'new')
    end
    added[i + 1] = 1
  end
end
local turns = {}
for key in pairs(taken) do
  turns[#turns + 1] = key
  turns[#turns + 1] = nextTurn[key]
end
if #turns > 0 then redis.call('MSET', unpack(turns)) end
if #scores > 0 then
  redis.call('ZADD', KEYS[1], unpack(scores))
  if redis.call('LLEN', KEYS[3]) == 0 then
    redis.call('LPUSH', KEYS[3], '1')
  end
end
return added
