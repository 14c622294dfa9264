-- trim_events: drop events the SQL recorder has acknowledged and that are older than the
-- replay window; past the hard cap, drop the oldest even if unrecorded, and count them.
-- KEYS[1] events stream   KEYS[2] stats hash
-- ARGV[1] recorder group   ARGV[2] replay window ms   ARGV[3] hard cap (entries)
-- Returns: { entries trimmed behind the recorder, entries dropped by the hard cap }
if redis.call('EXISTS', KEYS[1]) == 0 then return { 0, 0 } end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function older(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local t = redis.call('TIME')
local floor = (t[1] * 1000 + math.floor(t[2] / 1000) - tonumber(ARGV[2])) .. '-0'
local acked = nil
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #g, 2 do info[g[i]] = g[i + 1] end
  if info['name'] == ARGV[1] then
    if tonumber(info['pending']) > 0 then
      acked = redis.call('XPENDING', KEYS[1], ARGV[1])[2]
    else
      acked = info['last-delivered-id']
    end
  end
end
local trimmed = 0
-- with no recorder group nothing counts as recorded: only the hard cap applies
if acked then
  local minId = older(acked, floor) and acked or floor
  trimmed = redis.call('XTRIM', KEYS[1], 'MINID', minId)
end
local capped = 0
if redis.call('XLEN', KEYS[1]) > tonumber(ARGV[3]) then
  capped = redis.call('XTRIM', KEYS[1], 'MAXLEN', tonumber(ARGV[3]))
  redis.call('HINCRBY', KEYS[2], 'events_capped', capped)
end
return { trimmed, capped }
