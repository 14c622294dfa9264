//! One queue over many partitions, on a real Redis Cluster of the test's own (3 masters, 3
//! replicas): where jobs go, that the masters share the partitions evenly, that one project's
//! jobs start in order, that no partition starves and a better priority elsewhere is found
//! soon; and, on one node, that cancel requests of every partition reach the worker.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentq_domain::{JobId, Priority, ProjectId};
use agentq_queue::{
    CancelOutcome, LeasedJob, NewJob, Outcome, Partitions, Redis, WorkerOptions, run_worker,
};
use agentq_test_support::OwnCluster;
use tokio_util::sync::CancellationToken;

use crate::helpers::*;

fn project(id: i64) -> ProjectId {
    ProjectId::try_from(id).expect("project id")
}

fn job_of(queue: &Partitions, project_id: i64, payload: String) -> NewJob {
    let mut job = NewJob::new(payload);
    job.project = Some(project(project_id));
    job.id = queue.new_job_id(job.project);
    job
}

/// Runs one worker of concurrency 1 until `n` jobs started; the payloads in start order.
async fn start_order(queue: &Partitions, n: usize) -> Vec<String> {
    let started: Arc<Mutex<Vec<String>>> = Arc::default();
    let shutdown = CancellationToken::new();
    let seen = started.clone();
    let worker = tokio::spawn(run_worker(
        queue.clone(),
        WorkerOptions::new("w", 1),
        move |job: LeasedJob, _stop| {
            seen.lock().expect("lock").push(job.payload.clone());
            async { Outcome::Completed("{}".into()) }
        },
        shutdown.clone(),
    ));
    let all_started = eventually(Duration::from_secs(60), || async {
        started.lock().expect("lock").len() >= n
    })
    .await;
    shutdown.cancel();
    worker.await.expect("worker");
    assert!(all_started, "not every job started");
    started.lock().expect("lock").clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_partitions_spread_keep_project_order_and_none_starves() {
    let cluster = OwnCluster::start();
    let queue = Partitions::new(
        Redis::open(&cluster.url()).expect("cluster url"),
        config(),
        12,
    );

    // the partitions are spread evenly: 4 on each master
    let placement = queue
        .placement()
        .await
        .expect("slot map")
        .expect("a cluster");
    let held: Vec<usize> = placement.iter().map(|(_, held)| *held).collect();
    assert_eq!(held, [4, 4, 4], "{placement:?}");

    // each project's jobs go to one partition, projects round the partitions
    for project_id in 1..=24 {
        for seq in 0..5 {
            let job = job_of(&queue, project_id, format!("{project_id}:{seq}"));
            assert!(queue.enqueue(&job).await.expect("enqueue"));
        }
    }
    for partition in queue.all() {
        let counts = partition.counts().await.expect("counts");
        assert_eq!(counts.waiting, 10, "two projects of five jobs each");
    }
    // ...and start in the order they were queued
    let order = start_order(&queue, 120).await;
    for project_id in 1..=24 {
        let seqs: Vec<u32> = order
            .iter()
            .filter_map(|p| p.split_once(':'))
            .filter(|(p, _)| *p == project_id.to_string())
            .map(|(_, seq)| seq.parse().expect("seq"))
            .collect();
        assert_eq!(seqs, [0, 1, 2, 3, 4], "project {project_id}");
    }

    // a backlog in one partition does not hold back the others
    for seq in 0..300 {
        let job = job_of(&queue, 1, format!("backlog:{seq}"));
        queue.enqueue(&job).await.expect("enqueue");
    }
    for seq in 0..5 {
        let job = job_of(&queue, 2, format!("small:{seq}"));
        queue.enqueue(&job).await.expect("enqueue");
    }
    let mut urgent = job_of(&queue, 3, "urgent".into());
    urgent.priority = Priority::Critical;
    queue.enqueue(&urgent).await.expect("enqueue");
    let order = start_order(&queue, 306).await;
    let position = |payload: &str| order.iter().position(|p| p == payload).expect(payload);
    // a worker keeps leasing from the partition it chose for up to 20 ms (STICK_FOR) before it
    // looks around again: the bound is that time, which at these no-op jobs is some dozens of
    // starts, far ahead of the 300 that wait before it
    assert!(
        position("urgent") < 100,
        "a better priority elsewhere is found within a few looks around: {}",
        position("urgent")
    );
    for seq in 0..5 {
        let at = position(&format!("small:{seq}"));
        assert!(at < 100, "small:{seq} started only at {at}");
    }
}

/// Before a worker acts on leases or forgets outcomes it waits for a replica to have them
/// (`WAIT`), so that a failover cannot undo them; a master without a replica cannot fail over,
/// so it is not waited for at all (waiting out WAIT's timeout there stalled the queue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_wait_for_replicas_only_where_there_are_some() {
    for (cluster, replicas) in [
        (OwnCluster::start(), true),
        (OwnCluster::without_replicas(), false),
    ] {
        let queue = Partitions::new(Redis::open(&cluster.url()).expect("url"), config(), 3);
        // the second round runs on masters that forgot every script, as restarted or
        // promoted ones would: each script is loaded again where it is missing
        for round in 1..=2 {
            if round == 2 {
                cluster.flush_scripts();
            }
            for project_id in 1..=3 {
                for seq in 0..4 {
                    let job = job_of(&queue, project_id, format!("{round}:{project_id}:{seq}"));
                    queue.enqueue(&job).await.expect("enqueue");
                }
            }
            assert_eq!(start_order(&queue, 12).await.len(), 12);
            let completed = eventually(Duration::from_secs(10), || async {
                queue.counts().await.map(|c| c.completed).unwrap_or(0) == 12 * round
            })
            .await;
            assert!(completed, "every job of round {round} completed");
        }
        let waits = cluster.calls("WAIT");
        if replicas {
            assert!(waits > 0, "leases and outcomes waited for a replica");
        } else {
            assert_eq!(waits, 0, "nothing to wait for without replicas");
            assert!(
                cluster.calls("ROLE") > 0,
                "the masters were asked for replicas"
            );
        }
    }
}

/// A master whose replica is away (or still loading its data: its master does not list it
/// until it has it) is not waited for, but it is looked at again within about a second, so
/// that writes are waited for soon after the replica is back, not 10 s later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_that_comes_back_is_waited_for_again_within_seconds() {
    let mut cluster = OwnCluster::start();
    let queue = Partitions::new(Redis::open(&cluster.url()).expect("url"), config(), 1);
    let master = cluster.master_of(&queue.home().keys().wait());
    let replica = cluster.replica_of(master);
    cluster.kill(replica);
    assert!(
        eventually(Duration::from_secs(10), || async {
            cluster.replicas_connected(master) == 0
        })
        .await,
        "the master noticed its replica went away"
    );
    let mut sequence = 0;
    let mut run_one = || {
        sequence += 1;
        let job = job_of(&queue, 1, format!("job {sequence}"));
        let queue = queue.clone();
        async move {
            queue.enqueue(&job).await.expect("enqueue");
            start_order(&queue, 1).await;
        }
    };
    run_one().await;
    assert_eq!(cluster.calls("WAIT"), 0, "no replica, nothing waited for");

    cluster.restart(replica);
    cluster.wait_until_healthy();
    let back = tokio::time::Instant::now();
    while cluster.calls("WAIT") == 0 {
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "the replica is back, but writes are still not waited for"
        );
        run_one().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_of_any_partition_hears_its_cancel() {
    let queue = Partitions::new(Redis::open(&redis_url()).expect("url"), config(), 4);
    let stopped: Arc<Mutex<Vec<JobId>>> = Arc::default();
    let shutdown = CancellationToken::new();
    let seen = stopped.clone();
    let worker = tokio::spawn(run_worker(
        queue.clone(),
        WorkerOptions::new("w", 8),
        move |job: LeasedJob, stop: CancellationToken| {
            let seen = seen.clone();
            async move {
                stop.cancelled().await;
                seen.lock().expect("lock").push(job.id);
                // a stopped job reports whatever it can; the worker records the cancel
                Outcome::Failed("stopped".into())
            }
        },
        shutdown.clone(),
    ));
    let jobs: Vec<NewJob> = (1..=4).map(|p| job_of(&queue, p, format!("{p}"))).collect();
    for job in &jobs {
        queue.enqueue(job).await.expect("enqueue");
    }
    let running = eventually(Duration::from_secs(10), || async {
        queue.counts().await.map(|c| c.active).unwrap_or(0) == 4
    })
    .await;
    assert!(running, "all four started");
    for job in &jobs {
        let outcome = queue.of_job(&job.id).cancel(&job.id).await.expect("cancel");
        assert_eq!(outcome, CancelOutcome::Requested);
    }
    let all_heard = eventually(Duration::from_secs(10), || async {
        stopped.lock().expect("lock").len() == 4
    })
    .await;
    shutdown.cancel();
    worker.await.expect("worker");
    assert!(all_heard, "heard: {:?}", stopped.lock().expect("lock"));
    let cancelled = queue.counts().await.expect("counts").cancelled;
    assert_eq!(cancelled, 4, "each ended cancelled in its partition");
}

#[tokio::test]
async fn binaries_that_disagree_on_the_partition_count_are_refused() {
    let config = config();
    let redis = Redis::open(&redis_url()).expect("url");
    let four = Partitions::new(redis.clone(), config.clone(), 4);
    four.check_count()
        .await
        .expect("the first to start records its count");
    four.check_count().await.expect("the same count again");
    let one = Partitions::new(redis, config, 1);
    let err = one.check_count().await.expect_err("another count");
    assert!(
        err.to_string().contains("AGENTQ_PARTITIONS is 1 but queue")
            && err.to_string().contains("has 4 partitions"),
        "{err}"
    );
}
