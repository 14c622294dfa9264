#!/usr/bin/env bash
# `just up`: the whole stack on this machine. Builds in release, makes sure a Redis answers
# (starting one on a free port if needed), uses SQLite under ./data unless DATABASE_URL is set,
# migrates, creates the admin and a demo project, task and agent on the first run, then runs
# one api-gateway, two queue-workers, one events-broadcaster and agentq-mcp (MCP over streamable
# HTTP) with prefixed logs until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data

release=$(scripts/release-bins.sh)
gateway=$release/api-gateway
worker=$release/queue-worker
broadcaster=$release/events-broadcaster
mcp=$release/agentq-mcp

pids=()
stop() {
    echo
    echo "stopping..."
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    wait || true
    exit 0
}
trap stop INT TERM

export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
if ! redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1; then
    if ! command -v redis-server >/dev/null; then
        echo "No Redis answers at $REDIS_URL and redis-server is not installed."
        echo "Install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)"
        echo "or set REDIS_URL to a Redis you have, then run 'just up' again."
        exit 1
    fi
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir data >/dev/null &
    pids+=($!)
    export REDIS_URL="redis://127.0.0.1:$port"
    for _ in $(seq 50); do redis-cli -u "$REDIS_URL" ping >/dev/null 2>&1 && break; sleep 0.1; done
    echo "started redis-server at $REDIS_URL"
fi

export AGENTQ_ENV="${AGENTQ_ENV:-development}"
export DATABASE_URL="${DATABASE_URL:-sqlite://./data/agentq.db?mode=rwc}"
export AGENTQ_API_ADDR="${AGENTQ_API_ADDR:-127.0.0.1:8080}"
export AGENTQ_WS_ADDR="${AGENTQ_WS_ADDR:-127.0.0.1:8081}"
mcp_addr="${AGENTQ_MCP_ADDR:-127.0.0.1:8082}"
# the dashboard (served by the gateway) takes its live updates from the broadcaster, which
# must allow the dashboard's origin
export AGENTQ_EVENTS_URL="${AGENTQ_EVENTS_URL:-ws://$AGENTQ_WS_ADDR/ws}"
export AGENTQ_ALLOWED_ORIGINS="${AGENTQ_ALLOWED_ORIGINS:-http://$AGENTQ_API_ADDR,http://localhost:${AGENTQ_API_ADDR##*:}}"
admin_email="${AGENTQ_ADMIN_EMAIL:-admin@agentq.local}"

"$gateway" migrate >/dev/null
if ! "$gateway" token --email "$admin_email" >/dev/null 2>&1; then
    password="${AGENTQ_ADMIN_PASSWORD:-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')}"
    printf '%s\n' "$password" | "$gateway" user create --email "$admin_email" --password-stdin --admin >/dev/null
    echo "created admin $admin_email"
    [ -z "${AGENTQ_ADMIN_PASSWORD:-}" ] && echo "its password (shown once): $password"
fi
shown_password="${password:-${AGENTQ_ADMIN_PASSWORD:-<the admin password>}}"
token=$("$gateway" token --email "$admin_email" --ttl 12h)

# process substitution keeps $! the service's own pid, so Ctrl-C reaches the service itself
"$gateway" serve > >(sed -u 's/^/[api-gateway] /') 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://$AGENTQ_API_ADDR/healthz" >/dev/null && break; sleep 0.1; done
for n in 1 2; do
    AGENTQ_WORKER_ID="worker-$n" AGENTQ_WORKER_METRICS_ADDR="127.0.0.1:909$n" \
        "$worker" > >(sed -u "s/^/[queue-worker-$n] /") 2>&1 &
    pids+=($!)
done
"$broadcaster" > >(sed -u 's/^/[events-broadcaster] /') 2>&1 &
pids+=($!)
AGENTQ_API_URL="http://$AGENTQ_API_ADDR" AGENTQ_WS_URL="ws://$AGENTQ_WS_ADDR/ws" \
    "$mcp" --http "$mcp_addr" > >(sed -u 's/^/[agentq-mcp] /') 2>&1 &
pids+=($!)

api="http://$AGENTQ_API_ADDR/api"
auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/json")
if curl -sf "${auth[@]}" "$api/projects" | grep -q '"data":\[\]'; then
    curl -sf "${auth[@]}" -d '{"name":"Demo"}' "$api/projects" >/dev/null
    curl -sf "${auth[@]}" -d '{"code":"DEMO-1","title":"Say hello"}' "$api/projects/1/tasks" >/dev/null
    curl -sf "${auth[@]}" -d '{"name":"demo-agent","kind":"command","command":["sh","-c","for p in 25 50 75 100; do echo \"{\\\"progress\\\": $p}\"; echo working $p; sleep 1; done; echo \"{\\\"result\\\": {\\\"greeting\\\": \\\"hello\\\"}}\""]}' "$api/agents" >/dev/null
    echo "created the demo project (1), task DEMO-1 (1) and agent demo-agent (1)"
fi

cat <<INFO

agentq is up.
  Dashboard: http://$AGENTQ_API_ADDR/  (log in as $admin_email / $shown_password)
  API docs:  http://$AGENTQ_API_ADDR/docs
  API:       http://$AGENTQ_API_ADDR  (health: /healthz, readiness: /readyz, metrics: /metrics)
  Events:    ws://$AGENTQ_WS_ADDR/ws  (send {"type":"subscribe","room":"notifications"}; health: /healthz)
  Socket.IO: http://$AGENTQ_WS_ADDR  (socket.io-client with auth: {token}; README "Events over Socket.IO")
  Workers:   metrics at http://127.0.0.1:9091/metrics and http://127.0.0.1:9092/metrics
  Redis:     $REDIS_URL
  Database:  $DATABASE_URL

Log in and queue a job:
  TOKEN=\$(curl -s -H 'Content-Type: application/json' \\
       -d '{"email":"$admin_email","password":"$shown_password"}' \\
       http://$AGENTQ_API_ADDR/api/auth/login | sed -E 's/.*"token":"([^"]+)".*/\\1/')
  curl -s -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' \\
       -d '{"taskId":1,"agentId":1}' http://$AGENTQ_API_ADDR/api/agent-execution/queue
  curl -s -H "Authorization: Bearer \$TOKEN" http://$AGENTQ_API_ADDR/api/agent-execution/jobs
(or skip the login with this token for $admin_email, valid 12 h: TOKEN=$token)

Watch its events (any WebSocket client, e.g. websocat):
  websocat "ws://$AGENTQ_WS_ADDR/ws?token=\$TOKEN"   then send {"type":"subscribe","room":"notifications"}

Drive agents from an AI assistant (MCP):
  streamable HTTP: http://$mcp_addr/mcp   with the header  Authorization: Bearer \$TOKEN
  stdio (what desktop assistants launch), e.g. in an assistant's mcpServers configuration:
    {"agentq": {"command": "$mcp", "env": {"AGENTQ_API_URL": "http://$AGENTQ_API_ADDR",
      "AGENTQ_WS_URL": "ws://$AGENTQ_WS_ADDR/ws", "AGENTQ_TOKEN": "$token"}}}

Ctrl-C stops everything.
INFO
wait
