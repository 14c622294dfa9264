use std::time::Duration;

use agentq_domain::{JobEventKind, JobState};

use crate::helpers::*;

crate::on_sqlite_and_mariadb!(
    a_command_agent_completes_with_its_result_progress_and_output,
    &[],
    a_command_agent_completes_with_its_result_progress_and_output_scenario
);

async fn a_command_agent_completes_with_its_result_progress_and_output_scenario(h: Harness) {
    let agent = h
        .agent(
            r#"read input; echo "got $(echo "$input" | grep -o '"jobId":"[^"]*"')"; echo '{"progress": 50}'; echo "$GREETING from $AGENTQ_JOB_ID attempt $AGENTQ_ATTEMPT"; echo '{"log": "structured line"}'; echo '{"result": {"ok": true, "files": 3}}'"#,
            30,
        )
        .await;
    let (stop, worker) = h.start_worker("w1");
    let id = h.submit(&agent).await;
    let row = h
        .wait_for_row(&id, JobState::Completed, Duration::from_secs(15))
        .await;
    assert_eq!(
        row.result,
        Some(serde_json::json!({"ok": true, "files": 3}))
    );
    assert_eq!(row.progress, 100);
    assert_eq!(row.attempts_made, 1);
    assert!(row.started_at.is_some() && row.completed_at.is_some());
    assert!(row.execution_time_ms.is_some());

    let logs = h.queue.logs(&id).await.expect("logs");
    assert!(
        logs.iter()
            .any(|l| l.contains(&format!("\"jobId\":\"{id}\""))),
        "{logs:?}"
    );
    assert!(
        logs.contains(&format!("hello from {id} attempt 1")),
        "{logs:?}"
    );
    assert!(logs.contains(&"structured line".to_owned()), "{logs:?}");
    let events = h
        .queue
        .events_after("0", 1000)
        .await
        .expect("events")
        .events;
    let kinds: Vec<_> = events
        .iter()
        .filter(|e| e.job == id)
        .map(|e| e.kind())
        .collect();
    assert!(kinds.contains(&JobEventKind::Progress), "{kinds:?}");
    assert!(kinds.contains(&JobEventKind::Log), "{kinds:?}");
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    a_failing_agent_is_retried_with_backoff_and_fails_with_its_stderr,
    &[],
    a_failing_agent_is_retried_with_backoff_and_fails_with_its_stderr_scenario
);

async fn a_failing_agent_is_retried_with_backoff_and_fails_with_its_stderr_scenario(h: Harness) {
    let agent = h
        .agent("echo working; echo 'disk is full' >&2; exit 3", 30)
        .await;
    let (stop, worker) = h.start_worker("w1");
    let id = h.submit(&agent).await;
    let row = h
        .wait_for_row(&id, JobState::Failed, Duration::from_secs(15))
        .await;
    assert_eq!(row.attempts_made, 3);
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("exit status: 3")),
        "{row:?}"
    );
    assert!(
        row.error_stack
            .as_deref()
            .is_some_and(|e| e.contains("disk is full")),
        "{row:?}"
    );
    let events = h
        .queue
        .events_after("0", 1000)
        .await
        .expect("events")
        .events;
    let retries: Vec<_> = events
        .iter()
        .filter(|e| e.job == id && e.kind() == JobEventKind::Retrying)
        .collect();
    assert_eq!(retries.len(), 2);
    let delays: Vec<_> = retries
        .iter()
        .map(|e| match e.what {
            agentq_queue::JobEvent::Retrying { delay_ms, .. } => delay_ms,
            _ => None,
        })
        .collect();
    assert_eq!(delays, [Some(50), Some(100)]);
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    an_agent_past_its_timeout_is_killed,
    &[("AGENTQ_ATTEMPTS", "1")],
    an_agent_past_its_timeout_is_killed_scenario
);

async fn an_agent_past_its_timeout_is_killed_scenario(h: Harness) {
    let agent = h.agent("echo pgid $$; sleep 60", 1).await;
    let (stop, worker) = h.start_worker("w1");
    let id = h.submit(&agent).await;
    let row = h
        .wait_for_row(&id, JobState::Failed, Duration::from_secs(15))
        .await;
    assert!(
        row.last_error
            .as_deref()
            .is_some_and(|e| e.contains("timed out")),
        "{row:?}"
    );
    assert_no_process_left(&h, &id).await;
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    cancelling_a_running_job_kills_its_whole_process_group,
    &[],
    cancelling_a_running_job_kills_its_whole_process_group_scenario
);

async fn cancelling_a_running_job_kills_its_whole_process_group_scenario(h: Harness) {
    // the agent starts a grandchild too: it must die with the agent
    let agent = h.agent("echo pgid $$; sleep 120 & sleep 120", 300).await;
    let (stop, worker) = h.start_worker("w1");
    let id = h.submit(&agent).await;
    h.wait_for_row(&id, JobState::Active, Duration::from_secs(10))
        .await;
    // wait for the agent to report its group
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !h
        .queue
        .logs(&id)
        .await
        .expect("logs")
        .iter()
        .any(|l| l.starts_with("pgid "))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        h.queue.cancel(&id).await.expect("cancel"),
        agentq_queue::CancelOutcome::Requested
    );
    h.wait_for_row(&id, JobState::Cancelled, Duration::from_secs(10))
        .await;
    assert_no_process_left(&h, &id).await;
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}

/// No process of the agent's group (its leader printed `pgid <n>`) is alive.
async fn assert_no_process_left(h: &Harness, id: &agentq_domain::JobId) {
    let logs = h.queue.logs(id).await.expect("logs");
    let pgid = logs
        .iter()
        .find_map(|l| l.strip_prefix("pgid "))
        .expect("the agent printed its group")
        .to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let out = std::process::Command::new("pgrep")
            .args(["-g", &pgid])
            .output()
            .expect("pgrep");
        if out.stdout.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "processes of group {pgid} survive: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

crate::on_sqlite_and_mariadb!(
    max_concurrency_one_holds_across_two_worker_processes,
    &[],
    max_concurrency_one_holds_across_two_worker_processes_scenario
);

async fn max_concurrency_one_holds_across_two_worker_processes_scenario(h: Harness) {
    let trace = std::env::temp_dir().join(format!("agentq-trace-{}", agentq_domain::JobId::new()));
    let script = format!(
        "echo start $(date +%s%N) >> {0}; sleep 0.3; echo end $(date +%s%N) >> {0}",
        trace.display()
    );
    let agent = agentq_store::create_agent(
        &h.db,
        agentq_store::NewAgent {
            name: format!("single-{}", agentq_domain::JobId::new()),
            kind: agentq_store::AgentKind::Command(vec!["sh".into(), "-c".into(), script]),
            timeout_secs: 30,
            max_concurrency: Some(1),
            idle_timeout_secs: None,
            requires_approval: false,
            asks_approval: false,
            env: Default::default(),
        },
    )
    .await
    .expect("agent");
    let mut workers = Vec::new();
    for n in 1..=2 {
        workers.push(h.spawn_binary(&format!("proc-{n}"), &[]));
    }
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(h.submit(&agent).await);
    }
    for id in &ids {
        h.wait_for_row(id, JobState::Completed, Duration::from_secs(30))
            .await;
    }
    for mut child in workers {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }
    // the runs, in time order, never overlap: start, end, start, end, ...
    let text = std::fs::read_to_string(&trace).expect("trace");
    let mut marks: Vec<(u128, String)> = text
        .lines()
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(kind, ns)| ns.trim().parse().ok().map(|ns| (ns, kind.to_owned())))
        .collect();
    marks.sort();
    let kinds: Vec<&str> = marks.iter().map(|(_, k)| k.as_str()).collect();
    assert_eq!(kinds, ["start", "end"].repeat(4), "{text}");
    let _ = std::fs::remove_file(trace);
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    sigterm_gives_running_jobs_back_and_another_worker_finishes_each_once,
    &[],
    sigterm_gives_running_jobs_back_and_another_worker_finishes_each_once_scenario
);

async fn sigterm_gives_running_jobs_back_and_another_worker_finishes_each_once_scenario(
    h: Harness,
) {
    let agent = h.agent("sleep 2; echo '{\"result\": \"done\"}'", 30).await;
    let mut child = h.spawn_binary("leaving", &[("AGENTQ_SHUTDOWN_GRACE_MS", "300")]);
    let ids = [h.submit(&agent).await, h.submit(&agent).await];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.queue.counts().await.expect("counts").active < 2 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the jobs never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = std::time::Instant::now();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "it left within its grace period"
    );
    for id in &ids {
        let job = h.queue.job(id).await.expect("redis").expect("job");
        assert_eq!(
            job.state,
            JobState::Waiting,
            "given back at once, not left to stall"
        );
        assert_eq!(job.attempts_made, 0);
    }

    let (stop, worker) = h.start_worker("staying");
    for id in &ids {
        h.wait_for_row(id, JobState::Completed, Duration::from_secs(15))
            .await;
    }
    stop.cancel();
    worker.await.expect("join").expect("worker");
    let events = h
        .queue
        .events_after("0", 10_000)
        .await
        .expect("events")
        .events;
    for id in &ids {
        let completions = events
            .iter()
            .filter(|e| &e.job == id && e.kind() == JobEventKind::Completed)
            .count();
        assert_eq!(completions, 1, "job {id} completed {completions} times");
    }
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    kill_9_of_a_worker_mid_run_loses_no_job_and_completes_none_twice,
    &[("AGENTQ_LOCK_DURATION_MS", "1000")],
    kill_9_of_a_worker_mid_run_loses_no_job_and_completes_none_twice_scenario
);

async fn kill_9_of_a_worker_mid_run_loses_no_job_and_completes_none_twice_scenario(h: Harness) {
    let agent = h.agent("sleep 0.2; echo '{\"result\": 1}'", 30).await;
    let mut child = h.spawn_binary("doomed", &[("AGENTQ_LOCK_DURATION_MS", "1000")]);
    let mut ids = Vec::new();
    for _ in 0..50 {
        ids.push(h.submit(&agent).await);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let counts = h.queue.counts().await.expect("counts");
        // kill it while it holds leases (each job holds one for at least 200 ms)
        if counts.completed >= 10 && counts.active >= 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the first worker did not get going"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    child.kill().expect("kill -9");
    let _ = child.wait();

    let (stop, worker) = h.start_worker("survivor");
    for id in &ids {
        h.wait_for_row(id, JobState::Completed, Duration::from_secs(30))
            .await;
    }
    stop.cancel();
    worker.await.expect("join").expect("worker");
    let events = h
        .queue
        .events_after("0", 100_000)
        .await
        .expect("events")
        .events;
    for id in &ids {
        let completions = events
            .iter()
            .filter(|e| &e.job == id && e.kind() == JobEventKind::Completed)
            .count();
        assert_eq!(completions, 1, "job {id} completed {completions} times");
    }
    assert!(
        h.queue.stat("stalled").await.expect("stat") >= 1,
        "the dead worker's leases were recovered"
    );
    h.cleanup().await;
}

#[tokio::test]
async fn the_bench_switch_completes_jobs_without_running_agents() {
    let h = Harness::new(&[("AGENTQ_BENCH_SKIP_AGENTS", "1")]).await;
    // an agent that would fail: it is never started
    let agent = h.agent("exit 7", 30).await;
    let id = h.submit(&agent).await;
    let (stop, worker) = h.start_worker("bench");
    let row = h
        .wait_for_row(&id, JobState::Completed, Duration::from_secs(20))
        .await;
    assert_eq!(row.result, Some(serde_json::json!({"skipped": true})));
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}
