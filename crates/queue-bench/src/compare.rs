//! The table: our figures next to BullMQ's from the same `just bench queue`, with ratios.
//! BullMQ's Redis CPU per job comes from scripts/bullmq-redis-cpu.js (bench.js does not
//! measure it), run in the same command.

use serde_json::Value;

use crate::BenchResult;

pub fn main(args: &[String]) -> BenchResult {
    let [ours, bullmq, bullmq_cpu] = args else {
        return Err(
            "usage: queue-bench compare OURS.json BULLMQ.json BULLMQ_REDIS_CPU.json".into(),
        );
    };
    let read = |path: &String| -> BenchResult<Value> {
        Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
    };
    let (ours, bullmq, bullmq_cpu) = (read(ours)?, read(bullmq)?, read(bullmq_cpu)?);
    let theirs = |key: &str| bullmq["summary"][key]["median"].as_f64();
    let rss = [
        theirs("c5_workerPeakRssMiB"),
        theirs("c50_workerPeakRssMiB"),
        theirs("d_workerPeakRssMiB"),
    ]
    .into_iter()
    .flatten()
    .fold(None, |max: Option<f64>, v| {
        Some(max.map_or(v, |m| m.max(v)))
    });
    // (row, ours, BullMQ, higher is better)
    let rows = [
        (
            "enqueue, batches of 1,000 (jobs/s)",
            "enqueue_batch_jobs_s",
            theirs("a_addBulk_jobsPerSec"),
            true,
        ),
        (
            "enqueue one by one, 64 in flight (jobs/s)",
            "enqueue_single_jobs_s",
            theirs("b_add64_jobsPerSec"),
            true,
        ),
        (
            "drain 20,000, concurrency 5 (jobs/s)",
            "drain_c5_jobs_s",
            theirs("c5_jobsPerSec"),
            true,
        ),
        (
            "drain 20,000, concurrency 50 (jobs/s)",
            "drain_c50_jobs_s",
            theirs("c50_jobsPerSec"),
            true,
        ),
        (
            "add→start p50 at 500 jobs/s (ms)",
            "latency_p50_ms",
            theirs("d_addToStart_p50ms"),
            false,
        ),
        (
            "add→start p99 at 500 jobs/s (ms)",
            "latency_p99_ms",
            theirs("d_addToStart_p99ms"),
            false,
        ),
        (
            "Redis CPU per drained job, c50 (µs)",
            "redis_cpu_us_per_job",
            bullmq_cpu["c50_redisCpuUsPerJob"].as_f64(),
            false,
        ),
        (
            "Redis CPU per drained job, c5 (µs)",
            "redis_cpu_us_per_job_c5",
            bullmq_cpu["c5_redisCpuUsPerJob"].as_f64(),
            false,
        ),
        ("consumer peak RSS (MiB)", "consumer_rss_mib", rss, false),
    ];
    println!("| scenario | agentq | BullMQ | agentq vs BullMQ |");
    println!("| --- | --- | --- | --- |");
    for (label, key, reference, higher_is_better) in rows {
        let ours = ours[key].as_f64();
        let ratio = match (ours, reference) {
            (Some(o), Some(r)) if o > 0.0 && r > 0.0 => {
                if higher_is_better {
                    format!("×{:.2}", o / r)
                } else {
                    format!("{:.2}× lower", r / o)
                }
            }
            _ => "-".into(),
        };
        println!(
            "| {label} | {} | {} | {ratio} |",
            show(ours),
            show(reference)
        );
    }
    Ok(())
}

fn show(value: Option<f64>) -> String {
    match value {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
        None => "-".into(),
    }
}
