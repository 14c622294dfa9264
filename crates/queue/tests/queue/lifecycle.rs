use std::time::Duration;

use agentq_domain::{Backoff, JobEventKind, JobState};
use agentq_queue::{JobEvent, NewJob, Outcome, RetryOutcome};

use crate::helpers::*;

#[tokio::test]
async fn a_completed_job_keeps_its_result_and_every_transition_writes_one_event() {
    let queue = queue();
    let id = add(&queue, NewJob::new("{}")).await;
    let job = lease(&queue, "w1", 1).await.remove(0);
    assert!(queue.progress(&id, job.token, 40).await.expect("progress"));
    assert!(finish(&queue, &job, Outcome::Completed(r#"{"ok":true}"#.into())).await);

    let snapshot = queue.job(&id).await.expect("job").expect("exists");
    assert_eq!(snapshot.state, JobState::Completed);
    assert_eq!(snapshot.result.as_deref(), Some(r#"{"ok":true}"#));
    assert_eq!(snapshot.progress, 100);
    assert_eq!(
        snapshot.attempts_made, 1,
        "the completing attempt counts, as in SQL"
    );
    assert!(snapshot.finished_at >= snapshot.started_at);
    use JobEventKind::*;
    assert_eq!(
        kinds_of(&queue, &id).await,
        [Queued, Started, Progress, Completed]
    );
    let events = all_events(&queue).await;
    let completed = events
        .iter()
        .find(|e| e.kind() == Completed)
        .expect("event");
    let JobEvent::Completed {
        result,
        duration_ms,
        attempt,
    } = &completed.what
    else {
        panic!("{completed:?}");
    };
    assert_eq!(result, r#"{"ok":true}"#);
    assert!(duration_ms.is_some());
    assert_eq!(*attempt, Some(1));
}

#[tokio::test]
async fn failures_retry_after_exponential_backoff_then_fail_for_good() {
    let mut config = config();
    config.backoff = Backoff::new(Duration::from_millis(150), Duration::from_secs(10));
    let backoff = config.backoff;
    let queue = queue_with(config);
    let id = add(&queue, NewJob::new("{}")).await;

    for attempt in 1..=3u32 {
        let leased = lease_one_within(&queue, Duration::from_secs(5))
            .await
            .unwrap_or_else(|| panic!("attempt {attempt} was never leased"));
        assert_eq!(leased.attempts_made, attempt - 1);
        assert!(finish(&queue, &leased, Outcome::Failed(format!("boom {attempt}"))).await);
        let snapshot = queue.job(&id).await.expect("job").expect("exists");
        let expected = if attempt < 3 {
            JobState::Delayed
        } else {
            JobState::Failed
        };
        assert_eq!(snapshot.state, expected, "after attempt {attempt}");
        assert_eq!(snapshot.attempts_made, attempt);
        assert_eq!(
            snapshot.error.as_deref(),
            Some(format!("boom {attempt}").as_str())
        );
    }

    let events: Vec<_> = all_events(&queue).await;
    use JobEventKind::*;
    let kinds: Vec<_> = events.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            Queued, Started, Retrying, Queued, Started, Retrying, Queued, Started, Failed
        ]
    );
    // the retry waits follow the domain's backoff, and no attempt starts early
    let retrying: Vec<_> = events.iter().filter(|e| e.kind() == Retrying).collect();
    let started: Vec<_> = events.iter().filter(|e| e.kind() == Started).collect();
    for (n, retry) in retrying.iter().enumerate() {
        let delay = backoff.delay(n as u32 + 1).as_millis() as u64;
        assert!(
            matches!(retry.what, JobEvent::Retrying { delay_ms, .. } if delay_ms == Some(delay)),
            "{retry:?}"
        );
        let waited = started[n + 1].time_ms() - retry.time_ms();
        assert!(
            waited >= delay,
            "attempt {} started after {waited} ms",
            n + 2
        );
    }
    let failed = events.last().expect("failed event");
    assert_eq!(
        failed.what,
        JobEvent::Failed {
            error: "boom 3".into(),
            attempts_made: Some(3)
        }
    );
}

#[tokio::test]
async fn a_job_failed_for_good_is_not_retried_and_can_be_retried_by_hand() {
    let queue = queue();
    let id = add(&queue, NewJob::new("{}")).await;
    let job = lease(&queue, "w", 1).await.remove(0);
    assert!(finish(&queue, &job, Outcome::FailedForGood("bad agent".into())).await);
    assert_eq!(queue.counts().await.expect("counts").failed, 1);

    assert_eq!(queue.retry(&id).await.expect("retry"), RetryOutcome::Queued);
    let again = lease(&queue, "w", 1).await.remove(0);
    assert_eq!((again.id, again.attempts_made), (id, 0));
    assert_eq!(again.token.0, 2);
    assert_eq!(
        queue.retry(&id).await.expect("retry"),
        RetryOutcome::NotFailed
    );
    assert_eq!(
        queue
            .retry(&agentq_domain::JobId::new())
            .await
            .expect("retry"),
        RetryOutcome::NotFound
    );
}

#[tokio::test]
async fn output_lines_are_kept_capped_and_announced_in_batches() {
    let mut config = config();
    config.log_lines_kept = 3;
    let queue = queue_with(config);
    let id = add(&queue, NewJob::new("{}")).await;
    let job = lease(&queue, "w", 1).await.remove(0);
    let lines: Vec<String> = (1..=5).map(|i| format!("line {i}")).collect();
    assert!(queue.log(&id, job.token, &lines[..2]).await.expect("log"));
    assert!(queue.log(&id, job.token, &lines[2..]).await.expect("log"));
    assert_eq!(
        queue.logs(&id).await.expect("logs"),
        ["line 3", "line 4", "line 5"]
    );
    let events = all_events(&queue).await;
    let batches: Vec<_> = events
        .iter()
        .filter_map(|e| match &e.what {
            JobEvent::Log { lines } => Some(lines.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(batches, ["line 1\nline 2", "line 3\nline 4\nline 5"]);
}
