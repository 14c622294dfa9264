"""Medians of the api-gateway runs next to the Express replica's, as a table and as
target/bench/api.json (keys: post_rps, post_p99_ms, get_rps, get_p99_ms, rss_mib, per backend)."""
import json
import pathlib
import statistics
import sys

runs_dir, express_file, out_file = sys.argv[1:4]
runs = [json.loads(p.read_text()) for p in sorted(pathlib.Path(runs_dir).glob("*.json"))]
express = json.loads(pathlib.Path(express_file).read_text())["summary"]


def median(values):
    return statistics.median(values) if values else None


ours = {}
for backend in sorted({r["backend"] for r in runs}):
    pick = lambda endpoint, key: median(
        [r["wrk"][key] for r in runs if r["backend"] == backend and r["endpoint"] == endpoint])
    ours[backend] = {
        "post_rps": pick("post", "rps"),
        "post_p99_ms": pick("post", "p99_ms"),
        "get_rps": pick("get", "rps"),
        "get_p99_ms": pick("get", "p99_ms"),
        "rss_mib": median([r["rss_mib"] for r in runs if r["backend"] == backend]),
        "non2xx": sum(r["wrk"]["non2xx"] for r in runs if r["backend"] == backend),
        "errors": sum(r["wrk"]["errors"] for r in runs if r["backend"] == backend),
    }


def express_median(*names):
    for name in names:
        if name in express and express[name]:
            return express[name]["median"]
    return None


node = {
    "post_rps": express_median("post_rps", "post_reqPerSec"),
    "post_p99_ms": express_median("post_p99_ms", "post_p99ms"),
    "get_rps": express_median("get_rps", "get_reqPerSec"),
    "get_p99_ms": express_median("get_p99_ms", "get_p99ms"),
    "rss_mib": express_median("post_rss_mib", "post_peakRssMiB"),
}
pathlib.Path(out_file).write_text(json.dumps({"agentq": ours, "express": node}, indent=2))

print("| metric | " + " | ".join(f"agentq {b}" for b in ours) + " | Express (MariaDB) | ratio (MariaDB) |")
print("| --- |" + " --- |" * (len(ours) + 2))
for key, higher in [("post_rps", True), ("post_p99_ms", False), ("get_rps", True), ("get_p99_ms", False), ("rss_mib", False)]:
    cells = [f"{ours[b][key]:.1f}" if ours[b][key] is not None else "-" for b in ours]
    ref = node[key]
    mine = ours.get("mariadb", {}).get(key)
    ratio = "-"
    if ref and mine:
        ratio = f"x{mine / ref:.2f}" if higher else f"{ref / mine:.2f}x lower"
    print(f"| {key} | " + " | ".join(cells) + f" | {ref if ref is not None else '-'} | {ratio} |")
print("non-2xx / socket errors:", {b: (ours[b]["non2xx"], ours[b]["errors"]) for b in ours})
print("express summary keys:", sorted(express))
