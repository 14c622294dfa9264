#!/usr/bin/env bash
# A Redis Cluster on loopback for tests and benchmarks: 3 masters, each with one replica
# (or as many as the third argument says), of `redis-server --cluster-enabled yes`, created
# with `redis-cli --cluster create`.
#
#   scripts/redis-cluster.sh start [base port] [replicas]  start it (nothing to do if it answers)
#   scripts/redis-cluster.sh url [base port] [replicas]    print its REDIS_URL
#   scripts/redis-cluster.sh stop [base port] [replicas]   shut it down
#
# Nodes listen on base, base+1, … (default 7000); their files live under $TMPDIR.
set -euo pipefail

command=${1:-start}
base=${2:-${AGENTQ_CLUSTER_BASE_PORT:-7000}}
replicas=${3:-1}
ports=$(seq "$base" $((base + 3 * (1 + replicas) - 1)))
dir="${TMPDIR:-/tmp}/agentq-redis-cluster-$base"

url() {
    local seeds=""
    for port in $ports; do seeds="$seeds,127.0.0.1:$port"; done
    echo "redis+cluster://${seeds#,}"
}

# every node sees the whole cluster, and every replica holds its master's data: one still
# loading it is no replica yet (its master does not list it, so workers would not wait for it)
healthy() {
    local replication
    for port in $ports; do
        redis-cli -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
        replication=$(redis-cli -p "$port" info replication 2>/dev/null) || return 1
        if grep -q '^role:slave' <<<"$replication"; then
            grep -q '^master_link_status:up' <<<"$replication" || return 1
        fi
    done
}

case "$command" in
url)
    url
    ;;
stop)
    for port in $ports; do redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
    rm -rf "$dir"
    ;;
start)
    if healthy; then
        exit 0
    fi
    # a half-started cluster from before is thrown away, not repaired
    for port in $ports; do redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true; done
    rm -rf "$dir"
    mkdir -p "$dir"
    for port in $ports; do
        mkdir -p "$dir/$port"
        redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --dir "$dir/$port" \
            --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
            --save "" --appendonly no --logfile "$dir/$port/redis.log" >/dev/null
    done
    for port in $ports; do
        for _ in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done
    done
    nodes=""
    for port in $ports; do nodes="$nodes 127.0.0.1:$port"; done
    # shellcheck disable=SC2086
    redis-cli --cluster create $nodes --cluster-replicas "$replicas" --cluster-yes >"$dir/create.log"
    for _ in $(seq 200); do
        healthy && exit 0
        sleep 0.1
    done
    echo "the cluster at $base did not come up; see $dir" >&2
    exit 1
    ;;
*)
    echo "usage: $0 start|url|stop [base port]" >&2
    exit 2
    ;;
esac
