//! `queue-bench`: agentq's queue in the scenarios of `../shared/anchors/bullmq-core`, with the
//! same payload (~300 bytes) and job options (3 attempts, exponential backoff from 5 s, keep
//! 1,000 completed jobs). Like the reference it FLUSHALLs the Redis it uses before every run.
//!
//! `queue-bench run [--runs N] [--out FILE] [--only drain_c5,...]`  median of N runs, JSON to FILE
//! `queue-bench worker ...`                    a worker process (started by `run`)
//! `queue-bench compare OURS BULLMQ BULLMQ_CPU [...]` the table: one triple per interleaved run,
//! each ratio the median of the pairs' ratios
//! `queue-bench cluster-compare ONE_NODE BARE_CLUSTER NODE_WITH_REPLICA CLUSTER [...]` one node
//! vs a Redis Cluster, without replicas and with, one quadruple of `run` outputs per
//! interleaved run

mod cluster;
mod compare;
mod scenarios;
mod worker;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("run") => scenarios::main(&args[1..]),
        Some("worker") => worker::main(&args[1..]),
        Some("compare") => compare::main(&args[1..]),
        Some("cluster-compare") => cluster::main(&args[1..]),
        _ => Err(
            "usage: queue-bench run [--runs N] [--out FILE] | compare OURS.json BULLMQ.json BULLMQ_REDIS_CPU.json [...]"
                .into(),
        ),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("queue-bench: {err}");
            ExitCode::FAILURE
        }
    }
}

pub type BenchResult<T = ()> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// The value after `--name` in `args`.
pub fn flag<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Microseconds since the epoch: comparable across the bench's processes.
pub fn now_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// The queue with the seed's job options, as the reference bench uses them, under a name of
/// its own: the jobs it leaves behind must not land in the queue `just up` runs. In
/// `AGENTQ_PARTITIONS` partitions (1 unless set), on the Redis or cluster at `REDIS_URL`.
pub fn bench_queue() -> BenchResult<agentq_queue::Partitions> {
    let redis = agentq_queue::Redis::open(&redis_url())?;
    let partitions: u16 = std::env::var("AGENTQ_PARTITIONS")
        .ok()
        .map(|p| p.parse())
        .transpose()?
        .unwrap_or(1);
    Ok(agentq_queue::Partitions::new(
        redis,
        agentq_queue::QueueConfig::named("queue-bench"),
        partitions,
    ))
}
