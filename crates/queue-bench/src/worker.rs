//! The worker process of the drain and latency scenarios: runs `run_worker` with a no-op
//! handler until `--expect` jobs are recorded, then prints one JSON line with its figures.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use agentq_queue::{Outcome, WorkerOptions, run_worker};
use tokio_util::sync::CancellationToken;

use crate::{BenchResult, bench_queue, flag, now_us};

pub fn main(args: &[String]) -> BenchResult {
    let concurrency: usize = flag(args, "--concurrency").unwrap_or("5").parse()?;
    let expect: u64 = flag(args, "--expect").unwrap_or("20000").parse()?;
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?
        .block_on(run(concurrency, expect))
}

async fn run(concurrency: usize, expect: u64) -> BenchResult {
    let queue = bench_queue()?;
    let started = Arc::new(AtomicU64::new(0));
    let first_us = Arc::new(AtomicU64::new(0));
    let latencies_us = Arc::new(Mutex::new(Vec::with_capacity(expect as usize)));
    let shutdown = CancellationToken::new();
    let handler = {
        let (started, first_us, latencies_us, shutdown) = (
            started.clone(),
            first_us.clone(),
            latencies_us.clone(),
            shutdown.clone(),
        );
        move |job: agentq_queue::LeasedJob, _stop| {
            let now = now_us();
            let _ = first_us.compare_exchange(0, now, Ordering::SeqCst, Ordering::SeqCst);
            if let Some(t0) = sent_at(&job.payload)
                && let Ok(mut l) = latencies_us.lock()
            {
                l.push(now.saturating_sub(t0));
            }
            if started.fetch_add(1, Ordering::SeqCst) + 1 == expect {
                // stop once the last job is in: the worker then records what is pending
                shutdown.cancel();
            }
            async { Outcome::Completed("{}".into()) }
        }
    };
    println!("ready");
    let report = run_worker(
        queue,
        WorkerOptions::new(format!("bench-{}", std::process::id()), concurrency),
        handler,
        shutdown,
    )
    .await;
    let last_us = now_us();
    let mut latencies = latencies_us.lock().map(|l| l.clone()).unwrap_or_default();
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((p / 100.0) * latencies.len() as f64).ceil() as usize;
        latencies
            .get(i.saturating_sub(1))
            .map(|us| *us as f64 / 1000.0)
    };
    let first = first_us.load(Ordering::SeqCst);
    let seconds = last_us.saturating_sub(first) as f64 / 1e6;
    let out = serde_json::json!({
        "completed": report.completed,
        "jobs_s": report.completed as f64 / seconds,
        "latency_p50_ms": pct(50.0),
        "latency_p99_ms": pct(99.0),
        "rss_mib": peak_rss_mib(),
    });
    println!("{out}");
    Ok(())
}

/// `t0` (µs) that the latency scenario puts in the payload.
fn sent_at(payload: &str) -> Option<u64> {
    let at = payload.find("\"t0\":")? + 5;
    let digits: String = payload[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
