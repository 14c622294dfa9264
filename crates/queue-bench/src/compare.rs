//! The table: our figures next to BullMQ's from the same `just bench queue`, whose runs are
//! interleaved (ours, theirs, ours, theirs…); each ratio is the median of the pairs' ratios,
//! so that the host drifting between runs moves both sides of a pair alike.
//! BullMQ's Redis CPU per job comes from scripts/bullmq-redis-cpu.js (bench.js does not
//! measure it), run in the same command.

use serde_json::Value;

use crate::BenchResult;

pub fn main(args: &[String]) -> BenchResult {
    if args.is_empty() || !args.len().is_multiple_of(3) {
        return Err(
            "usage: queue-bench compare OURS.json BULLMQ.json BULLMQ_REDIS_CPU.json [...]: one \
             triple per interleaved run"
                .into(),
        );
    }
    let read = |path: &String| -> BenchResult<Value> {
        Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
    };
    let mut pairs = Vec::new();
    for triple in args.chunks(3) {
        pairs.push(Pair {
            ours: read(&triple[0])?,
            bullmq: read(&triple[1])?,
            bullmq_cpu: read(&triple[2])?,
        });
    }
    let rows = rows();
    println!(
        "| scenario | agentq (median) | BullMQ (median) | agentq vs BullMQ (median of {} pairs' ratios; range) |",
        pairs.len()
    );
    println!("| --- | --- | --- | --- |");
    for row in rows {
        let ours: Vec<f64> = pairs
            .iter()
            .filter_map(|p| p.ours[row.key].as_f64())
            .collect();
        let theirs: Vec<f64> = pairs.iter().filter_map(|p| (row.theirs)(p)).collect();
        // each run is compared with the reference run beside it, then the ratios' median
        let mut ratios: Vec<f64> = pairs
            .iter()
            .filter_map(|p| Some((p.ours[row.key].as_f64()?, (row.theirs)(p)?)))
            .filter(|(o, r)| *o > 0.0 && *r > 0.0)
            .map(|(o, r)| if row.higher_is_better { o / r } else { r / o })
            .collect();
        ratios.sort_by(f64::total_cmp);
        let ratio = match (median(&ratios), ratios.first(), ratios.last()) {
            (Some(m), Some(lo), Some(hi)) if row.higher_is_better => {
                format!("×{m:.2} (×{lo:.2}–×{hi:.2})")
            }
            (Some(m), Some(lo), Some(hi)) => format!("{m:.2}× lower ({lo:.2}–{hi:.2})"),
            _ => "-".into(),
        };
        println!(
            "| {} | {} | {} | {ratio} |",
            row.label,
            show(median(&sorted(ours))),
            show(median(&sorted(theirs)))
        );
    }
    Ok(())
}

/// One interleaved run: ours, then BullMQ's, then BullMQ's Redis CPU.
struct Pair {
    ours: Value,
    bullmq: Value,
    bullmq_cpu: Value,
}

struct Row {
    label: &'static str,
    /// Our figure's key in `queue-bench run`'s JSON.
    key: &'static str,
    theirs: fn(&Pair) -> Option<f64>,
    higher_is_better: bool,
}

fn bullmq(pair: &Pair, key: &str) -> Option<f64> {
    pair.bullmq["summary"][key]["median"].as_f64()
}

fn rows() -> [Row; 9] {
    let row = |label, key, theirs, higher_is_better| Row {
        label,
        key,
        theirs,
        higher_is_better,
    };
    [
        row(
            "enqueue, batches of 1,000 (jobs/s)",
            "enqueue_batch_jobs_s",
            |p| bullmq(p, "a_addBulk_jobsPerSec"),
            true,
        ),
        row(
            "enqueue one by one, 64 in flight (jobs/s)",
            "enqueue_single_jobs_s",
            |p| bullmq(p, "b_add64_jobsPerSec"),
            true,
        ),
        row(
            "drain 20,000, concurrency 5 (jobs/s)",
            "drain_c5_jobs_s",
            |p| bullmq(p, "c5_jobsPerSec"),
            true,
        ),
        row(
            "drain 20,000, concurrency 50 (jobs/s)",
            "drain_c50_jobs_s",
            |p| bullmq(p, "c50_jobsPerSec"),
            true,
        ),
        row(
            "add→start p50 at 500 jobs/s (ms)",
            "latency_p50_ms",
            |p| bullmq(p, "d_addToStart_p50ms"),
            false,
        ),
        row(
            "add→start p99 at 500 jobs/s (ms)",
            "latency_p99_ms",
            |p| bullmq(p, "d_addToStart_p99ms"),
            false,
        ),
        row(
            "Redis CPU per drained job, c50 (µs)",
            "redis_cpu_us_per_job",
            |p| p.bullmq_cpu["c50_redisCpuUsPerJob"].as_f64(),
            false,
        ),
        row(
            "Redis CPU per drained job, c5 (µs)",
            "redis_cpu_us_per_job_c5",
            |p| p.bullmq_cpu["c5_redisCpuUsPerJob"].as_f64(),
            false,
        ),
        row(
            "consumer peak RSS (MiB)",
            "consumer_rss_mib",
            |p| {
                [
                    "c5_workerPeakRssMiB",
                    "c50_workerPeakRssMiB",
                    "d_workerPeakRssMiB",
                ]
                .into_iter()
                .filter_map(|key| bullmq(p, key))
                .reduce(f64::max)
            },
            false,
        ),
    ]
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

/// The middle value of sorted `values` (the mean of the two middle ones for an even count).
fn median(values: &[f64]) -> Option<f64> {
    let n = values.len();
    match n {
        0 => None,
        _ if !n.is_multiple_of(2) => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

fn show(value: Option<f64>) -> String {
    match value {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "-".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, 2.0, 9.0]), Some(2.0));
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), Some(3.0));
    }
}
