use std::time::Duration;

use agentq_domain::{JobId, JobState};

use crate::helpers::*;

/// The worker's settings for a Redis of the test's own, which it may flush, and a reconciler
/// quick enough to notice within the test.
fn own_redis_env(url: &str) -> [(&str, &str); 3] {
    [
        ("REDIS_URL", url),
        ("AGENTQ_RECONCILE_EVERY_MS", "300"),
        ("AGENTQ_RECONCILE_GRACE_MS", "200"),
    ]
}

#[tokio::test]
async fn jobs_survive_redis_losing_all_its_data_mid_run_on_sqlite() {
    let redis = OwnRedis::start();
    let url = redis.url();
    let h = Harness::new(&own_redis_env(&url)).await;
    jobs_survive_redis_losing_all_its_data_mid_run(h, redis).await;
}

#[tokio::test]
async fn jobs_survive_redis_losing_all_its_data_mid_run_on_mariadb() {
    let redis = OwnRedis::start();
    let url = redis.url();
    if let Some(h) = Harness::on_mariadb(&own_redis_env(&url)).await {
        jobs_survive_redis_losing_all_its_data_mid_run(h, redis).await;
    }
}

async fn jobs_survive_redis_losing_all_its_data_mid_run(h: Harness, redis: OwnRedis) {
    let agent = h.agent("sleep 0.05; echo '{\"result\": 1}'", 30).await;
    let (stop, worker) = h.start_worker("w1");
    let mut ids = Vec::new();
    for _ in 0..100 {
        ids.push(h.submit(&agent).await);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let done = agentq_store::list_jobs(
            &h.db,
            &agentq_store::Scope::All,
            &agentq_store::JobFilter {
                states: vec![JobState::Completed],
                ..Default::default()
            },
            500,
            None,
        )
        .await
        .expect("rows")
        .jobs
        .len();
        if done >= 20 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker did not get going"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(redis.cli(&["FLUSHALL"]), "flush");
    for id in &ids {
        h.wait_for_row(id, JobState::Completed, Duration::from_secs(60))
            .await;
    }
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    a_pass_requeues_rows_redis_lost_and_finishes_rows_redis_finished,
    &[],
    a_pass_requeues_rows_redis_lost_and_finishes_rows_redis_finished_scenario
);

async fn a_pass_requeues_rows_redis_lost_and_finishes_rows_redis_finished_scenario(h: Harness) {
    let agent = h.agent("true", 30).await;
    let finished = h.submit(&agent).await;
    let lost = h.submit(&agent).await;
    // the first finishes in Redis with no recorder running; the second's Redis job vanishes
    let leased = h
        .queue
        .cycle("manual", &[], 1)
        .await
        .expect("lease")
        .leased
        .remove(0);
    assert_eq!(leased.id, finished);
    let done = agentq_queue::Finished {
        id: finished,
        token: leased.token,
        outcome: agentq_queue::Outcome::Completed("7".into()),
    };
    h.queue.cycle("manual", &[done], 0).await.expect("finish");
    let mut conn = h.queue.redis().connection().await.expect("conn");
    redis_del(&mut conn, &h.queue.keys().job(&lost)).await;
    // and every event was lost with them: nothing is left for the recorder to catch up on
    forget_every_event(&h).await;

    let pass = reconcile(&h).await;
    assert_eq!((pass.requeued, pass.finished), (1, 1));
    let row = h.row(&finished).await;
    assert_eq!(
        (row.status, row.result.clone()),
        (JobState::Completed, Some(serde_json::json!(7)))
    );
    assert_eq!(
        h.queue.job(&lost).await.expect("redis").map(|j| j.state),
        Some(JobState::Waiting)
    );
    // a second pass finds nothing to do
    let again = reconcile(&h).await;
    assert_eq!((again.requeued, again.finished), (0, 0));
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    a_held_job_redis_lost_is_held_again_never_free_to_run,
    &[],
    a_held_job_redis_lost_is_held_again_never_free_to_run_scenario
);

/// A job waiting for approval that Redis lost (its hash and the held set gone) comes back
/// held: re-creating it `waiting` would let it run without anyone's approval.
async fn a_held_job_redis_lost_is_held_again_never_free_to_run_scenario(h: Harness) {
    let agent = h.agent("true", 30).await;
    let held = h.submit_held_row(&agent).await;
    assert_eq!(h.row(&held).await.status, JobState::AwaitingApproval);
    assert_eq!(
        h.queue.job(&held).await.expect("redis"),
        None,
        "Redis never had it"
    );

    let pass = reconcile(&h).await;
    assert_eq!(pass.requeued, 1);
    let live = h
        .queue
        .job(&held)
        .await
        .expect("redis")
        .expect("re-created");
    assert_eq!(live.state, JobState::AwaitingApproval);
    let counts = h.queue.counts().await.expect("counts");
    assert_eq!((counts.waiting, counts.awaiting_approval), (0, 1));
    // approved, it waits to run like any job
    let decided = h
        .queue
        .decide(&held, agentq_queue::Decision::Approved, "")
        .await
        .expect("decide");
    assert_eq!(decided, agentq_queue::DecideOutcome::Decided);
    assert_eq!(h.queue.counts().await.expect("counts").waiting, 1);
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    a_blocked_job_redis_lost_is_blocked_again_on_its_dependencies,
    &[],
    a_blocked_job_redis_lost_is_blocked_again_on_its_dependencies_scenario
);

/// A job waiting for another task's job, lost by Redis, comes back blocked on that job (its
/// dependencies resolved again from SQL), so only the dependency can run.
async fn a_blocked_job_redis_lost_is_blocked_again_on_its_dependencies_scenario(h: Harness) {
    let agent = h.agent("true", 30).await;
    let other = agentq_store::create_task(&h.db, h.project.id, "DEP-1", "dependency")
        .await
        .expect("task");
    // the dependency: a job of the other task, waiting in Redis
    let dependency_id = h
        .insert_row(&agent, &other, serde_json::json!({}), false)
        .await;
    assert!(h.enqueue_row(dependency_id).await.expect("enqueue"));
    // the dependent's row is there, its Redis job is not (nor any event the recorder missed)
    let context = serde_json::json!({"dependencies": [other.id.get()]});
    let dependent_id = h.insert_row(&agent, &h.task, context, false).await;
    forget_every_event(&h).await;

    let pass = reconcile(&h).await;
    assert_eq!(
        pass.requeued, 1,
        "the dependent, not its waiting dependency"
    );
    assert_eq!(
        h.queue
            .job(&dependent_id)
            .await
            .expect("redis")
            .map(|j| j.state),
        Some(JobState::Blocked)
    );
    let leased: Vec<JobId> = h
        .queue
        .cycle("w", &[], 5)
        .await
        .expect("lease")
        .leased
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(leased, [dependency_id], "only the dependency can run");
    h.cleanup().await;
}

/// Empties the events stream: nothing is left for the recorder to catch up on.
async fn forget_every_event(h: &Harness) {
    let mut conn = h.queue.redis().connection().await.expect("conn");
    let _: i64 = redis::cmd("XTRIM")
        .arg(h.queue.keys().events())
        .arg("MAXLEN")
        .arg(0)
        .query_async(&mut conn)
        .await
        .expect("xtrim");
}

async fn redis_del(conn: &mut agentq_queue::Connection, key: &str) {
    let _: i64 = redis::cmd("DEL")
        .arg(key)
        .query_async(conn)
        .await
        .expect("del");
}

crate::on_sqlite_and_mariadb!(
    a_job_unknown_to_redis_is_not_run_again_while_the_recorder_is_behind,
    &[],
    a_job_unknown_to_redis_is_not_run_again_while_the_recorder_is_behind_scenario
);

/// A finished job's hash is trimmed after a while; if the recorder is behind (a long database
/// outage, say), SQL still says the job is waiting. Re-enqueuing it would run it twice.
async fn a_job_unknown_to_redis_is_not_run_again_while_the_recorder_is_behind_scenario(h: Harness) {
    let agent = h.agent("true", 30).await;
    let id = h.submit(&agent).await;
    let leased = h.queue.cycle("manual", &[], 1).await.expect("lease").leased;
    let done = agentq_queue::Finished {
        id,
        token: leased[0].token,
        outcome: agentq_queue::Outcome::Completed("1".into()),
    };
    h.queue.cycle("manual", &[done], 0).await.expect("finish");
    // retention trims the finished job's hash before any recorder ran
    let mut conn = h.queue.redis().connection().await.expect("conn");
    redis_del(&mut conn, &h.queue.keys().job(&id)).await;
    assert_eq!(h.row(&id).await.status, JobState::Waiting);

    let pass = reconcile(&h).await;
    assert_eq!(
        pass.requeued, 0,
        "the recorder has not caught up: nothing is provably lost"
    );
    assert_eq!(h.queue.job(&id).await.expect("redis"), None);

    // the recorder catches up: the row is completed, and stays so
    let (shutdown, recorder) = h.start_recorder();
    h.wait_for_row(&id, JobState::Completed, Duration::from_secs(10))
        .await;
    let pass = reconcile(&h).await;
    assert_eq!((pass.requeued, pass.finished), (0, 0));
    assert_eq!(h.queue.job(&id).await.expect("redis"), None);
    shutdown.cancel();
    recorder.await.expect("recorder");
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    a_lost_hash_of_a_waiting_a_delayed_and_an_active_job_is_dropped_and_the_job_runs_from_sql,
    &[
        ("AGENTQ_LOCK_DURATION_MS", "300"),
        ("AGENTQ_RECONCILE_EVERY_MS", "300"),
        ("AGENTQ_RECONCILE_GRACE_MS", "0"),
    ],
    a_lost_hash_scenario
);

/// A job id whose hash is gone (evicted, deleted by hand) in each state a worker meets it in:
/// in the wait set, due for a retry, and under an expired lease. The worker's cycle drops each
/// (never failing half-way, never leaving a partial hash), the jobs around them run on, and
/// the reconciler re-creates the three from SQL.
async fn a_lost_hash_scenario(h: Harness) {
    let agent = h.agent("echo '{\"result\": \"ran\"}'", 30).await;
    let mut conn = h.queue.redis().connection().await.expect("conn");
    let mut config = h.queue.config().clone();
    config.lease = Duration::from_millis(300);
    let queue = agentq_queue::Queue::new(h.queue.redis().clone(), config);
    // an active job: leased by a worker that then loses its hash
    let active = h.submit(&agent).await;
    let leased = queue.cycle("gone", &[], 1).await.expect("lease").leased;
    assert_eq!(leased[0].id, active);
    // a delayed job: its first attempt failed, its retry is due soon
    let delayed = h.submit(&agent).await;
    let second = queue.cycle("gone", &[], 1).await.expect("lease").leased;
    let failed = agentq_queue::Finished {
        id: delayed,
        token: second[0].token,
        outcome: agentq_queue::Outcome::Failed("first try".into()),
    };
    queue.cycle("gone", &[failed], 0).await.expect("fail");
    let state = queue.job(&delayed).await.expect("redis").map(|j| j.state);
    assert_eq!(state, Some(JobState::Delayed));
    // a waiting job, among others that are fine
    let waiting = h.submit(&agent).await;
    let mut others = Vec::new();
    for _ in 0..20 {
        others.push(h.submit(&agent).await);
    }
    for id in [&active, &delayed, &waiting] {
        redis_del(&mut conn, &h.queue.keys().job(id)).await;
    }
    let (stop, worker) = h.start_worker("w1");
    for id in others.iter().chain([&active, &delayed, &waiting]) {
        let row = h
            .wait_for_row(id, JobState::Completed, Duration::from_secs(30))
            .await;
        assert_eq!(row.result, Some(serde_json::json!("ran")), "{id}");
    }
    assert!(h.queue.stat("lost").await.expect("stat") >= 3);
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    jobs_redis_lost_come_back_with_their_projects_weight,
    &[],
    jobs_redis_lost_come_back_with_their_projects_weight_scenario
);

/// Jobs Redis lost, of a project of weight 3 and of one of weight 1, come back taking turns
/// as they would have: three to one.
async fn jobs_redis_lost_come_back_with_their_projects_weight_scenario(h: Harness) {
    let agent = h.agent("true", 30).await;
    assert!(
        agentq_store::set_project_weight(&h.db, h.project.id, 3)
            .await
            .expect("weight")
    );
    let other = agentq_store::create_project(&h.db, "Gemini")
        .await
        .expect("project");
    let other_task = agentq_store::create_task(&h.db, other.id, "GEMINI-1", "light")
        .await
        .expect("task");
    for task in std::iter::repeat_n(&h.task, 6).chain(std::iter::repeat_n(&other_task, 2)) {
        h.insert_row(&agent, task, serde_json::json!({}), false)
            .await;
    }
    assert_eq!(reconcile(&h).await.requeued, 8);
    let leased = h.queue.cycle("w", &[], 8).await.expect("cycle").leased;
    let order: String = leased
        .iter()
        .map(|job| {
            if job.project == Some(h.project.id) {
                'h'
            } else {
                'l'
            }
        })
        .collect();
    assert_eq!(order, "hhhlhhhl", "three of weight 3 to one");
    h.cleanup().await;
}

/// One reconciler pass over the harness's queue (one partition), with no grace.
async fn reconcile(h: &Harness) -> agentq_queue_worker::reconciler::Reconciled {
    // a row counts as settled once Redis's clock, read in whole milliseconds, is past its
    // last update (here with no grace): one written in the same millisecond is not yet
    tokio::time::sleep(Duration::from_millis(2)).await;
    agentq_queue_worker::reconciler::reconcile_once(&h.queue.clone().into(), &h.db, Duration::ZERO)
        .await
        .expect("pass")
}
