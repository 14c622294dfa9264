#!/usr/bin/env bash
# `just bench [all|queue|api|ws|worker]`: agentq's benchmarks next to their references from
# ../shared/anchors, run back to back in one command so that every figure is a ratio from the
# same machine state. Both FLUSHALL the Redis at REDIS_URL (default 127.0.0.1:6379).
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
anchors="${AGENTQ_ANCHORS:-../shared/anchors}"
out=target/bench
mkdir -p "$out"

bench_queue() {
    local release
    release=$(scripts/release-bins.sh)
    echo "== agentq queue (3 runs each)"
    "$release/queue-bench" run --runs 3 --out "$out/queue.json"

    echo "== BullMQ reference ($anchors/bullmq-core, 3 runs each)"
    rm -rf "$out/bullmq-core/results"
    if [ ! -d "$out/bullmq-core/node_modules" ]; then
        rm -rf "$out/bullmq-core"
        cp -r "$anchors/bullmq-core" "$out/bullmq-core"
        chmod -R u+w "$out/bullmq-core"
        (cd "$out/bullmq-core" && npm ci --no-audit --no-fund)
    fi
    (cd "$out/bullmq-core" && node bench.js --runs=3)
    local bullmq
    bullmq=$(ls -t "$out"/bullmq-core/results/*.json | head -n 1)
    cp "$bullmq" "$out/bullmq.json"

    echo "== BullMQ's Redis CPU per drained job (scripts/bullmq-redis-cpu.js, 3 runs each)"
    NODE_PATH="$out/bullmq-core/node_modules" node scripts/bullmq-redis-cpu.js "$out/bullmq-redis-cpu.json"

    echo "== agentq vs BullMQ (medians of this run)"
    "$release/queue-bench" compare "$out/queue.json" "$out/bullmq.json" "$out/bullmq-redis-cpu.json"
}

case "$which" in
    all) bench_queue; scripts/api-bench/run.sh; scripts/ws-bench/run.sh; scripts/worker-bench/run.sh ;;
    queue) bench_queue ;;
    api) scripts/api-bench/run.sh ;;
    ws) scripts/ws-bench/run.sh ;;
    worker) scripts/worker-bench/run.sh ;;
    *) echo "unknown benchmark '$which' (known: queue, api, ws, worker)" >&2; exit 2 ;;
esac
