//! `queue-bench cluster-compare ONE_NODE BARE_CLUSTER NODE_WITH_REPLICA CLUSTER [...]`: the
//! table of `just bench cluster`, one quadruple of `queue-bench run` outputs per interleaved
//! run. Like is compared with like: the cluster without replicas with one node alone, the
//! cluster with a replica per master with one node that has a replica (replication costs a
//! master the same work either way). Each ratio is the median of the runs' ratios.
//!
//! This machine has fewer cores than a cluster has masters, so the measured jobs/s cannot show
//! what the cluster adds. What can be measured is Redis' CPU per job (all masters together)
//! and each master's share of it; with one core per master, the busiest master caps the
//! queue at `1 / (CPU per job × its share)` jobs/s, where one node caps it at
//! `1 / CPU per job`. That projection is the last rows.

use serde_json::Value;

use crate::BenchResult;

/// One interleaved run: the four setups' `queue-bench run` outputs.
struct Run {
    node: Value,
    bare: Value,
    node_with_replica: Value,
    cluster: Value,
}

pub fn main(args: &[String]) -> BenchResult {
    if args.is_empty() || !args.len().is_multiple_of(4) {
        return Err(
            "usage: queue-bench cluster-compare ONE_NODE.json BARE_CLUSTER.json \
             NODE_WITH_REPLICA.json CLUSTER.json [...]: one quadruple per interleaved run"
                .into(),
        );
    }
    let read = |path: &String| -> BenchResult<Value> {
        Ok(serde_json::from_str(&std::fs::read_to_string(path)?)?)
    };
    let runs = args
        .chunks(4)
        .map(|run| {
            Ok(Run {
                node: read(&run[0])?,
                bare: read(&run[1])?,
                node_with_replica: read(&run[2])?,
                cluster: read(&run[3])?,
            })
        })
        .collect::<BenchResult<Vec<_>>>()?;
    let first = &runs[0].cluster;
    println!(
        "one Redis node vs a Redis Cluster of {} masters, without replicas and with one each, \
         the queue in {} partitions ({} interleaved runs)",
        first["masters"],
        first["partitions"],
        runs.len()
    );
    println!();
    println!(
        "| figure | one node | cluster without replicas | its ÷ one node (median of runs; \
         range) | one node with a replica | cluster with replicas | its ÷ one node with a \
         replica |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (label, key) in [
        (
            "enqueue, 64 in flight: jobs/s (measured)",
            "enqueue_single_jobs_s",
        ),
        (
            "enqueue in batches of 1,000: jobs/s (measured)",
            "enqueue_batch_jobs_s",
        ),
        (
            "drain, concurrency 50: jobs/s (measured)",
            "drain_c50_jobs_s",
        ),
        (
            "enqueue, 64 in flight: Redis CPU µs per job, all masters",
            "enqueue_redis_cpu_us_per_job",
        ),
        (
            "enqueue in batches of 1,000: Redis CPU µs per job, all masters",
            "enqueue_batch_redis_cpu_us_per_job",
        ),
        (
            "drain: Redis CPU µs per job, all masters",
            "redis_cpu_us_per_job",
        ),
        (
            "enqueue, 64 in flight: busiest master's share of Redis CPU",
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
            "enqueue, 64 in flight: Redis' ceiling, jobs/s with a core per master (projected)",
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

/// One figure for the four setups, and each cluster's ratio to its like.
fn row(label: &str, runs: &[Run], figure: impl Fn(&Value) -> Option<f64>) {
    let column = |setup: fn(&Run) -> &Value| -> String {
        show(median(&sorted(
            runs.iter().filter_map(|r| figure(setup(r))).collect(),
        )))
    };
    let ratio = |base: fn(&Run) -> &Value, other: fn(&Run) -> &Value| -> String {
        let ratios = sorted(
            runs.iter()
                .filter_map(|r| Some((figure(base(r))?, figure(other(r))?)))
                .filter(|(base, _)| *base > 0.0)
                .map(|(base, other)| other / base)
                .collect(),
        );
        match (median(&ratios), ratios.first(), ratios.last()) {
            (Some(m), Some(lo), Some(hi)) => format!("×{m:.2} (×{lo:.2}–×{hi:.2})"),
            _ => "-".into(),
        }
    };
    println!(
        "| {label} | {} | {} | {} | {} | {} | {} |",
        column(|r| &r.node),
        column(|r| &r.bare),
        ratio(|r| &r.node, |r| &r.bare),
        column(|r| &r.node_with_replica),
        column(|r| &r.cluster),
        ratio(|r| &r.node_with_replica, |r| &r.cluster),
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
