use std::time::Duration;

use agentq_domain::{JobEventKind, JobState};
use agentq_queue::{LeaseStatus, NewJob, Outcome};

use crate::helpers::*;

fn short_leases() -> agentq_queue::QueueConfig {
    let mut config = config();
    config.lease = Duration::from_millis(150);
    config.max_stalls = 1;
    config
}

#[tokio::test]
async fn a_worker_whose_lease_expired_cannot_complete_fail_or_extend_the_job() {
    let queue = queue_with(short_leases());
    let id = add(&queue, NewJob::new("{}")).await;
    let stale = lease(&queue, "slow", 1).await.remove(0);
    tokio::time::sleep(Duration::from_millis(250)).await;

    // the next cycle recovers the expired lease and another worker takes the job
    let fresh = lease(&queue, "fast", 1).await.remove(0);
    assert_eq!(fresh.id, id);
    assert!(fresh.token > stale.token);

    assert!(!finish(&queue, &stale, Outcome::Completed("stale".into())).await);
    assert!(!finish(&queue, &stale, Outcome::Failed("stale".into())).await);
    assert!(
        !queue
            .progress(&id, stale.token, 50)
            .await
            .expect("progress")
    );
    assert_eq!(
        queue
            .extend(&[(id, stale.token), (id, fresh.token)])
            .await
            .expect("extend"),
        [LeaseStatus::Lost, LeaseStatus::Renewed]
    );
    assert!(finish(&queue, &fresh, Outcome::Completed("fresh".into())).await);
    let snapshot = queue.job(&id).await.expect("job").expect("exists");
    assert_eq!(snapshot.state, JobState::Completed);
    assert_eq!(snapshot.result.as_deref(), Some("fresh"));
}

#[tokio::test]
async fn extending_a_lease_keeps_the_job_from_stalling() {
    let queue = queue_with(short_leases());
    let id = add(&queue, NewJob::new("{}")).await;
    let job = lease(&queue, "w", 1).await.remove(0);
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(70)).await;
        assert_eq!(
            queue.extend(&[(id, job.token)]).await.expect("extend"),
            [LeaseStatus::Renewed]
        );
        assert!(lease(&queue, "other", 1).await.is_empty());
    }
    assert!(finish(&queue, &job, Outcome::Completed("done".into())).await);
}

#[tokio::test]
async fn an_expired_lease_goes_back_to_wait_until_the_stall_limit_then_fails() {
    let queue = queue_with(short_leases());
    let id = add(&queue, NewJob::new("{}")).await;

    lease(&queue, "dies", 1).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let second = lease(&queue, "dies-too", 1).await;
    assert_eq!(
        second.len(),
        1,
        "first stall: back to wait and leased again"
    );
    assert_eq!(
        second[0].attempts_made, 0,
        "a stall does not use an attempt"
    );

    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(
        lease(&queue, "w", 1).await.is_empty(),
        "second stall: failed"
    );
    let snapshot = queue.job(&id).await.expect("job").expect("exists");
    assert_eq!(snapshot.state, JobState::Failed);
    assert_eq!(snapshot.stalls, 2);
    assert!(snapshot.error.unwrap_or_default().contains("stalled"));
    assert_eq!(queue.stat("stalled").await.expect("stat"), 2);

    use JobEventKind::*;
    assert_eq!(
        kinds_of(&queue, &id).await,
        [Queued, Started, Queued, Started, Failed]
    );
    let events = all_events(&queue).await;
    assert_eq!(
        events[2].what,
        agentq_queue::JobEvent::Queued {
            reason: "stalled".into()
        }
    );
}
