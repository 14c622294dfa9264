-- wrk script: GET /api/agent-execution/jobs/{id} for random ids from the file in env IDS (one
-- job id per line, made by the bench before the run), with a Bearer JWT (env TOKEN).
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("TOKEN") or "")

local ids = {}
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  non2xx = 0
  math.randomseed(12345 + tid)
end

function request()
  return wrk.format(nil, "/api/agent-execution/jobs/" .. ids[math.random(1, #ids)])
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
