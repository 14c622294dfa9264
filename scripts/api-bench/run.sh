#!/usr/bin/env bash
# `just bench api`: the api-gateway under wrk (-t2 -c64, 5 s warm-up, 20 s measured; fresh server
# and database each) on SQLite and MariaDB, each run followed by one of the Express replica of the
# seed (../shared/anchors/express-seed) the same way; 3 such runs, then the ratios. FLUSHALLs the
# local Redis.
# Tuning runs: RUNS, DURATION, BACKENDS="mariadb", ENDPOINTS="post", SKIP_REFERENCE=1.
set -euo pipefail
cd "$(dirname "$0")/../.."
anchors="${AGENTQ_ANCHORS:-../shared/anchors}"
out=target/bench
runs="${RUNS:-3}"
duration="${DURATION:-20}"
mkdir -p "$out/api-runs"
rm -f "$out"/api-runs/*.json

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }
bin=$(scripts/release-bins.sh)/api-gateway
addr=127.0.0.1:18080
base="http://$addr"

export AGENTQ_JWT_SECRET="bench-secret-bench-secret-bench-secret"
export AGENTQ_SECRET_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
export AGENTQ_API_ADDR="$addr"
# the request names an MCP server on loopback (post.lua), which agentq refuses unless listed
export AGENTQ_AGENT_HOSTS="127.0.0.1"
export RUST_LOG=warn

fresh_database() {
    case "$1" in
        sqlite)
            rm -f target/bench/api-bench.db*
            echo "sqlite://$PWD/target/bench/api-bench.db?mode=rwc" ;;
        mariadb)
            mysql -uroot -e "DROP DATABASE IF EXISTS agentq_bench; CREATE DATABASE agentq_bench"
            echo "mysql://root@127.0.0.1:3306/agentq_bench" ;;
    esac
}

# one run: fresh database and server, the seed's 100 tasks and 10 agents, then wrk on `endpoint`
one_run() {
    local backend=$1 endpoint=$2 run=$3
    redis-cli FLUSHALL >/dev/null
    export DATABASE_URL
    DATABASE_URL=$(fresh_database "$backend")
    "$bin" migrate >/dev/null
    printf 'bench password\n' | "$bin" user create --email bench@example.com --password-stdin --admin >/dev/null
    local token
    token=$("$bin" token --email bench@example.com --ttl 2h)
    "$bin" serve & local pid=$!
    for _ in $(seq 100); do curl -sf "$base/healthz" >/dev/null && break; sleep 0.1; done
    local auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/json")
    curl -sf "${auth[@]}" -d '{"name":"bench"}' "$base/api/projects" >/dev/null
    for i in $(seq 100); do
        curl -sf "${auth[@]}" -d "{\"code\":\"T-$i\",\"title\":\"task $i\"}" "$base/api/projects/1/tasks" >/dev/null
    done
    for i in $(seq 10); do
        curl -sf "${auth[@]}" -d "{\"name\":\"agent-$i\",\"kind\":\"command\",\"command\":[\"true\"]}" "$base/api/agents" >/dev/null
    done
    local script=scripts/api-bench/post.lua
    if [ "$endpoint" = get ]; then
        script=scripts/api-bench/get.lua
        # 1,000 jobs to read, made through the API
        for i in $(seq 1000); do
            curl -sf "${auth[@]}" -d "{\"taskId\":$(( i % 100 + 1 )),\"agentId\":$(( i % 10 + 1 ))}" "$base/api/agent-execution/queue"
            echo
        done | sed -n 's/.*"jobId":"\([^"]*\)".*/\1/p' > "$out/api-bench-ids.txt"
    fi
    local url="$base/api/agent-execution/queue"
    [ "$endpoint" = get ] && url="$base"
    TOKEN=$token IDS="$out/api-bench-ids.txt" wrk -t2 -c64 -d5s -s "$script" "$url" >/dev/null
    local result
    result=$(TOKEN=$token IDS="$out/api-bench-ids.txt" wrk -t2 -c64 -d"${duration}s" --latency -s "$script" "$url" \
        | sed -n 's/^RESULT_JSON //p')
    local rss_kb
    rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    kill -TERM "$pid"; wait "$pid" || true
    echo "{\"backend\":\"$backend\",\"endpoint\":\"$endpoint\",\"run\":$run,\"rss_mib\":$(( rss_kb / 1024 )),\"wrk\":$result}" \
        | tee "$out/api-runs/$backend-$endpoint-$run.json"
}

express_ready() {
    if [ ! -d "$out/express-seed/node_modules" ]; then
        rm -rf "$out/express-seed"
        cp -r "$anchors/express-seed" "$out/express-seed"
        chmod -R u+w "$out/express-seed"
        (cd "$out/express-seed" && npm ci --no-audit --no-fund)
    fi
}

# interleaved: each run measures agentq, then the Express replica, so that the host drifting
# between runs moves both sides of a pair alike; ratios are the median of the pairs' ratios
[ -n "${SKIP_REFERENCE:-}" ] || express_ready
rm -f "$out"/api-express-*.json
for run in $(seq "$runs"); do
    for backend in ${BACKENDS:-sqlite mariadb}; do
        for endpoint in ${ENDPOINTS:-post get}; do
            one_run "$backend" "$endpoint" "$run"
        done
    done
    if [ -z "${SKIP_REFERENCE:-}" ]; then
        echo "== run $run/$runs: Express replica of the seed ($anchors/express-seed)"
        rm -rf "$out/express-seed/results"
        (cd "$out/express-seed" && mysql -uroot < schema.sql && node bench.js --runs=1 --duration="$duration")
        cp "$(ls -t "$out"/express-seed/results/*.json | head -n 1)" "$out/api-express-$run.json"
    fi
done

if [ -n "${SKIP_REFERENCE:-}" ]; then
    exit 0  # tuning runs: ours only, no ratio is claimed from them
fi
python3 scripts/api-bench/summarize.py "$out/api-runs" "$out" "$out/api.json"
