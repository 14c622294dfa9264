#!/usr/bin/env bash
# `just bench ws`: the events-broadcaster against the Socket.IO 4.8 anchor
# (../shared/anchors/socketio-fanout), the same scenarios back to back: 1,000 subscribers at
# 100 events/s, 5,000 and 10,000 at 10 events/s (20 s each), and the idle RSS with 10,000
# connected. RUNS (3) runs of ours; SKIP_REFERENCE=1 leaves the anchor out.
set -euo pipefail
cd "$(dirname "$0")/../.."
anchors="${AGENTQ_ANCHORS:-../shared/anchors}"
runs="${RUNS:-3}"
seconds="${SECONDS_PER_RUN:-20}"
out=target/bench/ws
mkdir -p "$out"
rm -f "$out"/ours-*.json
ulimit -n 20000

release=$(scripts/release-bins.sh)
echo "== agentq events-broadcaster ($runs runs per scenario, ${seconds}s each)"
for run in $(seq "$runs"); do
    "$release/ws-bench" 1000 --rate 100 --seconds "$seconds" --out "$out/ours-100-$run.json"
    "$release/ws-bench" 5000,10000 --rate 10 --seconds "$seconds" --out "$out/ours-10-$run.json"
done

reference=()
if [ -z "${SKIP_REFERENCE:-}" ]; then
    echo "== Socket.IO 4.8 reference ($anchors/socketio-fanout, 1 run per scenario)"
    if [ ! -d "$out/socketio-fanout/node_modules" ]; then
        rm -rf "$out/socketio-fanout"
        cp -r "$anchors/socketio-fanout" "$out/socketio-fanout"
        chmod -R u+w "$out/socketio-fanout"
        (cd "$out/socketio-fanout" && npm ci --no-audit --no-fund)
    fi
    rm -rf "$out/socketio-fanout/results"
    (cd "$out/socketio-fanout" && node bench.js --ns=1000 --runs=1 --seconds="$seconds" --period=10 --maxwait=60)
    cp "$(ls -t "$out"/socketio-fanout/results/*.json | head -n 1)" "$out/socketio-100.json"
    (cd "$out/socketio-fanout" && node bench.js --ns=5000,10000 --runs=1 --seconds="$seconds" --period=100 --maxwait=60)
    cp "$(ls -t "$out"/socketio-fanout/results/*.json | head -n 1)" "$out/socketio-10.json"
    reference=("$out/socketio-100.json" "$out/socketio-10.json")
fi

python3 scripts/ws-bench/summarize.py "$out" target/bench/ws.json "${reference[@]}"
