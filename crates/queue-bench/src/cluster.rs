//! `queue-bench cluster-compare ONE_NODE CLUSTER BARE_CLUSTER [...]`: the table of `just bench
//! cluster`, one triple of `queue-bench run` outputs per interleaved run (one node, the cluster
//! with replicas, the same without replicas: what replication costs). Each ratio is the median
//! of the runs' ratios against the one node beside them.
//!
//! This machine has fewer cores than a cluster has masters, so the measured jobs/s cannot show
//! what the cluster adds. What can be measured is Redis' CPU per job (all masters together)
//! and each master's share of it; with one core per master, the busiest master caps the
//! queue at `1 / (CPU per job × its share)` jobs/s, where one node caps it at
//! `1 / CPU per job`. That projection is the last rows.

use serde_json::Value;

use crate::BenchResult;

struct Run {
    single: Value,
    cluster: Value,
    bare: Value,
}

pub fn main(args: &[String]) -> BenchResult {
    if args.is_empty() || !args.len().is_multiple_of(3) {
        return Err(
            "usage: queue-bench cluster-compare ONE_NODE.json CLUSTER.json BARE_CLUSTER.json \
             [...]: one triple per interleaved run"
                .into(),
        );
    }
    let read = |path: &String| -> BenchResult<Value> {
        Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
    };
    let runs = args
        .chunks(3)
        .map(|run| {
            Ok(Run {
                single: read(&run[0])?,
                cluster: read(&run[1])?,
                bare: read(&run[2])?,
            })
        })
        .collect::<BenchResult<Vec<_>>>()?;
    let first = &runs[0].cluster;
    println!(
        "one Redis node vs a Redis Cluster of {} masters with a replica each, and without, the \
         queue in {} partitions ({} interleaved runs)",
        first["masters"],
        first["partitions"],
        runs.len()
    );
    println!();
    println!(
        "| figure | one node | cluster | cluster ÷ one node (median of runs; range) | cluster \
         without replicas | its ÷ one node |"
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for (label, key) in [
        (
            "enqueue, 64 in flight: jobs/s (measured)",
            "enqueue_single_jobs_s",
        ),
        (
            "drain, concurrency 50: jobs/s (measured)",
            "drain_c50_jobs_s",
        ),
        (
            "enqueue: Redis CPU µs per job, all masters",
            "enqueue_redis_cpu_us_per_job",
        ),
        (
            "drain: Redis CPU µs per job, all masters",
            "redis_cpu_us_per_job",
        ),
    ] {
        row(label, &runs, |v| v[key].as_f64());
    }
    for (label, key) in [
        (
            "enqueue: busiest master's share of Redis CPU",
            "enqueue_max_master_share",
        ),
        (
            "drain: busiest master's share of Redis CPU",
            "drain_max_master_share",
        ),
    ] {
        row(label, &runs, |v| v[key].as_f64());
    }
    // what Redis alone could serve with a core per master: the busiest master is the cap
    for (label, cpu, share) in [
        (
            "enqueue: Redis' ceiling, jobs/s with a core per master (projected)",
            "enqueue_redis_cpu_us_per_job",
            "enqueue_max_master_share",
        ),
        (
            "drain: Redis' ceiling, jobs/s with a core per master (projected)",
            "redis_cpu_us_per_job",
            "drain_max_master_share",
        ),
    ] {
        row(label, &runs, |v| {
            Some(1e6 / (v[cpu].as_f64()? * v[share].as_f64()?))
        });
    }
    Ok(())
}

fn row(label: &str, runs: &[Run], figure: impl Fn(&Value) -> Option<f64>) {
    let column = |side: fn(&Run) -> &Value| -> String {
        show(median(&sorted(
            runs.iter().filter_map(|r| figure(side(r))).collect(),
        )))
    };
    let ratio = |side: fn(&Run) -> &Value| -> String {
        let mut ratios: Vec<f64> = runs
            .iter()
            .filter_map(|r| Some((figure(&r.single)?, figure(side(r))?)))
            .filter(|(single, _)| *single > 0.0)
            .map(|(single, other)| other / single)
            .collect();
        ratios.sort_by(f64::total_cmp);
        match (median(&ratios), ratios.first(), ratios.last()) {
            (Some(m), Some(lo), Some(hi)) => format!("×{m:.2} (×{lo:.2}–×{hi:.2})"),
            _ => "-".into(),
        }
    };
    println!(
        "| {label} | {} | {} | {} | {} | {} |",
        column(|r| &r.single),
        column(|r| &r.cluster),
        ratio(|r| &r.cluster),
        column(|r| &r.bare),
        ratio(|r| &r.bare),
    );
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

fn median(sorted: &[f64]) -> Option<f64> {
    sorted.get(sorted.len() / 2).copied()
}

fn show(value: Option<f64>) -> String {
    match value {
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) if v >= 1.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.3}"),
        None => "-".into(),
    }
}
