use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentq_domain::{JobEventKind, JobId, JobState};
use agentq_queue::{CancelOutcome, NewJob, Outcome, WorkerOptions, run_worker};
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_jobs_through_eight_workers_complete_exactly_once() {
    let mut config = config();
    config.keep_completed.count = 20_000;
    let queue = queue_with(config);
    let jobs: Vec<NewJob> = (0..10_000).map(|i| NewJob::new(format!("{i}"))).collect();
    for chunk in jobs.chunks(1_000) {
        queue.enqueue_batch(chunk).await.expect("enqueue");
    }
    let runs: Arc<Mutex<HashMap<JobId, u32>>> = Arc::default();
    let shutdown = CancellationToken::new();
    let mut workers = Vec::new();
    for w in 0..8 {
        let runs = runs.clone();
        let handler = move |job: agentq_queue::LeasedJob, _stop| {
            let runs = runs.clone();
            async move {
                *runs.lock().expect("lock").entry(job.id).or_default() += 1;
                Outcome::Completed(job.payload)
            }
        };
        workers.push(tokio::spawn(run_worker(
            queue.clone(),
            WorkerOptions::new(format!("w{w}"), 5),
            handler,
            shutdown.clone(),
        )));
    }
    let done = eventually(Duration::from_secs(60), || async {
        queue.counts().await.map(|c| c.completed).unwrap_or(0) == 10_000
    })
    .await;
    shutdown.cancel();
    let mut completed = 0;
    for worker in workers {
        completed += worker.await.expect("worker").completed;
    }
    assert!(done, "not all jobs completed");
    assert_eq!(completed, 10_000);
    {
        let runs = runs.lock().expect("lock");
        assert_eq!(runs.len(), 10_000);
        assert!(runs.values().all(|&n| n == 1), "a job ran twice");
    }
    let completions = all_events(&queue)
        .await
        .into_iter()
        .filter(|e| e.kind() == JobEventKind::Completed)
        .count();
    assert_eq!(completions, 10_000);
}

#[tokio::test]
async fn a_cancel_request_stops_the_running_handler_and_ends_the_job_cancelled() {
    let queue = queue();
    let shutdown = CancellationToken::new();
    let started = Arc::new(tokio::sync::Notify::new());
    let handler = {
        let started = started.clone();
        move |_job, stop: CancellationToken| {
            let started = started.clone();
            async move {
                started.notify_one();
                stop.cancelled().await;
                Outcome::Failed("killed".into())
            }
        }
    };
    let worker = tokio::spawn(run_worker(
        queue.clone(),
        WorkerOptions::new("w", 1),
        handler,
        shutdown.clone(),
    ));
    let id = add(&queue, NewJob::new("{}")).await;
    tokio::time::timeout(Duration::from_secs(5), started.notified())
        .await
        .expect("job started");
    assert_eq!(
        queue.cancel(&id).await.expect("cancel"),
        CancelOutcome::Requested
    );
    let cancelled = eventually(Duration::from_secs(2), || async {
        queue.job(&id).await.ok().flatten().map(|j| j.state) == Some(JobState::Cancelled)
    })
    .await;
    shutdown.cancel();
    let report = worker.await.expect("worker");
    assert!(cancelled, "the job did not end cancelled");
    assert_eq!(report.cancelled, 1);
}

#[tokio::test]
async fn shutdown_lets_short_jobs_finish_and_gives_long_ones_back_at_once() {
    let queue = queue();
    let jobs = [NewJob::new("short"), NewJob::new("long")];
    queue.enqueue_batch(&jobs).await.expect("enqueue");
    let handler = |job: agentq_queue::LeasedJob, stop: CancellationToken| async move {
        if job.payload == "short" {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Outcome::Completed("done".into())
        } else {
            stop.cancelled().await;
            Outcome::Failed("interrupted".into())
        }
    };
    let shutdown = CancellationToken::new();
    let mut options = WorkerOptions::new("w", 2);
    options.shutdown_grace = Duration::from_millis(400);
    let worker = tokio::spawn(run_worker(
        queue.clone(),
        options,
        handler,
        shutdown.clone(),
    ));
    assert!(
        eventually(Duration::from_secs(5), || async {
            queue.counts().await.map(|c| c.active).unwrap_or(0) == 2
        })
        .await
    );
    shutdown.cancel();
    let report = tokio::time::timeout(Duration::from_secs(5), worker)
        .await
        .expect("worker stops within the grace period")
        .expect("worker");
    assert_eq!((report.completed, report.released), (1, 1));
    let long = queue.job(&jobs[1].id).await.expect("job").expect("exists");
    assert_eq!(
        long.state,
        JobState::Waiting,
        "given back, ready for another worker"
    );
    assert_eq!(long.attempts_made, 0, "giving back uses no attempt");
    let short = queue.job(&jobs[0].id).await.expect("job").expect("exists");
    assert_eq!(short.state, JobState::Completed);
}

#[tokio::test]
async fn a_worker_retries_failing_jobs_until_they_fail_for_good() {
    let mut config = config();
    config.backoff = agentq_domain::Backoff::new(Duration::from_millis(20), Duration::from_secs(1));
    let queue = queue_with(config);
    let id = add(&queue, NewJob::new("{}")).await;
    let shutdown = CancellationToken::new();
    let mut options = WorkerOptions::new("w", 2);
    options.idle_poll = Duration::from_millis(50);
    let worker = tokio::spawn(run_worker(
        queue.clone(),
        options,
        |_job, _stop| async { Outcome::Failed("always".into()) },
        shutdown.clone(),
    ));
    let failed = eventually(Duration::from_secs(5), || async {
        queue.job(&id).await.ok().flatten().map(|j| j.state) == Some(JobState::Failed)
    })
    .await;
    shutdown.cancel();
    let report = worker.await.expect("worker");
    assert!(failed);
    assert_eq!(report.failed, 3);
}

#[tokio::test]
async fn a_running_worker_is_in_the_registry_and_leaves_it_when_it_stops() {
    let mut config = config();
    config.lease = Duration::from_millis(600);
    let queue = queue_with(config);
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(run_worker(
        queue.clone(),
        WorkerOptions::new("beating", 3),
        |_job, _stop| async { Outcome::Completed("ok".into()) },
        shutdown.clone(),
    ));
    let seen = eventually(Duration::from_secs(3), || async {
        queue
            .live_workers()
            .await
            .map(|w| w.len() == 1)
            .unwrap_or(false)
    })
    .await;
    assert!(seen, "the worker never showed up");
    let info = queue.live_workers().await.expect("workers").remove(0);
    assert_eq!(
        (info.id.as_str(), info.concurrency, info.pid),
        ("beating", 3, std::process::id())
    );
    assert!(info.last_beat > 0 && info.started_at > 0);
    shutdown.cancel();
    worker.await.expect("worker");
    assert!(queue.live_workers().await.expect("workers").is_empty());
}

#[tokio::test]
async fn a_worker_that_stops_beating_drops_out_of_the_registry() {
    let queue = queue();
    let info = agentq_queue::WorkerInfo {
        id: "ghost".into(),
        host: "h".into(),
        pid: 1,
        version: "0".into(),
        concurrency: 1,
        running: 0,
        started_at: 1,
        last_beat: 0,
    };
    queue
        .heartbeat(&info, Duration::from_millis(150))
        .await
        .expect("beat");
    assert_eq!(queue.live_workers().await.expect("workers").len(), 1);
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(queue.live_workers().await.expect("workers").is_empty());
}
