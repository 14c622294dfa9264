-- wrk script: POST /api/agent-execution/queue with the reference's seed-shaped body and a Bearer JWT
-- (env TOKEN); task ids 1..100 and agent ids 1..10 exist, as in the reference's database.
-- The reference's replica accepts `memoryIds` as strings and MCP configs as {name, command,
-- args}; the seed's schema (which agentq enforces) wants integers and {serverName, serverUrl,
-- authType, enabled}, so this body is the same request in the seed's shape.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("TOKEN") or "")

local prios = { "critical", "high", "medium", "low" }
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  counter = tid * 1000003
end

function request()
  counter = counter + 1
  local body = string.format(
    '{"taskId":%d,"agentId":%d,"metadata":{"priority":"%s","estimatedHours":4,"retryCount":0},' ..
    '"context":{"dependencies":[1,2,3],"relatedTasks":[4,5],"memoryIds":[6,7]},' ..
    '"mcpConfigs":[{"serverName":"filesystem","serverUrl":"http://127.0.0.1:9/mcp","authType":"none","enabled":true}]}',
    (counter % 100) + 1, (counter % 10) + 1, prios[(counter % 4) + 1])
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("non2xx") end
  local e = summary.errors
  io.write(string.format(
    "RESULT_JSON {\"requests\":%d,\"rps\":%.2f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"non2xx\":%d,\"errors\":%d}\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, n,
    e.connect + e.read + e.write + e.timeout))
end
