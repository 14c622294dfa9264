use std::time::Duration;

use agentq_domain::JobState;
use sea_orm::{ActiveModelTrait, Set};

use crate::helpers::*;

crate::on_sqlite_and_mariadb!(
    finished_jobs_past_retention_leave_sql_and_the_rest_stay,
    &[
        ("AGENTQ_RETENTION_DAYS", "30"),
        ("AGENTQ_RETENTION_EVERY_MS", "200")
    ],
    retention_scenario
);

async fn retention_scenario(h: Harness) {
    let agent = h.agent("true", 30).await;
    let old = agentq_store::now() - chrono::Duration::days(40);
    // (status, created long ago): only the first is past retention and finished
    let cases = [("completed", true), ("completed", false), ("waiting", true)];
    let mut ids = Vec::new();
    for (status, aged) in cases {
        let id = h.submit_row(&agent).await;
        let row = h.row(&id).await;
        let update = agentq_store::entities::agent_jobs::ActiveModel {
            id: Set(row.row_id),
            status: Set(status.to_owned()),
            created_at: Set(if aged { old } else { row.created_at }),
            ..Default::default()
        };
        update.update(&h.db).await.expect("age the row");
        ids.push(id);
    }
    let (stop, worker) = h.start_worker("w1");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while agentq_store::job_by_job_id(&h.db, &agentq_store::Scope::All, &ids[0])
        .await
        .expect("sql")
        .is_some()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the old finished job stayed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        h.row(&ids[1]).await.status,
        JobState::Completed,
        "recent: kept"
    );
    assert_eq!(
        h.row(&ids[2]).await.status,
        JobState::Waiting,
        "unfinished: kept"
    );
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}
