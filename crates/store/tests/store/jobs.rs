use agentq_domain::{AgentId, JobId, JobState, ProjectId, TaskId, Usage};
use agentq_store::{EventPosition, JobFilter, JobTransition, Scope, StoreError, TransitionOutcome};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};

use crate::helpers::{TestDb, fixture, new_job};
use crate::on_every_backend;

fn at(ms: i64, seq: i64) -> EventPosition {
    EventPosition { ms, seq }
}

fn to(status: JobState) -> JobTransition {
    JobTransition {
        status: Some(status),
        ..JobTransition::default()
    }
}

async fn a_job_row_and_its_activity_entry_are_written_together(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let f = fixture(db).await;
    let new = new_job(&f);
    let job = agentq_store::insert_job(db, new.clone())
        .await
        .expect("insert");
    assert_eq!(job.status, JobState::Waiting);
    assert_eq!((job.attempts_made, job.max_attempts), (0, 3));
    assert_eq!(job.task_code, "DFO-1007");
    let read = agentq_store::job_by_job_id(db, &Scope::All, &new.job_id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(read, job);
    let activity = agentq_store::entities::activity_log::Entity::find()
        .all(db)
        .await
        .expect("activity");
    assert_eq!(activity.len(), 1);
    assert_eq!(activity[0].action, "job_queued");
    assert_eq!(
        activity[0].job_id.as_deref(),
        Some(new.job_id.to_string().as_str())
    );

    // the same job id twice is refused, and leaves no second activity entry
    let again = agentq_store::insert_job(db, new).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let count = agentq_store::entities::activity_log::Entity::find()
        .count(db)
        .await
        .expect("count");
    assert_eq!(count, 1);
    test.drop().await;
}

async fn concurrent_submissions_are_written_together_and_a_bad_row_fails_alone(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let f = fixture(db).await;
    let jobs: Vec<_> = (0..5).map(|_| new_job(&f)).collect();
    agentq_store::insert_jobs(db, &jobs).await.expect("batch");
    let ids: Vec<JobId> = jobs.iter().map(|j| j.job_id).collect();
    let read = agentq_store::jobs_by_job_ids(db, &Scope::All, &ids)
        .await
        .expect("read");
    for (job, row) in jobs.iter().zip(&read) {
        let row = row.as_ref().expect("written");
        assert_eq!((row.job_id, row.status), (job.job_id, JobState::Waiting));
    }
    let activity = agentq_store::entities::activity_log::Entity::find()
        .count(db)
        .await
        .expect("count");
    assert_eq!(activity, 5, "one job_queued entry per job");

    // a row whose task does not exist: together, nothing is written; each, only it fails
    let mut bad = new_job(&f);
    bad.task = TaskId::try_from(999_999).expect("id");
    let batch = vec![new_job(&f), bad.clone(), new_job(&f)];
    assert!(agentq_store::insert_jobs(db, &batch).await.is_err());
    let none = agentq_store::jobs_by_job_ids(db, &Scope::All, &[batch[0].job_id])
        .await
        .expect("read");
    assert_eq!(none, vec![None], "all or nothing");
    let results = agentq_store::insert_jobs_each(db, &batch).await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    assert!(
        matches!(results[1], Err(StoreError::MissingReference(_))),
        "{results:?}"
    );
    let activity = agentq_store::entities::activity_log::Entity::find()
        .count(db)
        .await
        .expect("count");
    assert_eq!(activity, 7);

    // reads in the order asked, unknown and out-of-scope ids as None
    let unknown = JobId::new();
    let asked = [batch[2].job_id, unknown, batch[0].job_id];
    let read = agentq_store::jobs_by_job_ids(db, &Scope::All, &asked)
        .await
        .expect("read");
    let got: Vec<Option<JobId>> = read.iter().map(|r| r.as_ref().map(|r| r.job_id)).collect();
    assert_eq!(got, vec![Some(asked[0]), None, Some(asked[2])]);
    let elsewhere = Scope::Projects(vec![ProjectId::try_from(999_999).expect("id")]);
    let hidden = agentq_store::jobs_by_job_ids(db, &elsewhere, &asked)
        .await
        .expect("read");
    assert_eq!(hidden, vec![None, None, None]);

    // tasks and agents by ids: the known ones only
    let tasks = agentq_store::tasks_by_ids(db, &[f.task.id, bad.task])
        .await
        .expect("tasks");
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[&f.task.id].code, f.task.code);
    let agents =
        agentq_store::agents_by_ids(db, &[f.agent.id, AgentId::try_from(999_999).expect("id")])
            .await
            .expect("agents");
    assert_eq!(agents.keys().copied().collect::<Vec<_>>(), vec![f.agent.id]);
    test.drop().await;
}

async fn transitions_apply_only_forwards_and_only_once(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let f = fixture(db).await;
    let id = agentq_store::insert_job(db, new_job(&f))
        .await
        .expect("insert")
        .job_id;
    let apply = |position, change| agentq_store::apply_transition(db, &id, position, change);

    let started = JobTransition {
        status: Some(JobState::Active),
        started_at: Some(agentq_store::from_millis(1_000)),
        ..JobTransition::default()
    };
    assert_eq!(
        apply(at(100, 0), started.clone()).await.expect("apply"),
        TransitionOutcome::Applied
    );
    assert_eq!(
        apply(at(100, 0), started.clone()).await.expect("apply"),
        TransitionOutcome::Stale,
        "duplicate"
    );
    let progress = JobTransition {
        progress: Some(50),
        ..JobTransition::default()
    };
    assert_eq!(
        apply(at(100, 1), progress).await.expect("apply"),
        TransitionOutcome::Applied
    );
    let completed = JobTransition {
        status: Some(JobState::Completed),
        completed_at: Some(agentq_store::from_millis(3_500)),
        result: Some(serde_json::json!({"ok": true})),
        execution_time_ms: Some(2_500),
        progress: Some(100),
        ..JobTransition::default()
    };
    assert_eq!(
        apply(at(102, 0), completed).await.expect("apply"),
        TransitionOutcome::Applied
    );
    // an older event arriving late changes nothing
    assert_eq!(
        apply(at(101, 7), to(JobState::Failed))
            .await
            .expect("apply"),
        TransitionOutcome::Stale
    );
    assert_eq!(
        apply(at(100, 0), started).await.expect("apply"),
        TransitionOutcome::Stale
    );

    let job = agentq_store::job_by_job_id(db, &Scope::All, &id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(job.status, JobState::Completed);
    assert_eq!(job.progress, 100);
    assert_eq!(job.result, Some(serde_json::json!({"ok": true})));
    assert_eq!(job.execution_time_ms, Some(2_500));
    assert_eq!(job.started_at, Some(agentq_store::from_millis(1_000)));

    let unknown =
        agentq_store::apply_transition(db, &JobId::new(), at(1, 0), to(JobState::Active)).await;
    assert_eq!(unknown.expect("apply"), TransitionOutcome::NotFound);
    test.drop().await;
}

async fn a_batch_of_transitions_applies_all_or_nothing(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let f = fixture(db).await;
    let id = agentq_store::insert_job(db, new_job(&f))
        .await
        .expect("insert")
        .job_id;
    let too_big = JobTransition {
        status: Some(JobState::Completed),
        result: Some(serde_json::json!(
            "x".repeat(agentq_store::MAX_JOB_DATA_BYTES)
        )),
        ..JobTransition::default()
    };
    let failed = agentq_store::apply_transitions(
        db,
        vec![
            (id, at(1, 0), to(JobState::Active)),
            (id, at(2, 0), too_big),
        ],
    )
    .await;
    assert!(failed.is_err(), "{failed:?}");
    let row = agentq_store::job_by_job_id(db, &Scope::All, &id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(
        row.status,
        JobState::Waiting,
        "nothing of a failed batch is applied"
    );

    agentq_store::apply_transitions(
        db,
        vec![
            (id, at(1, 0), to(JobState::Active)),
            (id, at(2, 0), to(JobState::Completed)),
            (id, at(1, 5), to(JobState::Failed)),
        ],
    )
    .await
    .expect("batch");
    let row = agentq_store::job_by_job_id(db, &Scope::All, &id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(row.status, JobState::Completed, "in order, forwards only");
    test.drop().await;
}

async fn failed_attempts_keep_their_error_details(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let f = fixture(db).await;
    let id = agentq_store::insert_job(db, new_job(&f))
        .await
        .expect("insert")
        .job_id;
    let retrying = JobTransition {
        status: Some(JobState::Delayed),
        attempts_made: Some(2),
        last_error: Some("timed out".into()),
        ..JobTransition::default()
    };
    agentq_store::apply_transition(db, &id, at(4, 0), retrying.clone())
        .await
        .expect("apply");
    let failed = JobTransition {
        status: Some(JobState::Failed),
        attempts_made: Some(3),
        last_error: Some("exit status 2".into()),
        error_stack: Some("stderr tail\nline 2".into()),
        ..JobTransition::default()
    };
    agentq_store::apply_transition(db, &id, at(5, 0), failed)
        .await
        .expect("apply");
    // a replayed event changes nothing, and adds nothing to the timeline
    agentq_store::apply_transition(db, &id, at(4, 0), retrying)
        .await
        .expect("apply");
    let rows = agentq_store::entities::activity_log::Entity::find()
        .filter(agentq_store::entities::activity_log::Column::Action.eq("attempt_failed"))
        .all(db)
        .await
        .expect("activity rows");
    for row in &rows {
        assert_eq!(row.project_id, Some(f.project.id.get()), "{row:?}");
        assert_eq!(row.task_id, Some(f.task.id.get()), "{row:?}");
    }
    let timeline = agentq_store::job_activity(db, &id).await.expect("activity");
    let actions: Vec<_> = timeline.iter().map(|a| a.action.as_str()).collect();
    assert_eq!(actions, ["job_queued", "attempt_failed", "attempt_failed"]);
    assert_eq!(
        timeline[1].detail,
        Some(serde_json::json!({"attempt": 2, "error": "timed out", "final": false}))
    );
    assert_eq!(
        timeline[2].detail,
        Some(serde_json::json!({"attempt": 3, "error": "exit status 2", "final": true}))
    );
    let failed = agentq_store::failed_jobs(db, &Scope::All, 10)
        .await
        .expect("failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].last_error.as_deref(), Some("exit status 2"));
    assert_eq!(
        failed[0].error_stack.as_deref(),
        Some("stderr tail\nline 2")
    );
    assert_eq!(failed[0].attempts_made, 3);
    test.drop().await;
}

async fn the_seeds_queries_filter_and_respect_the_scope(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let f = fixture(db).await;
    let other_project = agentq_store::create_project(db, "Other")
        .await
        .expect("project");
    let other_task = agentq_store::create_task(db, other_project.id, "X-1", "x")
        .await
        .expect("task");

    let mut ids = Vec::new();
    for i in 0..6 {
        let mut new = new_job(&f);
        if i == 5 {
            new.project = other_project.id;
            new.task = other_task.id;
        }
        ids.push(
            agentq_store::insert_job(db, new)
                .await
                .expect("insert")
                .job_id,
        );
    }
    agentq_store::apply_transition(db, &ids[0], at(1, 0), to(JobState::Active))
        .await
        .expect("t");
    agentq_store::apply_transition(db, &ids[1], at(1, 1), to(JobState::Completed))
        .await
        .expect("t");
    agentq_store::apply_transition(db, &ids[2], at(1, 2), to(JobState::Delayed))
        .await
        .expect("t");
    agentq_store::apply_transition(db, &ids[3], at(1, 3), to(JobState::Failed))
        .await
        .expect("t");

    let all = Scope::All;
    let mine = agentq_store::scope_for(db, &f.member).await.expect("scope");
    assert_eq!(mine, Scope::Projects(vec![f.project.id]));
    let job_ids =
        |jobs: Vec<agentq_store::JobRecord>| jobs.into_iter().map(|j| j.job_id).collect::<Vec<_>>();

    // newest first; waiting, active and delayed count as active
    let active = job_ids(
        agentq_store::active_jobs(db, &all, 10)
            .await
            .expect("active"),
    );
    assert_eq!(active, [ids[5], ids[4], ids[2], ids[0]]);
    let active_mine = job_ids(
        agentq_store::active_jobs(db, &mine, 10)
            .await
            .expect("active"),
    );
    assert_eq!(
        active_mine,
        [ids[4], ids[2], ids[0]],
        "the other project's job is not visible"
    );

    let by_agent = agentq_store::jobs_by_agent(db, &all, f.agent.id, Some(JobState::Completed), 10)
        .await
        .expect("agent");
    assert_eq!(job_ids(by_agent), [ids[1]]);
    assert_eq!(
        agentq_store::jobs_by_agent(db, &all, f.agent.id, None, 3)
            .await
            .expect("agent")
            .len(),
        3
    );
    assert_eq!(
        agentq_store::jobs_by_task(db, &all, f.task.id)
            .await
            .expect("task")
            .len(),
        5
    );
    assert_eq!(
        agentq_store::jobs_by_task(db, &mine, other_task.id)
            .await
            .expect("task")
            .len(),
        0
    );
    assert_eq!(
        agentq_store::jobs_by_project(db, &all, other_project.id, 10)
            .await
            .expect("project")
            .len(),
        1
    );
    assert_eq!(
        agentq_store::jobs_by_project(db, &mine, other_project.id, 10)
            .await
            .expect("project")
            .len(),
        0
    );

    // a job of a project out of scope reads as missing
    assert!(
        agentq_store::job_by_job_id(db, &mine, &ids[5])
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        agentq_store::job_by_job_id(db, &Scope::Projects(vec![]), &ids[0])
            .await
            .expect("read")
            .is_none()
    );
    test.drop().await;
}

async fn lists_page_by_keyset_with_a_hard_maximum(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let f = fixture(db).await;
    let mut ids = Vec::new();
    for _ in 0..7 {
        ids.push(
            agentq_store::insert_job(db, new_job(&f))
                .await
                .expect("insert")
                .job_id,
        );
    }
    ids.reverse();
    let filter = JobFilter::default();
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = agentq_store::list_jobs(db, &Scope::All, &filter, 3, cursor)
            .await
            .expect("page");
        assert!(page.jobs.len() <= 3);
        seen.extend(page.jobs.iter().map(|j| j.job_id));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, ids);
    let huge = agentq_store::list_jobs(db, &Scope::All, &filter, u64::MAX, None)
        .await
        .expect("page");
    assert_eq!(huge.jobs.len(), 7, "the limit is clamped, not trusted");
    let tiny = agentq_store::list_jobs(db, &Scope::All, &filter, 0, None)
        .await
        .expect("page");
    assert_eq!(tiny.jobs.len(), 1, "a zero limit still means one row");
    test.drop().await;
}

async fn cleanup_deletes_old_finished_jobs_in_batches(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let f = fixture(db).await;
    let old = agentq_store::now() - chrono::Duration::days(40);
    let mut expected_left = 0;
    for (i, status) in [
        "completed",
        "failed",
        "cancelled",
        "completed",
        "completed",
        "waiting",
        "active",
    ]
    .iter()
    .enumerate()
    {
        let job = agentq_store::insert_job(db, new_job(&f))
            .await
            .expect("insert");
        let row = agentq_store::entities::agent_jobs::ActiveModel {
            id: Set(job.row_id),
            status: Set((*status).to_owned()),
            created_at: Set(if i == 4 { agentq_store::now() } else { old }),
            ..Default::default()
        };
        row.update(db).await.expect("age the row");
        if i >= 4 {
            expected_left += 1;
        }
    }
    let deleted = agentq_store::cleanup_old_jobs(db, 30, 2)
        .await
        .expect("cleanup");
    assert_eq!(deleted, 4, "old finished jobs only");
    let left = agentq_store::entities::agent_jobs::Entity::find()
        .count(db)
        .await
        .expect("count");
    assert_eq!(left, expected_left);
    test.drop().await;
}

async fn bad_data_gets_a_clear_error(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let f = fixture(db).await;

    let mut missing_task = new_job(&f);
    missing_task.task = TaskId::try_from(999_999).expect("id");
    let err = agentq_store::insert_job(db, missing_task)
        .await
        .expect_err("missing task");
    assert!(matches!(err, StoreError::MissingReference(_)), "{err:?}");

    let mut missing_agent = new_job(&f);
    missing_agent.agent = AgentId::try_from(999_999).expect("id");
    assert!(matches!(
        agentq_store::insert_job(db, missing_agent).await,
        Err(StoreError::MissingReference(_))
    ));

    let mut oversized = new_job(&f);
    oversized.job_data = serde_json::json!({"blob": "x".repeat(agentq_store::MAX_JOB_DATA_BYTES)});
    let err = agentq_store::insert_job(db, oversized)
        .await
        .expect_err("too large");
    assert!(matches!(err, StoreError::TooLarge { .. }), "{err:?}");

    let id = agentq_store::insert_job(db, new_job(&f))
        .await
        .expect("insert")
        .job_id;
    let huge_result = JobTransition {
        result: Some(serde_json::json!(
            "y".repeat(agentq_store::MAX_JOB_DATA_BYTES + 1)
        )),
        ..JobTransition::default()
    };
    let err = agentq_store::apply_transition(db, &id, at(1, 0), huge_result)
        .await
        .expect_err("too large");
    assert!(matches!(err, StoreError::TooLarge { .. }));

    let err = agentq_store::create_task(db, ProjectId::try_from(999_999).expect("id"), "A", "a")
        .await
        .expect_err("no project");
    assert!(matches!(err, StoreError::NotFound(_)), "{err:?}");
    let err = agentq_store::create_task(db, f.project.id, "DFO-1007", "dup")
        .await
        .expect_err("dup");
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    test.drop().await;
}

async fn usage_totals_are_recorded_and_summed_per_project_and_day(test: TestDb) {
    let test = test.migrated().await;
    let db = &test.db;
    let f = fixture(db).await;
    assert_eq!(f.project.budget_micro_usd_per_day, None);
    assert!(
        agentq_store::set_project_budget(db, f.project.id, Some(50_000))
            .await
            .expect("budget")
    );
    let project = agentq_store::project_by_id(db, &agentq_store::Scope::All, f.project.id)
        .await
        .expect("read")
        .expect("project");
    assert_eq!(project.budget_micro_usd_per_day, Some(50_000));
    let missing = ProjectId::try_from(999_999).expect("id");
    assert!(
        !agentq_store::set_project_budget(db, missing, Some(1))
            .await
            .expect("no such project")
    );

    let since = agentq_store::now() - chrono::Duration::hours(1);
    let nothing = agentq_store::project_usage_since(db, f.project.id, since)
        .await
        .expect("sum of no usage");
    assert!(nothing.is_zero());

    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            agentq_store::insert_job(db, new_job(&f))
                .await
                .expect("insert")
                .job_id,
        );
    }
    let spent = |input, cost| Usage {
        input_tokens: input,
        output_tokens: 1,
        cost_micro_usd: cost,
    };
    let usage = |usage| JobTransition {
        usage: Some(usage),
        ..JobTransition::default()
    };
    // totals, not deltas: a later event replaces an earlier one; a stale one changes nothing
    let apply = |id, position, change| agentq_store::apply_transition(db, id, position, change);
    apply(&ids[0], at(100, 0), usage(spent(10, 20_000)))
        .await
        .expect("apply");
    apply(&ids[0], at(100, 1), usage(spent(30, 25_000)))
        .await
        .expect("apply");
    apply(&ids[0], at(100, 0), usage(spent(99, 99_999)))
        .await
        .expect("apply");
    // large sums: SUM over BIGINT must decode on every backend
    apply(
        &ids[1],
        at(100, 0),
        usage(spent(5_000_000_000, 7_000_000_000)),
    )
    .await
    .expect("apply");
    let row = agentq_store::job_by_job_id(db, &agentq_store::Scope::All, &ids[0])
        .await
        .expect("read")
        .expect("row");
    assert_eq!(row.usage, Some(spent(30, 25_000)));
    let untouched = agentq_store::job_by_job_id(db, &agentq_store::Scope::All, &ids[2])
        .await
        .expect("read")
        .expect("row");
    assert_eq!(untouched.usage, None, "no report, no usage");

    let total = agentq_store::project_usage_since(db, f.project.id, since)
        .await
        .expect("sum");
    assert_eq!(
        total,
        Usage {
            input_tokens: 5_000_000_030,
            output_tokens: 2,
            cost_micro_usd: 7_000_025_000,
        }
    );
    let later = agentq_store::now() + chrono::Duration::hours(1);
    let none_since = agentq_store::project_usage_since(db, f.project.id, later)
        .await
        .expect("sum");
    assert!(
        none_since.is_zero(),
        "jobs queued before `since` do not count"
    );
    test.drop().await;
}

on_every_backend!(
    usage_totals_are_recorded_and_summed_per_project_and_day,
    a_job_row_and_its_activity_entry_are_written_together,
    concurrent_submissions_are_written_together_and_a_bad_row_fails_alone,
    transitions_apply_only_forwards_and_only_once,
    a_batch_of_transitions_applies_all_or_nothing,
    failed_attempts_keep_their_error_details,
    the_seeds_queries_filter_and_respect_the_scope,
    lists_page_by_keyset_with_a_hard_maximum,
    cleanup_deletes_old_finished_jobs_in_batches,
    bad_data_gets_a_clear_error,
);
