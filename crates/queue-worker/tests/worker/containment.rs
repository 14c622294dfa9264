//! Agents that do what nobody planned for: megabytes of output, bytes that are not UTF-8, a
//! look at the environment, a worker killed or frozen under them.

use std::time::Duration;

use agentq_domain::JobState;

use crate::helpers::*;

crate::on_sqlite_and_mariadb!(
    megabytes_of_output_without_a_result_complete_with_a_bounded_tail,
    &[],
    megabytes_of_output_scenario
);

async fn megabytes_of_output_scenario(h: Harness) {
    // 3 MB of lines, then one 5 MB line, and no result line
    let noisy = h
        .agent(
            "yes 'a line of output' | head -c 3000000; head -c 5000000 /dev/zero | tr '\\0' x; echo; echo last",
            60,
        )
        .await;
    // a result line far over the limit
    let huge_result = h
        .agent(
            "printf '{\"result\": \"'; head -c 2000000 /dev/zero | tr '\\0' y; echo '\"}'",
            60,
        )
        .await;
    let quiet = h.agent("echo '{\"result\": \"fine\"}'", 30).await;
    let (stop, worker) = h.start_worker("w1");
    let noisy_id = h.submit(&noisy).await;
    let huge_id = h.submit(&huge_result).await;
    let quiet_id = h.submit(&quiet).await;

    let row = h
        .wait_for_row(&noisy_id, JobState::Completed, Duration::from_secs(60))
        .await;
    let result = row.result.expect("result");
    let text = result.as_str().expect("the output tail as text");
    assert!(text.len() <= 64 * 1024 + 100, "{}", text.len());
    assert!(
        text.starts_with("[earlier output dropped"),
        "{}",
        &text[..80]
    );
    assert!(text.ends_with("\nlast"), "{}", &text[text.len() - 80..]);
    assert!(text.contains("[cut: "), "the 5 MB line says it was cut");

    let row = h
        .wait_for_row(&huge_id, JobState::Completed, Duration::from_secs(60))
        .await;
    let result = row.result.expect("result");
    assert_eq!(result["truncated"], true, "{result}");
    assert!(
        result["bytes"].as_u64().is_some_and(|b| b > 2_000_000),
        "{result}"
    );
    // later jobs are recorded too: nothing was held back
    h.wait_for_row(&quiet_id, JobState::Completed, Duration::from_secs(30))
        .await;
    let logs = h.queue.logs(&noisy_id).await.expect("logs");
    assert!(
        logs.iter().all(|l| l.len() <= 16 * 1024),
        "log lines are bounded"
    );
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    output_that_is_not_utf8_is_kept_lossily_and_the_job_completes,
    &[],
    binary_output_scenario
);

async fn binary_output_scenario(h: Harness) {
    let agent = h
        .agent(
            "printf 'ok \\377\\376 end\\n'; printf 'err \\377\\n' >&2",
            30,
        )
        .await;
    let (stop, worker) = h.start_worker("w1");
    let id = h.submit(&agent).await;
    let row = h
        .wait_for_row(&id, JobState::Completed, Duration::from_secs(15))
        .await;
    assert_eq!(row.attempts_made, 1);
    let logs = h.queue.logs(&id).await.expect("logs");
    assert!(
        logs.contains(&"ok \u{fffd}\u{fffd} end".to_owned()),
        "{logs:?}"
    );
    assert!(logs.contains(&"err \u{fffd}".to_owned()), "{logs:?}");
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}

/// The real binary, with the services' secrets in its environment: the agent sees none of
/// them, runs in a private directory that holds its MCP config, and the directory is gone
/// after the job.
#[tokio::test]
async fn an_agent_sees_a_clean_environment_and_a_private_directory() {
    let h = Harness::new(&[]).await;
    let agent = h
        .agent(
            "env; echo \"dir $(pwd) $(stat -c %a .)\"; echo \"mcp $AGENTQ_MCP_CONFIG $(stat -c %a \"$AGENTQ_MCP_CONFIG\")\"",
            30,
        )
        .await;
    let work = std::env::temp_dir().join(format!("agentq-work-{}", agentq_domain::JobId::new()));
    let work_dir = work.display().to_string();
    let mut child = h.spawn_binary(
        "contained",
        &[
            (
                "AGENTQ_JWT_SECRET",
                "a-jwt-secret-that-must-not-leak-0123456789",
            ),
            ("AGENTQ_ADMIN_PASSWORD", "admin-password-that-must-not-leak"),
            ("AGENTQ_WORK_DIR", &work_dir),
            ("HOME", "/root"),
        ],
    );
    let id = h.submit(&agent).await;
    h.wait_for_row(&id, JobState::Completed, Duration::from_secs(30))
        .await;
    signal(child.id(), "TERM");
    let _ = child.wait();
    // a clean stop leaves nothing under the work root
    let left: Vec<_> = std::fs::read_dir(&work).expect("work root").collect();
    assert!(left.is_empty(), "{left:?}");
    let logs = h.queue.logs(&id).await.expect("logs");
    let output = logs.join("\n");
    for secret in [
        "AGENTQ_JWT_SECRET",
        "AGENTQ_SECRET_KEY",
        "AGENTQ_ADMIN_PASSWORD",
        "DATABASE_URL",
        "REDIS_URL",
        "must-not-leak",
        SECRET_KEY,
    ] {
        assert!(
            !output.contains(secret),
            "{secret} reached the agent:\n{output}"
        );
    }
    for expected in [
        format!("AGENTQ_JOB_ID={id}"),
        "GREETING=hello".to_owned(),
        "HOME=/root".to_owned(),
        "PATH=".to_owned(),
    ] {
        assert!(output.contains(&expected), "{expected} missing:\n{output}");
    }
    let dir_line = logs
        .iter()
        .find_map(|l| l.strip_prefix("dir "))
        .expect("dir");
    let (dir, mode) = dir_line.rsplit_once(' ').expect("mode");
    assert!(dir.starts_with(&work_dir), "{dir}");
    assert_eq!(mode, "700");
    let mcp_line = logs
        .iter()
        .find_map(|l| l.strip_prefix("mcp "))
        .expect("mcp");
    assert!(
        mcp_line.starts_with(dir) && mcp_line.ends_with(" 600"),
        "{mcp_line}"
    );
    assert!(
        !std::path::Path::new(dir).exists(),
        "the job's directory is removed"
    );
    let _ = std::fs::remove_dir_all(&work);
    h.cleanup().await;
}

/// An agent's variables reach it whether the gateway sealed them or they were stored plain
/// (agents made before sealing); sealed under another key, the attempt fails, saying why and
/// not what, and the agent never runs.
#[tokio::test]
async fn an_agents_env_is_opened_for_it_and_a_seal_under_another_key_runs_nothing() {
    let h = Harness::new(&[]).await;
    let script = "echo \"greeting=$GREETING\"";
    let sealed = h.agent(script, 30).await;
    let plain = h
        .agent_with_env(
            script,
            30,
            agentq_store::AgentEnv::Plain([("GREETING".to_owned(), "plain".to_owned())].into()),
        )
        .await;
    let elsewhere = agentq_secrets::SecretBox::new(&[7; 32]);
    let foreign = h
        .agent_with_env(
            "echo ran",
            30,
            sealed_env(&elsewhere, &[("GREETING", "foreign-env-secret")]),
        )
        .await;
    let (stop, worker) = h.start_worker("w1");
    let sealed_id = h.submit(&sealed).await;
    let plain_id = h.submit(&plain).await;
    let foreign_id = h.submit(&foreign).await;
    for (id, expected) in [(sealed_id, "greeting=hello"), (plain_id, "greeting=plain")] {
        h.wait_for_row(&id, JobState::Completed, Duration::from_secs(30))
            .await;
        let logs = h.queue.logs(&id).await.expect("logs");
        assert!(logs.iter().any(|l| l == expected), "{expected}: {logs:?}");
    }
    let row = h
        .wait_for_row(&foreign_id, JobState::Failed, Duration::from_secs(30))
        .await;
    let error = row.last_error.unwrap_or_default();
    assert!(error.contains("does not open"), "{error}");
    assert!(!error.contains("foreign-env-secret"), "{error}");
    let logs = h.queue.logs(&foreign_id).await.expect("logs");
    assert!(!logs.iter().any(|l| l == "ran"), "the agent ran: {logs:?}");
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}

/// `kill -9` of a worker: the guard sees its worker gone and kills the agent's whole group, so
/// the job never runs twice at once when another worker takes it over.
#[tokio::test]
async fn after_kill_9_of_its_worker_an_agent_does_not_run_on() {
    let h = Harness::new(&[]).await;
    let agent = h.agent("echo pgid $$; sleep 120 & sleep 120", 300).await;
    let mut child = h.spawn_binary("doomed", &[]);
    let id = h.submit(&agent).await;
    let pgid = wait_for_pgid(&h, &id).await;
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    assert_group_gone(&pgid, Duration::from_secs(5)).await;
    h.cleanup().await;
}

/// A worker frozen past its lease (SIGSTOP) cannot renew: its guard kills the agent before the
/// lease runs out, so the worker that takes the job over never runs it beside the first.
#[tokio::test]
async fn a_frozen_worker_past_its_lease_never_runs_a_job_beside_its_successor() {
    let h = Harness::new(&[("AGENTQ_LOCK_DURATION_MS", "3000")]).await;
    let trace = std::env::temp_dir().join(format!("agentq-frozen-{}", agentq_domain::JobId::new()));
    let script = format!(
        "echo pgid $$; echo start $$ $(date +%s%N) >> {0}; sleep 6; echo end $$ $(date +%s%N) >> {0}; echo '{{\"result\": 1}}'",
        trace.display()
    );
    let agent = h.agent(&script, 60).await;
    let mut frozen = h.spawn_binary("frozen", &[("AGENTQ_LOCK_DURATION_MS", "3000")]);
    let id = h.submit(&agent).await;
    let pgid = wait_for_pgid(&h, &id).await;
    // past the first renewal (every second), so the guard runs on a renewed lease
    tokio::time::sleep(Duration::from_millis(1200)).await;
    signal(frozen.id(), "STOP");
    // the guard kills the run before its lease (3 s from the last renewal, which came before
    // the freeze) runs out, so no other worker can have leased the job yet
    assert_group_gone(&pgid, Duration::from_secs(3)).await;
    // another worker recovers the expired lease and runs the job to the end
    let (stop, worker) = h.start_worker("successor");
    h.wait_for_row(&id, JobState::Completed, Duration::from_secs(30))
        .await;
    signal(frozen.id(), "CONT");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let _ = frozen.kill();
    let _ = frozen.wait();
    stop.cancel();
    worker.await.expect("join").expect("worker");
    let lines = std::fs::read_to_string(&trace).expect("trace");
    let _ = std::fs::remove_file(&trace);
    let starts: Vec<u128> = times(&lines, "start");
    let ends: Vec<u128> = times(&lines, "end");
    assert_eq!(
        starts.len(),
        2,
        "the frozen run, then its successor's:\n{lines}"
    );
    assert_eq!(
        ends.len(),
        1,
        "only the successor's run reached its end:\n{lines}"
    );
    assert!(starts[0] < starts[1] && starts[1] < ends[0], "{lines}");
    let row = h.row(&id).await;
    assert_eq!(row.status, JobState::Completed);
    h.cleanup().await;
}

fn times(lines: &str, what: &str) -> Vec<u128> {
    lines
        .lines()
        .filter_map(|l| l.strip_prefix(what))
        .filter_map(|rest| rest.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

async fn wait_for_pgid(h: &Harness, id: &agentq_domain::JobId) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let logs = h.queue.logs(id).await.expect("logs");
        if let Some(pgid) = logs.iter().find_map(|l| l.strip_prefix("pgid ")) {
            return pgid.to_owned();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// No live process of the group is left (a zombie is dead: it only waits to be reaped, which
/// for orphans is up to PID 1, and here that can take a while).
async fn assert_group_gone(pgid: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let out = std::process::Command::new("ps")
            .args(["-e", "-o", "pid=,pgid=,stat="])
            .output()
            .expect("ps");
        let listing = String::from_utf8_lossy(&out.stdout);
        let live: Vec<&str> = listing
            .lines()
            .filter(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                fields.get(1) == Some(&pgid) && !fields.get(2).is_some_and(|s| s.starts_with('Z'))
            })
            .collect();
        if live.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "processes of group {pgid} survive: {live:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The guard's deadline moves with every renewal: an agent that runs for several leases is not
/// stopped while its worker keeps the lease.
#[tokio::test]
async fn an_agent_that_runs_for_several_leases_completes_under_its_guard() {
    let h = Harness::new(&[("AGENTQ_LOCK_DURATION_MS", "600"), ("AGENTQ_ATTEMPTS", "1")]).await;
    let agent = h
        .agent("sleep 2.5; echo '{\"result\": \"long\"}'", 30)
        .await;
    let (stop, worker) = h.start_worker("w1");
    let id = h.submit(&agent).await;
    let row = h
        .wait_for_row(&id, JobState::Completed, Duration::from_secs(20))
        .await;
    assert_eq!(row.result, Some(serde_json::json!("long")));
    assert_eq!(row.attempts_made, 1);
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}

/// An agent that ignores SIGTERM (and so does the child it started) is killed with its whole
/// group once the grace after SIGTERM is over.
#[tokio::test]
async fn an_agent_that_ignores_sigterm_is_killed_with_its_group_after_the_grace() {
    let h = Harness::new(&[]).await;
    let agent = h
        .agent("trap '' TERM; echo pgid $$; sleep 120 & sleep 120", 300)
        .await;
    let (stop, worker) = h.start_worker("w1");
    let id = h.submit(&agent).await;
    let pgid = wait_for_pgid(&h, &id).await;
    let asked = std::time::Instant::now();
    assert_eq!(
        h.queue.cancel(&id).await.expect("cancel"),
        agentq_queue::CancelOutcome::Requested
    );
    assert_group_gone(&pgid, Duration::from_secs(10)).await;
    let took = asked.elapsed();
    assert!(
        took >= agentq_queue_worker::command::KILL_GRACE - Duration::from_millis(500),
        "SIGTERM was ignored, so only SIGKILL after the grace ends it: {took:?}"
    );
    h.wait_for_row(&id, JobState::Cancelled, Duration::from_secs(10))
        .await;
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}
