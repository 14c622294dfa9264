use std::time::Duration;

use agentq_domain::JobState;
use agentq_queue::{Finished, Outcome};

use crate::helpers::*;

#[tokio::test]
async fn the_recorder_applies_every_transition_once_and_in_order() {
    let h = Harness::new(&[]).await;
    let agent = h.agent("true", 30).await;
    let ids = [h.submit(&agent).await, h.submit(&agent).await];
    // transitions made without a worker pool: lease both, complete one, fail the other for good
    let leased = h.queue.cycle("manual", &[], 2).await.expect("lease").leased;
    h.queue
        .progress(&leased[0].id, leased[0].token, 70)
        .await
        .expect("progress");
    let outcomes = vec![
        Finished {
            id: leased[0].id,
            token: leased[0].token,
            outcome: Outcome::Completed("42".into()),
        },
        Finished {
            id: leased[1].id,
            token: leased[1].token,
            outcome: Outcome::FailedForGood("no\nstack line".into()),
        },
    ];
    h.queue.cycle("manual", &outcomes, 0).await.expect("finish");

    // only the recorder runs here: no jobs to run
    let shutdown = tokio_util::sync::CancellationToken::new();
    let recorder = tokio::spawn(agentq_queue_worker::recorder::run_recorder(
        h.queue.clone(),
        h.db.clone(),
        "rec".into(),
        shutdown.clone(),
    ));
    let done = h
        .wait_for_row(&leased[0].id, JobState::Completed, Duration::from_secs(10))
        .await;
    assert_eq!(done.result, Some(serde_json::json!(42)));
    assert!(done.started_at.is_some());
    let failed = h
        .wait_for_row(&leased[1].id, JobState::Failed, Duration::from_secs(10))
        .await;
    assert_eq!(failed.last_error.as_deref(), Some("no"));
    assert_eq!(failed.error_stack.as_deref(), Some("no\nstack line"));
    assert!(ids.contains(&done.job_id) && ids.contains(&failed.job_id));
    shutdown.cancel();
    recorder.await.expect("recorder");
    h.cleanup();
}
