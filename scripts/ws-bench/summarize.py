"""Medians of the ws-bench runs next to the Socket.IO anchor's, as a table and as
target/bench/ws.json (per scenario: ours, reference, and the ratios)."""
import json
import pathlib
import statistics
import sys

runs_dir, out_file, *reference_files = sys.argv[1:]
runs = []
for path in sorted(pathlib.Path(runs_dir).glob("ours-*.json")):
    runs.extend(json.loads(path.read_text())["runs"])
reference = {}
for path in reference_files:
    data = json.loads(pathlib.Path(path).read_text())
    rate = round(1000 / data["meta"]["periodMs"])
    for n, s in data["summary"].items():
        reference[(int(n), rate)] = s

SCENARIOS = [(1000, 100), (5000, 10), (10000, 10)]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


table = {}
for n, rate in SCENARIOS:
    mine = [r for r in runs if r["subscribers"] == n and r["rate_per_s"] == rate]
    ours = {
        "runs": len(mine),
        "delivered": median([r["delivered"] for r in mine]),
        "delivered_by_window_end": median([r["delivered_by_window_end"] for r in mine]),
        "p50_ms": median([r["latency_ms"]["p50"] for r in mine]),
        "p99_ms": median([r["latency_ms"]["p99"] for r in mine]),
        "rss_idle_mib": median([r["rss_idle_mib"] for r in mine]),
        "rss_broadcast_max_mib": median([r["rss_broadcast_max_mib"] for r in mine]),
        "cpu_percent": median([r["cpu_percent_of_one_core"] for r in mine]),
    }
    ref = reference.get((n, rate))
    theirs = None
    if ref:
        pick = lambda key: ref[key]["median"] if ref.get(key) else None
        # the anchor counts deliveries against the events it managed to emit; a server that
        # falls behind emits fewer than scheduled, so "on time" is both fractions together,
        # as ours is counted against every scheduled event
        emitted, by_end = pick("emittedFraction"), pick("deliveredByBroadcastEndFraction")
        theirs = {
            "delivered": pick("deliveredFraction"),
            "delivered_by_window_end": None if None in (emitted, by_end) else emitted * by_end,
            "p50_ms": pick("latencyP50Ms"),
            "p99_ms": pick("latencyP99Ms"),
            "rss_idle_mib": pick("idleRssMiB"),
            "rss_broadcast_max_mib": pick("bcastRssMaxMiB"),
            "cpu_percent": pick("serverCpuPct"),
        }
    table[f"{n}@{rate}/s"] = {"ours": ours, "socketio": theirs}

pathlib.Path(out_file).write_text(json.dumps(table, indent=2))


def fmt(value, digits=1):
    return "-" if value is None else f"{value:.{digits}f}"


def ratio(theirs, ours):
    if theirs is None or ours in (None, 0):
        return "-"
    return f"{theirs / ours:.2f}x"


print("scenario        | metric                  | agentq   | Socket.IO | Socket.IO / agentq")
for name, row in table.items():
    ours, theirs = row["ours"], row["socketio"] or {}
    for key, label, digits in [
        ("delivered_by_window_end", "on time (of scheduled)", 4),
        ("delivered", "delivered (after drain)", 4),
        ("p50_ms", "latency p50 ms", 2),
        ("p99_ms", "latency p99 ms", 2),
        ("rss_idle_mib", "RSS idle MiB", 1),
        ("rss_broadcast_max_mib", "RSS broadcasting MiB", 1),
        ("cpu_percent", "server CPU % of a core", 1),
    ]:
        print(f"{name:15} | {label:23} | {fmt(ours[key], digits):8} | "
              f"{fmt(theirs.get(key), digits):9} | {ratio(theirs.get(key), ours[key])}")
print(f"wrote {out_file}")
