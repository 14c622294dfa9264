use std::time::Duration;

use agentq_domain::{Backoff, JobEventKind, JobId, JobState};
use agentq_queue::{CancelOutcome, NewJob, Outcome};

use crate::helpers::*;

#[tokio::test]
async fn a_waiting_job_is_cancelled_at_once_and_never_leased() {
    let queue = queue();
    let id = add(&queue, NewJob::new("{}")).await;
    assert_eq!(
        queue.cancel(&id).await.expect("cancel"),
        CancelOutcome::Cancelled
    );
    assert!(lease(&queue, "w", 5).await.is_empty());
    let counts = queue.counts().await.expect("counts");
    assert_eq!((counts.waiting, counts.cancelled), (0, 1));
    assert_eq!(
        kinds_of(&queue, &id).await,
        [JobEventKind::Queued, JobEventKind::Cancelled]
    );
}

#[tokio::test]
async fn a_delayed_job_is_cancelled_at_once_and_never_retried() {
    let mut config = config();
    config.backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
    let queue = queue_with(config);
    let id = add(&queue, NewJob::new("{}")).await;
    let job = lease(&queue, "w", 1).await.remove(0);
    assert!(finish(&queue, &job, Outcome::Failed("first".into())).await);
    assert_eq!(queue.counts().await.expect("counts").delayed, 1);

    assert_eq!(
        queue.cancel(&id).await.expect("cancel"),
        CancelOutcome::Cancelled
    );
    assert!(
        lease_one_within(&queue, Duration::from_millis(300))
            .await
            .is_none()
    );
    let snapshot = queue.job(&id).await.expect("job").expect("exists");
    assert_eq!(snapshot.state, JobState::Cancelled);
}

#[tokio::test]
async fn an_active_job_gets_a_cancel_request_that_reaches_its_worker_at_once() {
    let queue = queue();
    let id = add(&queue, NewJob::new("{}")).await;
    let mut requests = queue.cancel_requests().await.expect("subscribe");
    let job = lease(&queue, "w", 1).await.remove(0);

    assert_eq!(
        queue.cancel(&id).await.expect("cancel"),
        CancelOutcome::Requested
    );
    let heard = tokio::time::timeout(Duration::from_secs(2), requests.next()).await;
    assert_eq!(heard.ok().flatten(), Some(id));
    let snapshot = queue.job(&id).await.expect("job").expect("exists");
    assert!(snapshot.cancel_requested);
    assert_eq!(
        snapshot.state,
        JobState::Active,
        "cancelled once its worker stops it"
    );

    // even if the agent reports a failure while being killed, the job ends cancelled
    assert!(finish(&queue, &job, Outcome::Failed("killed".into())).await);
    let snapshot = queue.job(&id).await.expect("job").expect("exists");
    assert_eq!(snapshot.state, JobState::Cancelled);
    assert_eq!(queue.counts().await.expect("counts").delayed, 0);
}

#[tokio::test]
async fn an_active_job_whose_worker_died_is_cancelled_when_its_lease_expires() {
    let mut config = config();
    config.lease = Duration::from_millis(100);
    let queue = queue_with(config);
    let id = add(&queue, NewJob::new("{}")).await;
    lease(&queue, "dies", 1).await;
    assert_eq!(
        queue.cancel(&id).await.expect("cancel"),
        CancelOutcome::Requested
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(lease(&queue, "w", 1).await.is_empty());
    let snapshot = queue.job(&id).await.expect("job").expect("exists");
    assert_eq!(snapshot.state, JobState::Cancelled);
}

#[tokio::test]
async fn a_finished_job_cannot_be_cancelled() {
    let queue = queue();
    let completed = add(&queue, NewJob::new("{}")).await;
    let job = lease(&queue, "w", 1).await.remove(0);
    assert!(finish(&queue, &job, Outcome::Completed("done".into())).await);
    assert_eq!(
        queue.cancel(&completed).await.expect("cancel"),
        CancelOutcome::Finished
    );

    let failed = add(&queue, NewJob::new("{}")).await;
    let job = lease(&queue, "w", 1).await.remove(0);
    assert!(finish(&queue, &job, Outcome::FailedForGood("no".into())).await);
    assert_eq!(
        queue.cancel(&failed).await.expect("cancel"),
        CancelOutcome::Finished
    );

    let cancelled = add(&queue, NewJob::new("{}")).await;
    assert_eq!(
        queue.cancel(&cancelled).await.expect("cancel"),
        CancelOutcome::Cancelled
    );
    assert_eq!(
        queue.cancel(&cancelled).await.expect("cancel"),
        CancelOutcome::Finished
    );

    assert_eq!(
        queue.cancel(&JobId::new()).await.expect("cancel"),
        CancelOutcome::NotFound
    );
    assert_eq!(
        queue.job(&completed).await.expect("job").map(|j| j.state),
        Some(JobState::Completed)
    );
}
