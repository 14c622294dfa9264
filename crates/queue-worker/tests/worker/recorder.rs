use std::time::Duration;

use agentq_domain::JobState;
use agentq_queue::{Finished, Outcome};

use crate::helpers::*;

crate::on_sqlite_and_mariadb!(
    the_recorder_applies_every_transition_once_and_in_order,
    &[],
    the_recorder_applies_every_transition_once_and_in_order_scenario
);

async fn the_recorder_applies_every_transition_once_and_in_order_scenario(h: Harness) {
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
    let (shutdown, recorder) = h.start_recorder();
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
    h.cleanup().await;
}

#[tokio::test]
async fn a_database_outage_delays_records_and_loses_none() {
    // MariaDB only: SQLite has no connection to lose
    let Some(h) = Harness::on_mariadb(&[]).await else {
        return;
    };
    let url = h.settings("probe").core.database_url.expose().clone();
    let agent = h.agent("true", 30).await;
    let mut ids = Vec::new();
    for _ in 0..20 {
        ids.push(h.submit(&agent).await);
    }
    // the recorder reaches the database through a proxy that is down from the start
    let (scheme_user, rest) = url.split_once('@').expect("user@host");
    let (host, path) = rest.split_once('/').expect("host/db");
    let proxy = FlakyProxy::start(host.to_owned()).await;
    let proxied = agentq_store::connect(&format!("{scheme_user}@127.0.0.1:{}/{path}", proxy.port))
        .await
        .expect("connect through the proxy");
    proxy.cut();

    let shutdown = tokio_util::sync::CancellationToken::new();
    let recorder = tokio::spawn(agentq_queue_worker::recorder::run_recorder(
        h.queue.clone(),
        proxied,
        "rec".into(),
        shutdown.clone(),
    ));
    // every job runs to completion in Redis while SQL cannot be written
    let leased = h
        .queue
        .cycle("manual", &[], 20)
        .await
        .expect("lease")
        .leased;
    let done: Vec<Finished> = leased
        .iter()
        .map(|job| Finished {
            id: job.id,
            token: job.token,
            outcome: Outcome::Completed("1".into()),
        })
        .collect();
    h.queue.cycle("manual", &done, 0).await.expect("complete");
    tokio::time::sleep(Duration::from_secs(2)).await;
    for id in &ids {
        assert_eq!(
            h.row(id).await.status,
            JobState::Waiting,
            "nothing written while down"
        );
    }

    proxy.restore();
    for id in &ids {
        let row = h
            .wait_for_row(id, JobState::Completed, Duration::from_secs(60))
            .await;
        assert_eq!(row.result, Some(serde_json::json!(1)));
        assert!(
            row.started_at.is_some(),
            "every transition was recorded, in order"
        );
    }
    shutdown.cancel();
    recorder.await.expect("recorder");
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    a_change_the_store_refuses_is_written_without_the_agents_text,
    &[],
    a_change_the_store_refuses_scenario
);

async fn a_change_the_store_refuses_scenario(h: Harness) {
    let agent = h.agent("true", 30).await;
    let id = h.submit(&agent).await;
    // over the store's own limit: refused however often it is tried
    let change = agentq_store::JobTransition {
        status: Some(JobState::Completed),
        result: Some(serde_json::json!(
            "z".repeat(agentq_store::MAX_JOB_DATA_BYTES + 1)
        )),
        progress: Some(100),
        ..Default::default()
    };
    let position = agentq_store::EventPosition { ms: 1, seq: 0 };
    let written = agentq_queue_worker::recorder::write_change(&h.db, &id, position, change)
        .await
        .expect("not a passing failure");
    assert_eq!(written, agentq_queue_worker::recorder::Written::Degraded);
    let row = h.row(&id).await;
    assert_eq!(row.status, JobState::Completed);
    assert_eq!(
        row.result.as_ref().map(|r| r["unrecorded"].clone()),
        Some(serde_json::json!(true))
    );
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("could not record")),
        "{row:?}"
    );
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    an_event_with_a_huge_result_is_recorded_bounded_and_later_events_follow,
    &[],
    an_event_with_a_huge_result_scenario
);

/// An event written by hand (not by a worker, which bounds what it reports): the recorder
/// still records it, bounded, and the events after it.
async fn an_event_with_a_huge_result_scenario(h: Harness) {
    let agent = h.agent("true", 30).await;
    let big = h.submit(&agent).await;
    let after = h.submit(&agent).await;
    let mut conn = h.queue.redis().connection().await.expect("conn");
    let result = serde_json::json!({"data": "q".repeat(3 * 1024 * 1024)}).to_string();
    let _: String = redis::cmd("XADD")
        .arg(h.queue.keys().events())
        .arg("*")
        .arg(&[
            "event",
            "agent_job_completed",
            "job",
            &big.to_string(),
            "result",
            &result,
        ])
        .query_async(&mut conn)
        .await
        .expect("xadd");
    // and an entry nobody can read, between them
    let _: String = redis::cmd("XADD")
        .arg(h.queue.keys().events())
        .arg("*")
        .arg(&["nonsense", "1"])
        .query_async(&mut conn)
        .await
        .expect("xadd");
    let leased = h.queue.cycle("manual", &[], 2).await.expect("lease").leased;
    let token = leased.iter().find(|j| j.id == after).expect("leased").token;
    let done = Finished {
        id: after,
        token,
        outcome: Outcome::Completed("2".into()),
    };
    h.queue.cycle("manual", &[done], 0).await.expect("finish");

    let (shutdown, recorder) = h.start_recorder();
    let row = h
        .wait_for_row(&after, JobState::Completed, Duration::from_secs(10))
        .await;
    assert_eq!(row.result, Some(serde_json::json!(2)));
    let row = h.row(&big).await;
    let kept = row.result.expect("a result");
    assert_eq!(kept["truncated"], true, "{kept}");
    shutdown.cancel();
    recorder.await.expect("recorder");
    h.cleanup().await;
}
