"""`just bench ws`'s table: for /ws (ws-bench against the anchor's own bench) and for
/socket.io/ (one socket.io-client load process against both servers), per scenario and metric,
the medians of agentq's and the anchor's runs and the median of the ratios of the runs made
side by side (run k of ours with run k of theirs). Also written to target/bench/ws.json."""
import json
import pathlib
import statistics
import sys

runs_dir, out_file = map(pathlib.Path, sys.argv[1:3])
SCENARIOS = [(1000, 100), (5000, 10), (10000, 10)]
# (key, label, digits, lower is better)
METRICS = [
    ("on_time", "on time (of scheduled)", 4, False),
    ("delivered", "delivered (after drain)", 4, False),
    ("p50_ms", "latency p50 ms", 2, True),
    ("p99_ms", "latency p99 ms", 2, True),
    # /socket.io/ only: from when each event was due, so a server's backlog counts for both
    ("p99_due_ms", "p99 from due time ms", 2, True),
    ("rss_idle_mib", "RSS idle MiB", 1, True),
    ("rss_broadcast_max_mib", "RSS broadcasting MiB", 1, True),
    ("cpu_percent", "server CPU % of a core", 1, True),
]


def ours_ws(run):
    """ws-bench's figures of run k, by scenario."""
    found = {}
    for rate in (100, 10):
        path = runs_dir / f"ours-{rate}-{run}.json"
        if not path.exists():
            continue
        for r in json.loads(path.read_text())["runs"]:
            found[(r["subscribers"], r["rate_per_s"])] = {
                "on_time": r["delivered_by_window_end"],
                "delivered": r["delivered"],
                "p50_ms": r["latency_ms"]["p50"],
                "p99_ms": r["latency_ms"]["p99"],
                "rss_idle_mib": r["rss_idle_mib"],
                "rss_broadcast_max_mib": r["rss_broadcast_max_mib"],
                "cpu_percent": r["cpu_percent_of_one_core"],
            }
    return found


def anchor_ws(run):
    """The anchor bench's figures of run k, by scenario. It counts deliveries against the
    events it managed to emit; a server that falls behind emits fewer than scheduled, so
    "on time" is both fractions together, as ours is counted against every scheduled event."""
    found = {}
    for rate in (100, 10):
        path = runs_dir / f"socketio-{rate}-{run}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        for n, s in data["summary"].items():
            pick = lambda key: s[key]["median"] if s.get(key) else None
            emitted, by_end = pick("emittedFraction"), pick("deliveredByBroadcastEndFraction")
            found[(int(n), round(1000 / data["meta"]["periodMs"]))] = {
                "on_time": None if None in (emitted, by_end) else emitted * by_end,
                "delivered": pick("deliveredFraction"),
                "p50_ms": pick("latencyP50Ms"),
                "p99_ms": pick("latencyP99Ms"),
                "rss_idle_mib": pick("idleRssMiB"),
                "rss_broadcast_max_mib": pick("bcastRssMaxMiB"),
                "cpu_percent": pick("serverCpuPct"),
            }
    return found


def socketio_pairs():
    """socketio.js's runs: {run: {target: {scenario: figures}}}."""
    path = runs_dir / "sio-pairs.json"
    pairs = {}
    if not path.exists():
        return pairs
    for r in json.loads(path.read_text())["runs"]:
        pairs.setdefault(r["run"], {}).setdefault(r["target"], {})[(r["n"], r["rate"])] = {
            "on_time": r["onTime"],
            "delivered": r["delivered"],
            "p50_ms": r["latencyMs"]["p50"],
            "p99_ms": r["latencyMs"]["p99"],
            "p99_due_ms": (r.get("dueLatencyMs") or {}).get("p99"),
            "rss_idle_mib": r["idleRssMiB"],
            "rss_broadcast_max_mib": r["broadcastRssMaxMiB"],
            "cpu_percent": r["serverCpuPct"],
        }
    return pairs


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def table(pairs):
    """pairs: [(ours by scenario, theirs by scenario)] -> {scenario: {metric: figures}}."""
    result = {}
    for n, rate in SCENARIOS:
        rows = {}
        for key, _, _, lower in METRICS:
            ours = [p[0].get((n, rate), {}).get(key) for p in pairs]
            theirs = [p[1].get((n, rate), {}).get(key) for p in pairs]
            ratios = [
                (t / o if lower else o / t)
                for o, t in zip(ours, theirs)
                if o not in (None, 0) and t not in (None, 0)
            ]
            rows[key] = {
                "agentq": median(ours),
                "anchor": median(theirs),
                # > 1: agentq is better by that factor (lower latency/RSS/CPU, higher share)
                "better_by": median(ratios),
                "pairs": len(ratios),
            }
        result[f"{n}@{rate}/s"] = rows
    return result


runs = sorted({int(p.stem.rsplit("-", 1)[1]) for p in runs_dir.glob("ours-*-*.json")})
ws = table([(ours_ws(k), anchor_ws(k)) for k in runs])
sio = table([(v.get("agentq", {}), v.get("anchor", {})) for _, v in sorted(socketio_pairs().items())])
out_file.write_text(json.dumps({"ws": ws, "socketio": sio}, indent=2))


def fmt(value, digits):
    return "-" if value is None else f"{value:.{digits}f}"


for title, result in [("/ws (Rust clients) vs Socket.IO anchor", ws),
                      ("/socket.io/ vs Socket.IO anchor, same socket.io-client load", sio)]:
    print(f"\n{title}")
    print("scenario        | metric                  | agentq   | anchor    | agentq better by (median of pairs)")
    for name, rows in result.items():
        for key, label, digits, _ in METRICS:
            row = rows[key]
            better = "-" if row["better_by"] is None else f"{row['better_by']:.2f}x ({row['pairs']} pairs)"
            print(f"{name:15} | {label:23} | {fmt(row['agentq'], digits):8} | "
                  f"{fmt(row['anchor'], digits):9} | {better}")
print(f"wrote {out_file}")
