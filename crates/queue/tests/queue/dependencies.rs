//! Jobs blocked on other jobs: released by the completion of the last one they wait for,
//! failed (transitively) when one fails for good or is cancelled, unless they run anyway.

use agentq_domain::{JobId, JobState};
use agentq_queue::{CancelOutcome, NewJob, Outcome, Queue, QueueConfig};

use crate::helpers::*;

fn waiting_for(deps: &[JobId], payload: &str) -> NewJob {
    let mut job = NewJob::new(payload);
    job.dependencies = deps.iter().map(|id| (*id, JobState::Waiting)).collect();
    job
}

async fn state(queue: &Queue, id: &JobId) -> JobState {
    queue.job(id).await.expect("redis").expect("job").state
}

async fn run_to(queue: &Queue, outcome: Outcome) -> JobId {
    let job = lease(queue, "w", 1).await.remove(0);
    assert!(finish(queue, &job, outcome).await);
    job.id
}

#[tokio::test]
async fn a_job_waits_for_its_dependencies_and_runs_when_the_last_completes() {
    let queue = queue();
    let first = add(&queue, NewJob::new("first")).await;
    let second = add(&queue, NewJob::new("second")).await;
    let last = add(&queue, waiting_for(&[first, second], "last")).await;
    assert_eq!(state(&queue, &last).await, JobState::Blocked);
    let counts = queue.counts().await.expect("counts");
    assert_eq!((counts.waiting, counts.blocked), (2, 1));

    assert_eq!(run_to(&queue, Outcome::Completed("1".into())).await, first);
    assert_eq!(
        state(&queue, &last).await,
        JobState::Blocked,
        "one still pending"
    );
    assert_eq!(run_to(&queue, Outcome::Completed("2".into())).await, second);
    assert_eq!(
        state(&queue, &last).await,
        JobState::Waiting,
        "released, no polling"
    );
    let leased = lease(&queue, "w", 5).await;
    assert_eq!(leased.iter().map(|j| j.id).collect::<Vec<_>>(), [last]);

    // a dependency that completed before the job was queued does not block it; one Redis no
    // longer has counts as its SQL status says
    let done = add(&queue, waiting_for(&[first], "after")).await;
    assert_eq!(state(&queue, &done).await, JobState::Waiting);
    let mut gone = NewJob::new("gone");
    gone.dependencies = vec![(JobId::new(), JobState::Completed)];
    let gone = add(&queue, gone).await;
    assert_eq!(state(&queue, &gone).await, JobState::Waiting);
}

#[tokio::test]
async fn a_failed_or_cancelled_dependency_fails_its_dependents_unless_they_run_anyway() {
    let queue = queue_with(QueueConfig {
        max_attempts: 1,
        ..config()
    });
    let root = add(&queue, NewJob::new("root")).await;
    let child = add(&queue, waiting_for(&[root], "child")).await;
    let grandchild = add(&queue, waiting_for(&[child], "grandchild")).await;
    let mut anyway = waiting_for(&[root], "anyway");
    anyway.run_if_a_dependency_fails = true;
    let anyway = add(&queue, anyway).await;

    run_to(&queue, Outcome::Failed("broke".into())).await;
    assert_eq!(state(&queue, &root).await, JobState::Failed);
    for id in [child, grandchild] {
        let job = queue.job(&id).await.expect("redis").expect("job");
        assert_eq!(job.state, JobState::Failed);
        assert!(job.error.unwrap_or_default().contains("did not complete"));
    }
    assert_eq!(state(&queue, &anyway).await, JobState::Waiting);

    // cancelling a waiting dependency fails its dependents too
    let other = add(&queue, NewJob::new("other")).await;
    let blocked = add(&queue, waiting_for(&[other], "blocked")).await;
    assert_eq!(
        queue.cancel(&other).await.expect("cancel"),
        CancelOutcome::Cancelled
    );
    assert_eq!(state(&queue, &blocked).await, JobState::Failed);
    // and a blocked job can be cancelled itself
    let third = add(&queue, NewJob::new("third")).await;
    let waits = add(&queue, waiting_for(&[third], "waits")).await;
    assert_eq!(
        queue.cancel(&waits).await.expect("cancel"),
        CancelOutcome::Cancelled
    );
    assert_eq!(queue.counts().await.expect("counts").blocked, 0);
    // a dependency that failed before the job was queued fails it at once
    let late = add(&queue, waiting_for(&[root], "late")).await;
    assert_eq!(state(&queue, &late).await, JobState::Failed);
}
