use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agentq_queue::{NewJob, Outcome, WorkerOptions, run_worker};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

fn counting_worker(
    queue: &agentq_queue::Queue,
    shutdown: &CancellationToken,
    idle_poll: Duration,
) -> (
    Arc<AtomicU64>,
    tokio::task::JoinHandle<agentq_queue::WorkerReport>,
) {
    let runs = Arc::new(AtomicU64::new(0));
    let handler = {
        let runs = runs.clone();
        move |_job, _stop| {
            runs.fetch_add(1, Ordering::SeqCst);
            async { Outcome::Completed("ok".into()) }
        }
    };
    let mut options = WorkerOptions::new("w", 5);
    options.idle_poll = idle_poll;
    let worker = tokio::spawn(run_worker(
        queue.clone(),
        options,
        handler,
        shutdown.clone(),
    ));
    (runs, worker)
}

#[tokio::test]
async fn a_worker_keeps_working_after_its_connections_are_killed() {
    let redis = OwnRedis::start();
    let queue = queue_on(&redis.url(), config());
    let shutdown = CancellationToken::new();
    let (_runs, worker) = counting_worker(&queue, &shutdown, Duration::from_millis(200));

    queue
        .enqueue_batch(&[NewJob::new("a"), NewJob::new("b")])
        .await
        .expect("enqueue");
    let first = eventually(Duration::from_secs(5), || async {
        queue.counts().await.map(|c| c.completed).unwrap_or(0) == 2
    })
    .await;
    assert!(first);

    for kind in ["normal", "pubsub"] {
        redis
            .cmd(&["CLIENT", "KILL", "TYPE", kind])
            .expect("client kill");
    }
    // the producer's own connection was killed too: it reconnects on the next call
    let mut enqueued = false;
    for _ in 0..50 {
        if queue
            .enqueue_batch(&[NewJob::new("c"), NewJob::new("d")])
            .await
            .is_ok()
        {
            enqueued = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(enqueued);
    let after = eventually(Duration::from_secs(10), || async {
        queue.counts().await.map(|c| c.completed).unwrap_or(0) == 4
    })
    .await;
    shutdown.cancel();
    worker.await.expect("worker");
    assert!(after, "jobs enqueued after CLIENT KILL were not processed");
}

#[tokio::test]
async fn an_idle_worker_sends_few_commands() {
    let redis = OwnRedis::start();
    let queue = queue_on(&redis.url(), config());
    let shutdown = CancellationToken::new();
    let mut options = WorkerOptions::new("idle", 5);
    options.idle_poll = Duration::from_secs(5);
    let worker = tokio::spawn(run_worker(
        queue.clone(),
        options,
        |_job, _stop| async { Outcome::Completed("ok".into()) },
        shutdown.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.cmd(&["CONFIG", "RESETSTAT"]).expect("resetstat");
    let window = Duration::from_secs(3);
    tokio::time::sleep(window).await;
    let stats = redis.cmd(&["INFO", "commandstats"]).expect("info");
    shutdown.cancel();
    worker.await.expect("worker");

    let calls: u64 = stats
        .lines()
        .filter(|line| !line.starts_with("cmdstat_info") && !line.starts_with("cmdstat_config"))
        .filter_map(|line| line.split("calls=").nth(1))
        .filter_map(|rest| rest.split(',').next())
        .filter_map(|n| n.parse::<u64>().ok())
        .sum();
    let per_second = calls as f64 / window.as_secs_f64();
    assert!(
        per_second <= 2.0,
        "an idle worker sent {calls} commands in {window:?}:\n{stats}"
    );
}

#[tokio::test]
async fn an_idle_worker_wakes_at_once_for_a_new_job() {
    let queue = queue();
    let shutdown = CancellationToken::new();
    let (runs, worker) = counting_worker(&queue, &shutdown, Duration::from_secs(5));
    tokio::time::sleep(Duration::from_millis(300)).await;
    add(&queue, NewJob::new("{}")).await;
    // far under the idle poll (5 s): woken by the enqueue, not by polling
    let quick = eventually(Duration::from_millis(150), || async {
        runs.load(Ordering::SeqCst) == 1
    })
    .await;
    shutdown.cancel();
    worker.await.expect("worker");
    assert!(quick);
}
