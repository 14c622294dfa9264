#!/usr/bin/env bash
# `just bench worker`: jobs/s end to end. Through the API, JOBS (2,000) jobs are queued while the
# workers are paused (SIGSTOP), then the workers go on and the clock runs until every row reads
# `completed` in SQL (the recorder's write included). Two executors: a no-op command agent
# (`true`: a real process spawn per job) and none at all (AGENTQ_BENCH_SKIP_AGENTS=1: the
# pipeline alone). For 1 and 2 worker processes (AGENTQ_CONCURRENCY, default 5 each), on SQLite
# and MariaDB; RUNS (3) runs each, medians; also the workers' RSS idle and under load.
# FLUSHALLs the local Redis.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${RUNS:-3}"
jobs="${JOBS:-2000}"
out=target/bench/worker
mkdir -p "$out"
release=$(scripts/release-bins.sh)
gateway=$release/api-gateway
worker=$release/queue-worker
addr=127.0.0.1:18090
export AGENTQ_JWT_SECRET="bench-secret-bench-secret-bench-secret"
export AGENTQ_SECRET_KEY="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
export AGENTQ_API_ADDR="$addr" RUST_LOG=warn AGENTQ_WORKER_METRICS_ADDR=off

fresh_database() {
    case "$1" in
        sqlite)
            rm -f "$out"/bench.db*
            echo "sqlite://$PWD/$out/bench.db?mode=rwc" ;;
        mariadb)
            mysql -uroot -e "DROP DATABASE IF EXISTS agentq_worker_bench; CREATE DATABASE agentq_worker_bench"
            echo "mysql://root@127.0.0.1:3306/agentq_worker_bench" ;;
    esac
}

completed_rows() {
    local sql="SELECT COUNT(*) FROM agent_jobs WHERE status = 'completed'"
    case "$1" in
        sqlite) sqlite3 "$out/bench.db" "$sql" ;;
        mariadb) mysql -uroot -N agentq_worker_bench -e "$sql" ;;
    esac
}

rss_mib() { awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

results="$out/results.jsonl"
: > "$results"
for executor in command none; do
for backend in sqlite mariadb; do
    for workers in 1 2; do
        for run in $(seq "$runs"); do
            redis-cli FLUSHALL >/dev/null
            export DATABASE_URL
            DATABASE_URL=$(fresh_database "$backend")
            "$gateway" migrate >/dev/null
            printf 'bench password\n' | "$gateway" user create --email bench@example.com --password-stdin --admin >/dev/null
            token=$("$gateway" token --email bench@example.com --ttl 2h)
            "$gateway" serve & gateway_pid=$!
            for _ in $(seq 100); do curl -sf "http://$addr/healthz" >/dev/null && break; sleep 0.1; done
            auth=(-H "Authorization: Bearer $token" -H "Content-Type: application/json")
            curl -sf "${auth[@]}" -d '{"name":"bench"}' "http://$addr/api/projects" >/dev/null
            curl -sf "${auth[@]}" -d '{"code":"T-1","title":"bench"}' "http://$addr/api/projects/1/tasks" >/dev/null
            curl -sf "${auth[@]}" -d '{"name":"noop","kind":"command","command":["true"]}' "http://$addr/api/agents" >/dev/null

            pids=()
            for n in $(seq "$workers"); do
                skip=0; [ "$executor" = none ] && skip=1
                AGENTQ_BENCH_SKIP_AGENTS=$skip AGENTQ_WORKER_ID="bench-$n" "$worker" & pids+=($!)
            done
            sleep 2
            idle=$(rss_mib "${pids[0]}")
            kill -STOP "${pids[@]}"
            python3 scripts/worker-bench/post_jobs.py 127.0.0.1 18090 "$token" "$jobs"
            start=$(date +%s.%N)
            kill -CONT "${pids[@]}"
            peak=0
            while [ "$(completed_rows "$backend")" -lt "$jobs" ]; do
                now=$(rss_mib "${pids[0]}")
                peak=$(python3 -c "print(max($peak, $now))")
                sleep 0.05
            done
            elapsed=$(python3 -c "print($(date +%s.%N) - $start)")
            rate=$(python3 -c "print(round($jobs / $elapsed, 1))")
            echo "{\"executor\":\"$executor\",\"backend\":\"$backend\",\"workers\":$workers,\"run\":$run,\"jobs\":$jobs,\"seconds\":$elapsed,\"jobs_per_s\":$rate,\"rss_idle_mib\":$idle,\"rss_load_mib\":$peak}" | tee -a "$results"
            kill -TERM "${pids[@]}" "$gateway_pid"
            wait "${pids[@]}" "$gateway_pid" 2>/dev/null || true
        done
    done
done
done

python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("executor | backend | workers | jobs/s (median) | worker RSS idle / under load (MiB)")
summary = {}
for executor in ("command", "none"):
    for backend in ("sqlite", "mariadb"):
        for workers in (1, 2):
            mine = [r for r in rows if r["executor"] == executor and r["backend"] == backend
                    and r["workers"] == workers]
            if not mine:
                continue
            med = lambda k: statistics.median(r[k] for r in mine)
            key = f"{executor}-{backend}-{workers}"
            summary[key] = {k: med(k) for k in ("jobs_per_s", "rss_idle_mib", "rss_load_mib")}
            s = summary[key]
            print(f"{executor} | {backend} | {workers} | {s['jobs_per_s']} | "
                  f"{s['rss_idle_mib']} / {s['rss_load_mib']}")
json.dump(summary, open("target/bench/worker.json", "w"), indent=2)
PY
