use agentq_store::{JobMetrics, Scope, entities::agent_jobs};
use sea_orm::{EntityTrait, Set};

use crate::helpers::{TestDb, fixture};
use crate::on_every_backend;

const ROWS: i64 = 10_000;

/// 10,000 jobs of known statuses and run times: the metrics must come out exactly.
async fn metrics_over_ten_thousand_rows_are_exact(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let f = fixture(db).await;
    let now = agentq_store::now();
    let old = now - chrono::Duration::days(3);
    let mut expected = JobMetrics::default();
    let mut time_sum = 0i64;
    let mut timed = 0i64;
    let mut rows = Vec::new();
    for i in 0..ROWS {
        // the last 500 are outside the window and must not count
        let in_window = i < ROWS - 500;
        let status = match i % 10 {
            0..=5 => "completed",
            6 | 7 => "failed",
            8 => "waiting",
            _ => "cancelled",
        };
        let execution_time_ms = (status == "completed" && i % 7 != 0).then_some(i % 1_000 + 1);
        if in_window {
            match status {
                "completed" => expected.completed += 1,
                "failed" => expected.failed += 1,
                "waiting" => expected.waiting += 1,
                _ => expected.cancelled += 1,
            }
            if let Some(ms) = execution_time_ms {
                time_sum += ms;
                timed += 1;
            }
        }
        rows.push(agent_jobs::ActiveModel {
            job_id: Set(agentq_domain::JobId::new().to_string()),
            queue_name: Set("agent-execution".into()),
            task_id: Set(f.task.id.get()),
            task_code: Set(f.task.code.clone()),
            agent_id: Set(f.agent.id.get()),
            project_id: Set(f.project.id.get()),
            status: Set(status.into()),
            progress: Set(0),
            job_data: Set(serde_json::json!({})),
            priority: Set(3),
            queued_at: Set(now),
            attempts_made: Set(0),
            max_attempts: Set(3),
            last_event_ms: Set(0),
            last_event_seq: Set(0),
            execution_time_ms: Set(execution_time_ms),
            created_at: Set(if in_window { now } else { old }),
            updated_at: Set(now),
            ..Default::default()
        });
    }
    for chunk in rows.chunks(500) {
        agent_jobs::Entity::insert_many(chunk.to_vec())
            .exec(db)
            .await
            .expect("insert");
    }
    expected.avg_execution_time_ms = Some(time_sum as f64 / timed as f64);
    expected.success_rate =
        Some(expected.completed as f64 * 100.0 / (expected.completed + expected.failed) as f64);

    let since = now - chrono::Duration::days(1);
    let metrics = agentq_store::metrics(db, &Scope::All, since)
        .await
        .expect("metrics");
    assert_eq!(metrics, expected);
    // a member of no project sees nothing at all
    let none = agentq_store::metrics(db, &Scope::Projects(vec![]), since)
        .await
        .expect("metrics");
    assert_eq!(none, JobMetrics::default());
    test.drop().await;
}

on_every_backend!(metrics_over_ten_thousand_rows_are_exact);
