#!/usr/bin/env bash
# `just bench [all|queue|api|ws|worker|dashboard|cluster]`: agentq's benchmarks next to their references from
# ../shared/anchors, run back to back in one command so that every figure is a ratio from the
# same machine state. Both FLUSHALL the Redis at REDIS_URL (default 127.0.0.1:6379).
set -euo pipefail
cd "$(dirname "$0")/.."
which="${1:-all}"
anchors="${AGENTQ_ANCHORS:-../shared/anchors}"
out=target/bench
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
mkdir -p "$out"

# ours, theirs, ours, theirs…: the host drifts by tens of percent within minutes, so each of
# our runs is compared with the reference run next to it, and the table shows the median of
# those ratios
bench_queue() {
    local release runs="${RUNS:-3}" triples=()
    release=$(scripts/release-bins.sh)
    if [ ! -d "$out/bullmq-core/node_modules" ]; then
        rm -rf "$out/bullmq-core"
        cp -r "$anchors/bullmq-core" "$out/bullmq-core"
        chmod -R u+w "$out/bullmq-core"
        (cd "$out/bullmq-core" && npm ci --no-audit --no-fund)
    fi
    for run in $(seq "$runs"); do
        echo "== run $run/$runs: agentq queue"
        "$release/queue-bench" run --runs 1 --out "$out/queue-$run.json"
        echo "== run $run/$runs: BullMQ reference ($anchors/bullmq-core)"
        rm -rf "$out/bullmq-core/results"
        (cd "$out/bullmq-core" && node bench.js --runs=1)
        cp "$(ls -t "$out"/bullmq-core/results/*.json | head -n 1)" "$out/bullmq-$run.json"
        echo "== run $run/$runs: BullMQ's Redis CPU per drained job (scripts/bullmq-redis-cpu.js)"
        RUNS=1 NODE_PATH="$out/bullmq-core/node_modules" node scripts/bullmq-redis-cpu.js "$out/bullmq-redis-cpu-$run.json"
        triples+=("$out/queue-$run.json" "$out/bullmq-$run.json" "$out/bullmq-redis-cpu-$run.json")
    done
    echo "== agentq vs BullMQ ($runs interleaved runs)"
    "$release/queue-bench" compare "${triples[@]}"
}

# the dashboard's first load with 10,000 jobs, in headless Chromium (no reference: the Node
# system's dashboard is not in the anchors)
bench_dashboard() {
    local release
    release=$(scripts/release-bins.sh)
    node scripts/dashboard-bench.js --bin="$release" --jobs="${JOBS:-10000}" --loads="${LOADS:-5}" \
        --out="$out/dashboard.json"
}

# one Redis node vs a Redis Cluster of 3 masters and 3 replicas on loopback (its own, on ports
# 7100-7105), the queue in 12 partitions there, and the same cluster without replicas (ports
# 7200-7202: what replication costs): enqueue and drain, interleaved
bench_cluster() {
    local release runs="${RUNS:-3}" triples=() cluster bare
    release=$(scripts/release-bins.sh)
    scripts/redis-cluster.sh start 7100 1
    scripts/redis-cluster.sh start 7200 0
    cluster=$(scripts/redis-cluster.sh url 7100 1)
    bare=$(scripts/redis-cluster.sh url 7200 0)
    for run in $(seq "$runs"); do
        echo "== run $run/$runs: one node ($REDIS_URL)"
        AGENTQ_PARTITIONS=1 "$release/queue-bench" run --runs 1 --only enqueue_single,drain_c50 \
            --out "$out/cluster-one-node-$run.json"
        echo "== run $run/$runs: cluster with replicas ($cluster), 12 partitions"
        REDIS_URL="$cluster" AGENTQ_PARTITIONS=12 "$release/queue-bench" run --runs 1 \
            --only enqueue_single,drain_c50 --out "$out/cluster-12-$run.json"
        echo "== run $run/$runs: cluster without replicas ($bare), 12 partitions"
        REDIS_URL="$bare" AGENTQ_PARTITIONS=12 "$release/queue-bench" run --runs 1 \
            --only enqueue_single,drain_c50 --out "$out/cluster-12-bare-$run.json"
        triples+=("$out/cluster-one-node-$run.json" "$out/cluster-12-$run.json" "$out/cluster-12-bare-$run.json")
    done
    scripts/redis-cluster.sh stop 7100 1
    scripts/redis-cluster.sh stop 7200 0
    "$release/queue-bench" cluster-compare "${triples[@]}"
}

case "$which" in
    all) bench_queue; scripts/api-bench/run.sh; scripts/ws-bench/run.sh; scripts/worker-bench/run.sh; bench_dashboard; bench_cluster ;;
    queue) bench_queue ;;
    api) scripts/api-bench/run.sh ;;
    ws) scripts/ws-bench/run.sh ;;
    worker) scripts/worker-bench/run.sh ;;
    dashboard) bench_dashboard ;;
    cluster) bench_cluster ;;
    *) echo "unknown benchmark '$which' (known: queue, api, ws, worker, dashboard, cluster)" >&2; exit 2 ;;
esac
