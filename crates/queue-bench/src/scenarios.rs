//! The scenarios, each run `--runs` times (median reported), every run after a FLUSHALL.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use agentq_domain::{Priority, ProjectId};
use agentq_queue::{NewJob, Partitions};
use serde_json::{Value, json};

use crate::{BenchResult, bench_queue, flag, now_us};

const JOBS: usize = 20_000;
const IN_FLIGHT: usize = 64;
const RATE_PER_S: u64 = 500;
const RATE_SECONDS: u64 = 20;

pub fn main(args: &[String]) -> BenchResult {
    let runs: usize = flag(args, "--runs").unwrap_or("3").parse()?;
    let out = flag(args, "--out")
        .unwrap_or("target/bench/queue.json")
        .to_owned();
    let only: Option<Vec<&str>> = flag(args, "--only").map(|o| o.split(',').collect());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let queue = rt.block_on(async { bench_queue() })?;

    let mut raw: Vec<(&str, Vec<Value>)> = Vec::new();
    for (name, scenario) in [
        ("enqueue_batch", Scenario::EnqueueBatch),
        ("enqueue_single", Scenario::EnqueueSingle),
        ("drain_c5", Scenario::Drain(5)),
        ("drain_c50", Scenario::Drain(50)),
        ("latency", Scenario::Latency),
    ] {
        if only.as_ref().is_some_and(|only| !only.contains(&name)) {
            continue;
        }
        let mut results = Vec::new();
        for run in 1..=runs {
            let result = rt.block_on(scenario.run(&queue))?;
            eprintln!("[{name} run {run}/{runs}] {result}");
            results.push(result);
        }
        raw.push((name, results));
    }
    let median = |name: &str, key: &str| {
        let mut values: Vec<f64> = raw
            .iter()
            .filter(|(n, _)| *n == name)
            .flat_map(|(_, rs)| rs.iter().filter_map(|r| r[key].as_f64()))
            .collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied()
    };
    let rss = [
        median("drain_c5", "rss_mib"),
        median("drain_c50", "rss_mib"),
        median("latency", "rss_mib"),
    ]
    .into_iter()
    .flatten()
    .fold(0.0_f64, f64::max);
    let raw_json: serde_json::Map<String, Value> = raw
        .iter()
        .map(|(n, rs)| (n.to_string(), Value::from(rs.clone())))
        .collect();
    let summary = json!({
        "enqueue_batch_jobs_s": median("enqueue_batch", "jobs_s"),
        "enqueue_single_jobs_s": median("enqueue_single", "jobs_s"),
        "drain_c5_jobs_s": median("drain_c5", "jobs_s"),
        "drain_c50_jobs_s": median("drain_c50", "jobs_s"),
        "latency_p50_ms": median("latency", "latency_p50_ms"),
        "latency_p99_ms": median("latency", "latency_p99_ms"),
        "redis_cpu_us_per_job": median("drain_c50", "redis_cpu_us_per_job"),
        "enqueue_redis_cpu_us_per_job": median("enqueue_single", "redis_cpu_us_per_job"),
        "enqueue_batch_redis_cpu_us_per_job": median("enqueue_batch", "redis_cpu_us_per_job"),
        "drain_max_master_share": median("drain_c50", "max_master_share"),
        "enqueue_max_master_share": median("enqueue_single", "max_master_share"),
        "enqueue_batch_max_master_share": median("enqueue_batch", "max_master_share"),
        "masters": raw.iter().flat_map(|(_, rs)| rs.iter()).find_map(|r| r["masters"].as_u64()),
        "partitions": queue.count(),
        "redis_cpu_us_per_job_c5": median("drain_c5", "redis_cpu_us_per_job"),
        "consumer_rss_mib": rss,
        "runs": runs,
        "raw": raw_json,
    });
    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, serde_json::to_string_pretty(&summary)?)?;
    println!("wrote {out}");
    Ok(())
}

#[derive(Debug, Clone, Copy)]
enum Scenario {
    EnqueueBatch,
    EnqueueSingle,
    Drain(usize),
    Latency,
}

impl Scenario {
    async fn run(self, queue: &Partitions) -> BenchResult<Value> {
        flush(queue).await?;
        match self {
            Self::EnqueueBatch => {
                let jobs = seed_jobs(queue, JOBS);
                let cpu_before = redis_cpu_seconds(queue).await?;
                let start = Instant::now();
                for chunk in jobs.chunks(1_000) {
                    queue.enqueue_batch(chunk).await?;
                }
                let mut result = json!({"jobs_s": JOBS as f64 / start.elapsed().as_secs_f64()});
                cpu_figures(&mut result, &cpu_before, &redis_cpu_seconds(queue).await?);
                Ok(result)
            }
            Self::EnqueueSingle => {
                let jobs = Arc::new(seed_jobs(queue, JOBS));
                let next = Arc::new(AtomicUsize::new(0));
                let cpu_before = redis_cpu_seconds(queue).await?;
                let start = Instant::now();
                let mut tasks = Vec::new();
                for _ in 0..IN_FLIGHT {
                    let (queue, jobs, next) = (queue.clone(), jobs.clone(), next.clone());
                    tasks.push(tokio::spawn(async move {
                        while let Some(job) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                            queue.enqueue(job).await?;
                        }
                        Ok::<_, agentq_queue::QueueError>(())
                    }));
                }
                for task in tasks {
                    task.await??;
                }
                let jobs_s = JOBS as f64 / start.elapsed().as_secs_f64();
                let mut result = json!({"jobs_s": jobs_s});
                cpu_figures(&mut result, &cpu_before, &redis_cpu_seconds(queue).await?);
                Ok(result)
            }
            Self::Drain(concurrency) => {
                for chunk in seed_jobs(queue, JOBS).chunks(1_000) {
                    queue.enqueue_batch(chunk).await?;
                }
                let cpu_before = redis_cpu_seconds(queue).await?;
                let calls_before = script_calls(queue).await?;
                let mut result = run_worker_process(concurrency, JOBS, || async { Ok(()) }).await?;
                let calls = script_calls(queue).await? - calls_before;
                cpu_figures(&mut result, &cpu_before, &redis_cpu_seconds(queue).await?);
                result["jobs_per_script_call"] = json!(JOBS as f64 / calls.max(1) as f64);
                Ok(result)
            }
            Self::Latency => {
                let total = (RATE_PER_S * RATE_SECONDS) as usize;
                run_worker_process(50, total, || produce_at_rate(queue.clone(), total)).await
            }
        }
    }
}

/// Starts a worker process, runs `load` once it is ready, and returns the worker's figures.
async fn run_worker_process<F, Fut>(
    concurrency: usize,
    expect: usize,
    load: F,
) -> BenchResult<Value>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = BenchResult>,
{
    let mut child = Command::new(std::env::current_exe()?)
        .args(["worker", "--concurrency", &concurrency.to_string()])
        .args(["--expect", &expect.to_string()])
        .stdout(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("worker has no stdout")?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    if rx.recv().await.as_deref() != Some("ready") {
        return Err("worker did not start".into());
    }
    load().await?;
    let line = tokio::time::timeout(Duration::from_secs(120), rx.recv())
        .await?
        .ok_or("worker printed no result")?;
    child.wait()?;
    Ok(serde_json::from_str(&line)?)
}

/// 500 single adds per second for 20 s, on schedule (each add its own task), with the send
/// time in the payload.
async fn produce_at_rate(queue: Partitions, total: usize) -> BenchResult {
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / RATE_PER_S));
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        tick.tick().await;
        let queue = queue.clone();
        tasks.push(tokio::spawn(async move {
            let job = seed_job(&queue, i, Some(now_us()));
            queue.enqueue(&job).await
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

fn seed_jobs(queue: &Partitions, n: usize) -> Vec<NewJob> {
    (0..n).map(|i| seed_job(queue, i, None)).collect()
}

/// The reference bench's payload, ~300 bytes; the job of one of 100 projects, so that with
/// partitions the jobs spread over them.
fn seed_job(queue: &Partitions, i: usize, t0: Option<u64>) -> NewJob {
    let mut payload = json!({
        "taskId": (i % 100) + 1,
        "agentId": (i % 10) + 1,
        "userId": 1,
        "metadata": {"priority": "medium", "estimatedHours": 4, "retryCount": 0},
        "context": {"dependencies": [1, 2, 3], "relatedTasks": [4, 5], "memoryIds": ["m-1", "m-2"]},
        "mcpConfigs": [{"name": "filesystem", "command": "npx", "args": ["-y", "@mcp/fs"]}],
        "queuedAt": "2025-01-01T00:00:00.000Z",
    });
    if let Some(t0) = t0 {
        payload["t0"] = json!(t0);
    }
    let mut job = NewJob::new(payload.to_string()).priority(Priority::Medium);
    job.project = ProjectId::try_from(i as i64 % 100 + 1).ok();
    job.id = queue.new_job_id(job.project);
    job
}

async fn flush(queue: &Partitions) -> BenchResult {
    let mut conn = queue.redis().connection().await?;
    let _: () = redis::cmd("FLUSHALL").query_async(&mut conn).await?;
    Ok(())
}

/// `INFO <section>` of each master: the one node, or each master of a cluster (asked
/// directly, at the address the slot map gives).
async fn masters_info(queue: &Partitions, section: &str) -> BenchResult<Vec<String>> {
    let Some(masters) = queue.placement().await? else {
        let mut conn = queue.redis().connection().await?;
        return Ok(vec![
            redis::cmd("INFO")
                .arg(section)
                .query_async(&mut conn)
                .await?,
        ]);
    };
    let mut infos = Vec::with_capacity(masters.len());
    for (address, _) in masters {
        let client = redis::Client::open(format!("redis://{address}"))?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        infos.push(
            redis::cmd("INFO")
                .arg(section)
                .query_async(&mut conn)
                .await?,
        );
    }
    Ok(infos)
}

/// Redis' own CPU time (user + system), from `INFO cpu`, of each master.
async fn redis_cpu_seconds(queue: &Partitions) -> BenchResult<Vec<f64>> {
    Ok(masters_info(queue, "cpu")
        .await?
        .iter()
        .map(|info| {
            info.lines()
                .filter(|l| l.starts_with("used_cpu_sys:") || l.starts_with("used_cpu_user:"))
                .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
                .sum()
        })
        .collect())
}

/// Adds Redis' CPU per job (all masters together) and the busiest master's share of it.
fn cpu_figures(result: &mut Value, before: &[f64], after: &[f64]) {
    let used: Vec<f64> = after.iter().zip(before).map(|(a, b)| a - b).collect();
    let total: f64 = used.iter().sum();
    result["redis_cpu_us_per_job"] = json!(total * 1e6 / JOBS as f64);
    result["masters"] = json!(used.len());
    result["max_master_share"] = json!(used.iter().copied().fold(0.0, f64::max) / total.max(1e-9));
    result["master_shares"] = json!(used.iter().map(|u| u / total.max(1e-9)).collect::<Vec<_>>());
}

/// Script calls so far (`EVALSHA` and `EVAL`), from `INFO commandstats`, over the masters.
async fn script_calls(queue: &Partitions) -> BenchResult<u64> {
    Ok(masters_info(queue, "commandstats")
        .await?
        .iter()
        .flat_map(|info| info.lines())
        .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum())
}
