#!/usr/bin/env bash
# `just bench ws`: the events-broadcaster against the Socket.IO 4.8 anchor
# (../shared/anchors/socketio-fanout), the same scenarios: 1,000 subscribers at 100 events/s,
# 5,000 and 10,000 at 10 events/s (20 s each), and the idle RSS with 10,000 connected.
#  1. /ws: our Rust WebSocket clients (ws-bench) against the broadcaster, then the anchor's own
#     bench, RUNS (3) times interleaved;
#  2. /socket.io/: one Node socket.io-client load process (socketio-load.js) against the
#     broadcaster and against the anchor's server, RUNS times interleaved (socketio.js).
# Every ratio is the median of the ratios of runs made side by side.
set -euo pipefail
cd "$(dirname "$0")/../.."
anchors="${AGENTQ_ANCHORS:-../shared/anchors}"
runs="${RUNS:-3}"
seconds="${SECONDS_PER_RUN:-20}"
out=target/bench/ws
mkdir -p "$out"
rm -f "$out"/ours-*.json "$out"/socketio-*.json
ulimit -n 20000

release=$(scripts/release-bins.sh)
if [ ! -d "$out/socketio-fanout/node_modules" ]; then
    rm -rf "$out/socketio-fanout"
    cp -r "$anchors/socketio-fanout" "$out/socketio-fanout"
    chmod -R u+w "$out/socketio-fanout"
    (cd "$out/socketio-fanout" && npm ci --no-audit --no-fund)
fi
[ -d scripts/ws-bench/node_modules ] || (cd scripts/ws-bench && npm ci --no-audit --no-fund)

anchor_run() { # n-list period-ms out-file
    rm -rf "$out/socketio-fanout/results"
    (cd "$out/socketio-fanout" && node bench.js --ns="$1" --runs=1 --seconds="$seconds" --period="$2" --maxwait=60)
    cp "$(ls -t "$out"/socketio-fanout/results/*.json | head -n 1)" "$3"
}

for run in $(seq "$runs"); do
    echo "== /ws run $run/$runs: agentq events-broadcaster (ws-bench), then the Socket.IO anchor"
    "$release/ws-bench" 1000 --rate 100 --seconds "$seconds" --out "$out/ours-100-$run.json"
    anchor_run 1000 10 "$out/socketio-100-$run.json"
    "$release/ws-bench" 5000,10000 --rate 10 --seconds "$seconds" --out "$out/ours-10-$run.json"
    anchor_run 5000,10000 100 "$out/socketio-10-$run.json"
done

echo "== /socket.io/: one socket.io-client load process against agentq and the anchor ($runs interleaved runs)"
node scripts/ws-bench/socketio.js --bin="$release" --anchor="$out/socketio-fanout" \
    --runs="$runs" --seconds="$seconds" --out="$out/sio-pairs.json"

python3 scripts/ws-bench/summarize.py "$out" target/bench/ws.json
