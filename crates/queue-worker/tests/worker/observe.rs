use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use agentq_domain::JobState;

use crate::helpers::{Harness, OwnRedis};

#[tokio::test]
async fn a_worker_warns_when_redis_may_evict_and_exports_its_metrics() {
    let redis = OwnRedis::start();
    assert!(redis.cli(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]));
    let h = Harness::new(&[("REDIS_URL", &redis.url())]).await;
    let agent = h.agent("echo '{\"result\": 1}'", 30).await;
    let job = h.submit(&agent).await;
    let settings = h.settings("observed");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_queue-worker"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("REDIS_URL", redis.url())
        .env("DATABASE_URL", settings.core.database_url.expose())
        .env("AGENTQ_QUEUE", &settings.core.queue)
        .env("AGENTQ_SECRET_KEY", crate::helpers::SECRET_KEY)
        .env("AGENTQ_WORKER_METRICS_ADDR", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped());
    let (mut child, metrics_addr) = agentq_test_support::spawn_listening(command);
    h.wait_for_row(&job, JobState::Completed, Duration::from_secs(30))
        .await;

    let page = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        page.contains("agentq_worker_jobs_total{outcome=\"completed\"} 1"),
        "{page}"
    );
    assert!(
        page.contains("agentq_worker_job_duration_seconds"),
        "{page}"
    );
    let health = reqwest::get(format!("http://{metrics_addr}/healthz"))
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);

    let _ = child.kill();
    let _ = child.wait();
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = pipe.read_to_string(&mut stderr);
    }
    assert!(stderr.contains("maxmemory-policy"), "{stderr}");
    assert!(stderr.contains("allkeys-lru"), "{stderr}");
    h.cleanup().await;
}
