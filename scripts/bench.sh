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

# one Redis node with a replica of its own on loopback (ports 7300, 7301), the like of a
# cluster whose masters have replicas; `stop` shuts both down
node_with_replica() {
    local dir="${TMPDIR:-/tmp}/agentq-redis-node-with-replica"
    redis-cli -p 7301 shutdown nosave >/dev/null 2>&1 || true
    redis-cli -p 7300 shutdown nosave >/dev/null 2>&1 || true
    rm -rf "$dir"
    [ "$1" = stop ] && return
    mkdir -p "$dir/7300" "$dir/7301"
    redis-server --port 7300 --bind 127.0.0.1 --daemonize yes --dir "$dir/7300" --save "" \
        --appendonly no --logfile "$dir/7300/redis.log" >/dev/null
    redis-server --port 7301 --bind 127.0.0.1 --daemonize yes --dir "$dir/7301" --save "" \
        --appendonly no --logfile "$dir/7301/redis.log" --replicaof 127.0.0.1 7300 >/dev/null
    for _ in $(seq 100); do
        redis-cli -p 7300 info replication 2>/dev/null | grep -q 'state=online' && return
        sleep 0.1
    done
    echo "the replica on port 7301 did not come online" >&2
    return 1
}

# one Redis node vs a Redis Cluster of 3 masters on loopback, the queue in 12 partitions
# there, compared like with like: the cluster without replicas (ports 7200-7202) with the one
# node at REDIS_URL, the cluster with a replica per master (ports 7100-7105) with one node
# that has a replica (7300, 7301). Enqueue and drain, interleaved.
bench_cluster() {
    local release runs="${RUNS:-3}" quadruples=() cluster bare scenarios
    scenarios=enqueue_batch,enqueue_single,drain_c50
    release=$(scripts/release-bins.sh)
    scripts/redis-cluster.sh start 7100 1
    scripts/redis-cluster.sh start 7200 0
    node_with_replica start
    cluster=$(scripts/redis-cluster.sh url 7100 1)
    bare=$(scripts/redis-cluster.sh url 7200 0)
    for run in $(seq "$runs"); do
        echo "== run $run/$runs: one node ($REDIS_URL)"
        AGENTQ_PARTITIONS=1 "$release/queue-bench" run --runs 1 --only "$scenarios" \
            --out "$out/cluster-one-node-$run.json"
        echo "== run $run/$runs: cluster without replicas ($bare), 12 partitions"
        REDIS_URL="$bare" AGENTQ_PARTITIONS=12 "$release/queue-bench" run --runs 1 \
            --only "$scenarios" --out "$out/cluster-12-bare-$run.json"
        echo "== run $run/$runs: one node with a replica (redis://127.0.0.1:7300)"
        REDIS_URL=redis://127.0.0.1:7300 AGENTQ_PARTITIONS=1 "$release/queue-bench" run --runs 1 \
            --only "$scenarios" --out "$out/cluster-one-node-replicated-$run.json"
        echo "== run $run/$runs: cluster with replicas ($cluster), 12 partitions"
        REDIS_URL="$cluster" AGENTQ_PARTITIONS=12 "$release/queue-bench" run --runs 1 \
            --only "$scenarios" --out "$out/cluster-12-$run.json"
        quadruples+=("$out/cluster-one-node-$run.json" "$out/cluster-12-bare-$run.json"
            "$out/cluster-one-node-replicated-$run.json" "$out/cluster-12-$run.json")
    done
    scripts/redis-cluster.sh stop 7100 1
    scripts/redis-cluster.sh stop 7200 0
    node_with_replica stop
    "$release/queue-bench" cluster-compare "${quadruples[@]}"
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
