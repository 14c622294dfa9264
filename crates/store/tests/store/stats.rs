use agentq_domain::JobState;
use agentq_store::{MinuteCount, Scope, StateCount, entities::agent_jobs};
use chrono::{NaiveDateTime, Timelike};
use sea_orm::{EntityTrait, Set};

use crate::helpers::{Fixture, TestDb, fixture};
use crate::on_every_backend;

fn row(
    f: &Fixture,
    queue: &str,
    state: JobState,
    completed_at: Option<NaiveDateTime>,
) -> agent_jobs::ActiveModel {
    let now = agentq_store::now();
    agent_jobs::ActiveModel {
        job_id: Set(agentq_domain::JobId::new().to_string()),
        queue_name: Set(queue.into()),
        task_id: Set(f.task.id.get()),
        task_code: Set(f.task.code.clone()),
        agent_id: Set(f.agent.id.get()),
        project_id: Set(f.project.id.get()),
        status: Set(state.as_str().into()),
        progress: Set(0),
        job_data: Set(serde_json::json!({})),
        priority: Set(3),
        queued_at: Set(now),
        completed_at: Set(completed_at),
        attempts_made: Set(1),
        max_attempts: Set(3),
        last_event_ms: Set(0),
        last_event_seq: Set(0),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

fn minute_of(at: NaiveDateTime) -> i64 {
    at.and_utc().timestamp().div_euclid(60)
}

/// Counts per queue and state, and jobs ended per minute, bucketed the same on every backend.
async fn state_counts_and_minutes_are_exact(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let f = fixture(db).await;
    // whole seconds, 30 s into a minute: the buckets below cannot straddle a minute
    let base = agentq_store::now().with_nanosecond(0).expect("time");
    let base =
        base - chrono::Duration::seconds(i64::from(base.second())) + chrono::Duration::seconds(30);
    let ten_ago = base - chrono::Duration::minutes(10);
    let two_hours_ago = base - chrono::Duration::hours(2);
    let mut rows = Vec::new();
    for _ in 0..3 {
        rows.push(row(&f, "q1", JobState::Completed, Some(base)));
    }
    rows.push(row(&f, "q1", JobState::Failed, Some(base)));
    rows.push(row(&f, "q1", JobState::Completed, Some(ten_ago)));
    rows.push(row(&f, "q1", JobState::Completed, Some(two_hours_ago)));
    rows.push(row(&f, "q1", JobState::Waiting, None));
    rows.push(row(&f, "q2", JobState::Active, None));
    rows.push(row(&f, "q2", JobState::Cancelled, Some(base)));
    agent_jobs::Entity::insert_many(rows)
        .exec(db)
        .await
        .expect("insert");

    let mut counts = agentq_store::state_counts(db, &Scope::All)
        .await
        .expect("counts");
    counts
        .sort_by(|a, b| (&a.queue_name, a.state.as_str()).cmp(&(&b.queue_name, b.state.as_str())));
    let count = |queue: &str, state, count| StateCount {
        queue_name: queue.into(),
        state,
        count,
    };
    assert_eq!(
        counts,
        [
            count("q1", JobState::Completed, 5),
            count("q1", JobState::Failed, 1),
            count("q1", JobState::Waiting, 1),
            count("q2", JobState::Active, 1),
            count("q2", JobState::Cancelled, 1),
        ]
    );

    let since = base - chrono::Duration::hours(1);
    let mut minutes = agentq_store::finished_per_minute(db, &Scope::All, since)
        .await
        .expect("minutes");
    minutes.sort_by_key(|m| (m.minute, m.state.as_str()));
    let at = |minute, state, count| MinuteCount {
        minute,
        state,
        count,
    };
    assert_eq!(
        minutes,
        [
            at(minute_of(ten_ago), JobState::Completed, 1),
            at(minute_of(base), JobState::Completed, 3),
            at(minute_of(base), JobState::Failed, 1),
        ]
    );
    // a member of no project sees nothing at all
    let nobody = Scope::Projects(vec![]);
    assert!(
        agentq_store::state_counts(db, &nobody)
            .await
            .expect("counts")
            .is_empty()
    );
    assert!(
        agentq_store::finished_per_minute(db, &nobody, since)
            .await
            .expect("minutes")
            .is_empty()
    );
    test.drop().await;
}

on_every_backend!(state_counts_and_minutes_are_exact);
