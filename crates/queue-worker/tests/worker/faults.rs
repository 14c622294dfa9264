//! Operations nobody planned for, under load: Redis forgets its scripts, Redis stops and comes
//! back empty, the database answers slowly while finished jobs age out of Redis.

use std::collections::HashMap;
use std::time::Duration;

use agentq_domain::{JobId, JobState};

use crate::helpers::*;

/// Settings for a Redis of the test's own and a reconciler quick enough to act in the test.
fn own_redis(url: &str) -> Vec<(&str, &str)> {
    vec![
        ("REDIS_URL", url),
        ("AGENTQ_RECONCILE_EVERY_MS", "300"),
        ("AGENTQ_RECONCILE_GRACE_MS", "500"),
    ]
}

/// An agent that records each run it finishes in `trace`, one line per run.
async fn traced_agent(h: &Harness, trace: &std::path::Path) -> agentq_store::Agent {
    let script = format!(
        "sleep 0.05; echo \"$AGENTQ_JOB_ID\" >> {}; echo '{{\"result\": 1}}'",
        trace.display()
    );
    h.agent(&script, 30).await
}

/// How many finished runs each job had.
fn runs(trace: &std::path::Path) -> HashMap<String, usize> {
    let mut runs = HashMap::new();
    for line in std::fs::read_to_string(trace).unwrap_or_default().lines() {
        *runs.entry(line.to_owned()).or_default() += 1;
    }
    runs
}

fn trace_file() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("agentq-runs-{}", JobId::new()))
}

#[tokio::test]
async fn jobs_complete_when_redis_forgets_its_scripts_mid_run() {
    let redis = OwnRedis::start();
    let url = redis.url();
    let h = Harness::new(&own_redis(&url)).await;
    let trace = trace_file();
    let agent = traced_agent(&h, &trace).await;
    let (stop, worker) = h.start_worker("w1");
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(h.submit(&agent).await);
        if i % 10 == 9 {
            assert!(redis.cli(&["SCRIPT", "FLUSH"]), "script flush");
        }
    }
    for id in &ids {
        h.wait_for_row(id, JobState::Completed, Duration::from_secs(30))
            .await;
    }
    let runs = runs(&trace);
    for id in &ids {
        assert_eq!(runs.get(&id.to_string()), Some(&1), "{id}");
    }
    stop.cancel();
    worker.await.expect("join").expect("worker");
    let _ = std::fs::remove_file(&trace);
    h.cleanup().await;
}

/// Redis stops and a new one, empty, takes its port, while jobs are being submitted: every job
/// is recorded completed in the end (the reconciler re-creates what Redis lost), and the
/// worker never needed a restart.
#[tokio::test]
async fn every_job_completes_across_a_real_redis_stop_and_restart_under_enqueue_load() {
    let mut redis = OwnRedis::start();
    let url = redis.url();
    let h = Harness::new(&own_redis(&url)).await;
    let trace = trace_file();
    let agent = traced_agent(&h, &trace).await;
    let (stop, worker) = h.start_worker("w1");
    let mut ids = Vec::new();
    for i in 0..60 {
        // what the gateway does: the row first; an enqueue that fails leaves it to the reconciler
        ids.push(h.submit_row(&agent).await);
        let _ = h.enqueue_row(ids[i]).await;
        if i == 20 {
            redis.restart();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for id in &ids {
        h.wait_for_row(id, JobState::Completed, Duration::from_secs(60))
            .await;
    }
    let runs = runs(&trace);
    for id in &ids {
        assert!(
            runs.contains_key(&id.to_string()),
            "{id} never finished a run"
        );
    }
    stop.cancel();
    worker.await.expect("join").expect("worker");
    let _ = std::fs::remove_file(&trace);
    h.cleanup().await;
}

/// The database answers slowly, so the recorder lags, while finished jobs' hashes leave Redis
/// (here deleted as retention would trim them). The reconciler sees unfinished rows with no
/// Redis trace, and must not run any of those jobs again.
#[tokio::test]
async fn a_slow_database_never_makes_the_reconciler_run_a_finished_job_again() {
    let Some(scratch) =
        agentq_test_support::ScratchDatabase::create("AGENTQ_TEST_MYSQL_URL", "agentq_slow").await
    else {
        return;
    };
    let upstream = scratch
        .url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("host:port")
        .to_owned();
    let proxy = SlowProxy::start(upstream.clone(), Duration::from_millis(150)).await;
    let slow_url = scratch
        .url
        .replace(&upstream, &format!("127.0.0.1:{}", proxy.port));
    let redis = OwnRedis::start();
    let url = redis.url();
    let mut env = own_redis(&url);
    env.push(("AGENTQ_RECONCILE_GRACE_MS", "0"));
    env.push(("DATABASE_URL", &slow_url));
    let h = Harness::new(&env).await;
    let trace = trace_file();
    let agent = traced_agent(&h, &trace).await;
    let (stop, worker) = h.start_worker("w1");
    let mut ids = Vec::new();
    for _ in 0..30 {
        ids.push(h.submit(&agent).await);
    }
    let mut conn = h.queue.redis().connection().await.expect("conn");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        // retention, as fast as it can be: every finished job's hash goes at once
        let done: Vec<String> = redis::cmd("ZRANGE")
            .arg(h.queue.keys().completed())
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .expect("zrange");
        for id in &done {
            let _: i64 = redis::cmd("DEL")
                .arg(format!("{}job:{id}", h.queue.keys().prefix()))
                .query_async(&mut conn)
                .await
                .expect("del");
        }
        let finished = agentq_store::jobs_by_task(&h.db, &agentq_store::Scope::All, h.task.id)
            .await
            .expect("rows")
            .iter()
            .filter(|row| row.status == JobState::Completed)
            .count();
        if finished == ids.len() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{finished} of {} completed",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // a few more reconciler passes, with every row recorded
    tokio::time::sleep(Duration::from_secs(1)).await;
    let runs = runs(&trace);
    for id in &ids {
        assert_eq!(runs.get(&id.to_string()), Some(&1), "{id} ran again");
    }
    stop.cancel();
    worker.await.expect("join").expect("worker");
    drop(proxy);
    let _ = std::fs::remove_file(&trace);
    h.cleanup().await;
    scratch.drop().await;
}
