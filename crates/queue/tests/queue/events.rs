use std::time::Duration;

use agentq_domain::JobEventKind;
use agentq_queue::{NewJob, Outcome, RecorderGroup};

use crate::helpers::*;

#[tokio::test]
async fn readers_resume_after_any_event_id() {
    let queue = queue();
    let jobs: Vec<NewJob> = (0..5).map(|i| NewJob::new(format!("{i}"))).collect();
    queue.enqueue_batch(&jobs).await.expect("enqueue");
    let events = all_events(&queue).await;
    assert_eq!(events.len(), 5);
    let rest = queue
        .events_after(&events[1].id, 100)
        .await
        .expect("events")
        .events;
    assert_eq!(rest, events[2..].to_vec());
    let ids: Vec<_> = events.iter().map(|e| e.job).collect();
    assert_eq!(ids, jobs.iter().map(|j| j.id).collect::<Vec<_>>());
    assert_eq!(
        queue.last_event_id().await.expect("last"),
        Some(events[4].id.clone())
    );
}

#[tokio::test]
async fn a_blocked_reader_gets_new_events_as_they_happen() {
    let queue = queue();
    let after = queue
        .last_event_id()
        .await
        .expect("last")
        .unwrap_or("0".into());
    let mut conn = queue
        .redis()
        .blocking_connection(Duration::from_secs(5))
        .await
        .expect("conn");
    let reader = {
        let queue = queue.clone();
        tokio::spawn(async move {
            queue
                .wait_events(&mut conn, &after, 10, Duration::from_secs(5))
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    let id = add(&queue, NewJob::new("{}")).await;
    let got = reader.await.expect("task").expect("read").events;
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].kind(), got[0].job), (JobEventKind::Queued, id));
}

#[tokio::test]
async fn the_recorder_group_gets_every_event_once_and_trimming_waits_for_its_acks() {
    let mut config = config();
    config.events_replay = Duration::ZERO;
    let queue = queue_with(config);
    let group = queue
        .recorder_group(RecorderGroup::DEFAULT_NAME)
        .await
        .expect("group");
    let jobs: Vec<NewJob> = (0..6).map(|i| NewJob::new(format!("{i}"))).collect();
    queue.enqueue_batch(&jobs).await.expect("enqueue");

    let mut conn = queue
        .redis()
        .blocking_connection(Duration::from_secs(1))
        .await
        .expect("conn");
    let first = group
        .read(&mut conn, "rec-1", 4, Duration::from_millis(100))
        .await
        .expect("read");
    assert_eq!(first.len(), 4);
    // delivered but not acknowledged: redelivered to the same consumer after a crash
    let again = group
        .unacknowledged(&mut conn, "rec-1", 10)
        .await
        .expect("pending");
    assert_eq!(again, first);
    // a new leader takes over what a dead one read and never acknowledged
    assert_eq!(group.take_over("rec-2").await.expect("take over"), 4);
    let taken = group
        .unacknowledged(&mut conn, "rec-2", 10)
        .await
        .expect("pending");
    assert_eq!(taken, first);
    assert!(
        group
            .unacknowledged(&mut conn, "rec-1", 10)
            .await
            .expect("pending")
            .is_empty()
    );

    let acked: Vec<String> = first[..2].iter().map(|e| e.id.clone()).collect();
    group.ack(&acked).await.expect("ack");
    // past the (zero) replay window, even for events of this very millisecond
    tokio::time::sleep(Duration::from_millis(5)).await;
    let trim = queue
        .trim_events(RecorderGroup::DEFAULT_NAME)
        .await
        .expect("trim");
    assert_eq!(
        (trim.trimmed, trim.capped),
        (2, 0),
        "only what the recorder acknowledged"
    );
    assert_eq!(all_events(&queue).await.len(), 4);

    let rest = group
        .read(&mut conn, "rec-1", 10, Duration::from_millis(100))
        .await
        .expect("read");
    assert_eq!(rest.len(), 2, "each event is delivered to the group once");
}

#[tokio::test]
async fn the_hard_cap_drops_unrecorded_events_and_counts_them() {
    let mut config = config();
    config.events_cap = 3;
    let queue = queue_with(config);
    queue.recorder_group("recorder").await.expect("group");
    let jobs: Vec<NewJob> = (0..5).map(|i| NewJob::new(format!("{i}"))).collect();
    queue.enqueue_batch(&jobs).await.expect("enqueue");
    let trim = queue.trim_events("recorder").await.expect("trim");
    assert_eq!((trim.trimmed, trim.capped), (0, 2));
    assert_eq!(queue.stat("events_capped").await.expect("stat"), 2);
    assert_eq!(all_events(&queue).await.len(), 3);
}

#[tokio::test]
async fn each_jobs_events_come_in_the_order_of_its_transitions() {
    let queue = queue();
    let jobs: Vec<NewJob> = (0..20).map(|i| NewJob::new(format!("{i}"))).collect();
    queue.enqueue_batch(&jobs).await.expect("enqueue");
    let leased = lease(&queue, "w", 20).await;
    for (i, job) in leased.iter().enumerate() {
        queue
            .progress(&job.id, job.token, 50)
            .await
            .expect("progress");
        let outcome = if i % 2 == 0 {
            Outcome::Completed("ok".into())
        } else {
            Outcome::FailedForGood("no".into())
        };
        assert!(finish(&queue, job, outcome).await);
    }
    use JobEventKind::*;
    for (i, job) in jobs.iter().enumerate() {
        let last = if i % 2 == 0 { Completed } else { Failed };
        assert_eq!(
            kinds_of(&queue, &job.id).await,
            [Queued, Started, Progress, last],
            "job {i}"
        );
    }
    let ids: Vec<String> = all_events(&queue).await.into_iter().map(|e| e.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_by_key(|id| {
        let (ms, seq) = id.split_once('-').unwrap_or_default();
        (
            ms.parse::<u64>().unwrap_or(0),
            seq.parse::<u64>().unwrap_or(0),
        )
    });
    assert_eq!(ids, sorted);
}

#[tokio::test]
async fn a_lock_has_one_holder_at_a_time_until_it_expires_or_is_released() {
    let queue = queue();
    let ttl = Duration::from_millis(200);
    assert!(queue.lock("recorder", "a", ttl).await.expect("lock"));
    assert!(!queue.lock("recorder", "b", ttl).await.expect("lock"));
    assert!(queue.lock("recorder", "a", ttl).await.expect("renew"));
    assert!(!queue.unlock("recorder", "b").await.expect("unlock"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        queue
            .lock("recorder", "b", ttl)
            .await
            .expect("expired: b takes it")
    );
    assert!(queue.unlock("recorder", "b").await.expect("unlock"));
    assert!(
        queue
            .lock("recorder", "a", ttl)
            .await
            .expect("released: a takes it")
    );
}

#[tokio::test]
async fn an_agents_slots_are_shared_by_all_jobs_and_expire() {
    let queue = queue();
    let agent = agentq_domain::AgentId::try_from(7).expect("id");
    let (a, b, c) = (
        agentq_domain::JobId::new(),
        agentq_domain::JobId::new(),
        agentq_domain::JobId::new(),
    );
    let ttl = Duration::from_millis(200);
    assert!(queue.acquire_slot(agent, &a, 2, ttl).await.expect("slot"));
    assert!(queue.acquire_slot(agent, &b, 2, ttl).await.expect("slot"));
    assert!(!queue.acquire_slot(agent, &c, 2, ttl).await.expect("full"));
    assert!(
        queue
            .acquire_slot(agent, &a, 2, ttl)
            .await
            .expect("renewed")
    );
    queue.release_slot(agent, &a).await.expect("release");
    assert!(queue.acquire_slot(agent, &c, 2, ttl).await.expect("freed"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let d = agentq_domain::JobId::new();
    assert!(
        queue
            .acquire_slot(agent, &d, 1, ttl)
            .await
            .expect("expired slots are free")
    );
}

#[tokio::test]
async fn every_lifecycle_event_of_a_traced_job_carries_its_trace() {
    let mut config = config();
    config.max_attempts = 1;
    let queue = queue_with(config);
    let trace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let traced = |payload: &str| {
        let mut job = NewJob::new(payload);
        job.trace = Some(trace.to_owned());
        job
    };
    // one job cancelled while it waits, one failed for good and then retried by hand
    let waiting = add(&queue, traced("a")).await;
    queue.cancel(&waiting).await.expect("cancel");
    let failing = add(&queue, traced("b")).await;
    let leased = lease(&queue, "w", 1).await;
    assert!(finish(&queue, &leased[0], Outcome::FailedForGood("no".into())).await);
    queue.retry(&failing).await.expect("retry");
    let events = all_events(&queue).await;
    assert!(events.len() >= 6, "{events:?}");
    for event in &events {
        assert_eq!(event.trace.as_deref(), Some(trace), "{event:?}");
    }
    let kinds: Vec<_> = events.iter().map(|e| e.kind()).collect();
    assert!(kinds.contains(&JobEventKind::Cancelled), "{kinds:?}");
    assert_eq!(
        kinds.iter().filter(|k| **k == JobEventKind::Queued).count(),
        3,
        "two new, one retried by hand: {kinds:?}"
    );
}
