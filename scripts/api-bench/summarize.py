"""The api-gateway's runs next to the Express replica's from the same interleaved `just bench api`:
run N of each backend is paired with Express run N, and each ratio is the median of the pairs'
ratios. Writes a table, and target/bench/api.json (medians per backend, Express's, the ratios)."""
import json
import pathlib
import statistics
import sys

runs_dir, bench_dir, out_file = sys.argv[1:4]
runs = [json.loads(p.read_text()) for p in sorted(pathlib.Path(runs_dir).glob("*.json"))]
express_runs = {
    int(p.stem.rsplit("-", 1)[1]): json.loads(p.read_text())["summary"]
    for p in pathlib.Path(bench_dir).glob("api-express-*.json")
}

METRICS = [("post_rps", True), ("post_p99_ms", False), ("get_rps", True), ("get_p99_ms", False), ("rss_mib", False)]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ours_value(run, key):
    """One of our figures from one run file, or None when the run measured another endpoint."""
    endpoint, _, metric = key.partition("_")
    if metric == "mib":  # rss_mib: per run, whatever the endpoint
        return run["rss_mib"]
    if run["endpoint"] != endpoint:
        return None
    return run["wrk"]["rps" if metric == "rps" else "p99_ms"]


def express_value(summary, key):
    names = {
        "post_rps": ("post_rps", "post_reqPerSec"),
        "post_p99_ms": ("post_p99_ms", "post_p99ms"),
        "get_rps": ("get_rps", "get_reqPerSec"),
        "get_p99_ms": ("get_p99_ms", "get_p99ms"),
        "rss_mib": ("post_rss_mib", "post_peakRssMiB"),
    }[key]
    for name in names:
        if summary.get(name):
            return summary[name]["median"]
    return None


backends = sorted({r["backend"] for r in runs})
table = {"agentq": {}, "express": {}, "ratio_vs_express": {}}
for backend in backends:
    mine = [r for r in runs if r["backend"] == backend]
    table["agentq"][backend] = {key: median([ours_value(r, key) for r in mine]) for key, _ in METRICS}
    table["agentq"][backend]["non2xx"] = sum(r["wrk"]["non2xx"] for r in mine)
    table["agentq"][backend]["errors"] = sum(r["wrk"]["errors"] for r in mine)
    ratios = {}
    for key, higher in METRICS:
        pairs = []
        for r in mine:
            o, e = ours_value(r, key), express_value(express_runs.get(r["run"], {}), key)
            if o and e:
                pairs.append(o / e if higher else e / o)
        ratios[key] = {"median": median(pairs), "pairs": sorted(pairs)}
    table["ratio_vs_express"][backend] = ratios
table["express"] = {key: median([express_value(s, key) for s in express_runs.values()]) for key, _ in METRICS}
pathlib.Path(out_file).write_text(json.dumps(table, indent=2))

print(f"{len(express_runs)} interleaved runs; a ratio is the median of the runs' own ratios (higher rps, lower p99 and RSS: >1 is agentq ahead)")
print("| metric | " + " | ".join(f"agentq {b}" for b in backends) + " | Express (MariaDB) | "
      + " | ".join(f"{b} vs Express" for b in backends) + " |")
print("| --- |" + " --- |" * (2 * len(backends) + 1))
for key, _ in METRICS:
    cells = [f"{table['agentq'][b][key]:.1f}" if table["agentq"][b][key] is not None else "-" for b in backends]
    ref = table["express"][key]
    ratio_cells = []
    for b in backends:
        r = table["ratio_vs_express"][b][key]
        ratio_cells.append(
            f"x{r['median']:.2f} ({', '.join(f'{p:.2f}' for p in r['pairs'])})" if r["median"] else "-")
    print(f"| {key} | " + " | ".join(cells) + f" | {ref if ref is not None else '-'} | " + " | ".join(ratio_cells) + " |")
print("non-2xx / socket errors:", {b: (table["agentq"][b]["non2xx"], table["agentq"][b]["errors"]) for b in backends})
