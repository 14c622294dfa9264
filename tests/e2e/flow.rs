use agentq_domain::JobState;
use serde_json::{Value, json};

use crate::stack::Stack;

/// An agent that reports progress, writes output (a word from its `env`, which the gateway
/// sealed and the worker opened) and a result.
const HELLO: &str =
    r#"echo '{"progress": 50}'; echo "$WORK_WORD"; echo '{"result": {"greeting": "hello"}}'"#;

fn names(frames: &[Value], job: &str) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["data"]["jobId"] == job)
        .filter_map(|f| f["event"].as_str().map(str::to_owned))
        .collect()
}

/// The value of the sample `name` (with its labels) in a Prometheus text page; 0 if absent.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// The seed's "Integration Testing" flow: queue → worker → events → DB → status agrees.
async fn the_seed_flow(mut stack: Stack) {
    let (project, task) = stack.project("Apollo").await;
    let agent = stack
        .agent_with(HELLO, json!({"env": {"WORK_WORD": "working"}}))
        .await;
    // one dashboard on each broadcaster: both see every step
    let mut room = stack.events(0, &stack.admin_token).await;
    room.subscribe(&format!("project:{project}"), None).await;
    let mut notifications = stack.events(1, &stack.admin_token).await;
    notifications.subscribe("notifications", None).await;

    let job = stack.queue(task, agent).await;
    let expected = [
        "agent_job_queued",
        "agent_job_started",
        "agent_job_progress",
        "agent_job_completed",
    ];
    for client in [&mut room, &mut notifications] {
        let frames = client.until(&job, "agent_job_completed").await;
        assert_eq!(names(&frames, &job), expected);
        let done = frames.last().expect("completed");
        assert_eq!(done["data"]["result"], json!({"greeting": "hello"}));
    }

    stack.wait_for_status(&job, "completed").await;
    // once the recorder has written the row, the API and SQL tell the same story
    let row = stack.wait_for_row(&job, JobState::Completed).await;
    let status = stack.wait_for_status(&job, "completed").await;
    assert_eq!(status["result"], json!({"greeting": "hello"}));
    assert_eq!(row.result, Some(json!({"greeting": "hello"})));
    assert_eq!(status["progress"], 100);
    assert_eq!(row.progress, 100);
    assert_eq!(status["executionTimeMs"], json!(row.execution_time_ms));
    assert_eq!(status["attemptsMade"], json!(row.attempts_made));
    assert_eq!(status["taskId"], task);
    assert_eq!(status["projectId"], project);

    // every binary exports what an operator needs
    let mut completed = 0.0;
    for (port, _) in &stack.workers {
        let text = stack
            .metrics(&format!("http://127.0.0.1:{port}/metrics"))
            .await;
        completed += metric(&text, "agentq_worker_jobs_total{outcome=\"completed\"}");
        assert!(text.contains("agentq_queue_jobs{"), "{text}");
    }
    assert_eq!(completed, 1.0, "one worker ran the one job");
    let gateway = stack.metrics(&format!("{}/metrics", stack.api)).await;
    assert!(gateway.contains("agentq_http_requests_total"), "{gateway}");
    let port = stack.broadcasters[0].0;
    let broadcaster = stack
        .metrics(&format!("http://127.0.0.1:{port}/metrics"))
        .await;
    assert!(
        metric(&broadcaster, "agentq_ws_events_out_total") >= 4.0,
        "{broadcaster}"
    );

    let logs = stack.logs(&job).await;
    assert!(logs.to_string().contains("working"), "{logs}");
    stack.assert_all_running();
}

#[tokio::test]
async fn the_seed_flow_on_sqlite() {
    the_seed_flow(Stack::on_sqlite(&[]).await).await;
}

#[tokio::test]
async fn the_seed_flow_on_mariadb() {
    if let Some(stack) = Stack::on_mariadb(&[]).await {
        the_seed_flow(stack).await;
    }
}

/// A leaked key is rotated in place: the job before the change ran with the old value, the
/// job after it runs with the new one (the worker opens the agent's sealed env at each run).
#[tokio::test]
async fn a_rotated_agent_secret_reaches_the_next_job() {
    let stack = Stack::on_sqlite(&[]).await;
    let (_, task) = stack.project("Apollo").await;
    let agent = stack
        .agent_with(
            r#"echo "key=$VENDOR_KEY""#,
            json!({"env": {"VENDOR_KEY": "old-key"}}),
        )
        .await;
    let before = stack.queue(task, agent).await;
    stack.wait_for_status(&before, "completed").await;
    let (status, reply) = stack
        .call(
            reqwest::Method::PATCH,
            &format!("/api/agents/{agent}"),
            Some(&stack.admin_token),
            Some(json!({"env": {"VENDOR_KEY": "new-key"}})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{reply}");
    let after = stack.queue(task, agent).await;
    stack.wait_for_status(&after, "completed").await;
    for (job, expected) in [(&before, "key=old-key"), (&after, "key=new-key")] {
        let logs = stack.logs(job).await;
        assert!(logs.to_string().contains(expected), "{expected}: {logs}");
    }
}

crate::on_sqlite_and_mariadb!(
    cancelling_a_running_job_stops_its_agent,
    &[],
    cancelling_a_running_job_stops_its_agent_scenario
);

async fn cancelling_a_running_job_stops_its_agent_scenario(stack: Stack) {
    let (_, task) = stack.project("Apollo").await;
    let pid_file =
        std::env::temp_dir().join(format!("agentq-e2e-{}.pid", agentq_domain::JobId::new()));
    let agent = stack
        .agent(&format!(
            r#"echo $$ > {}; echo '{{"progress": 10}}'; sleep 60"#,
            pid_file.display()
        ))
        .await;
    let mut events = stack.events(0, &stack.admin_token).await;
    events.subscribe("notifications", None).await;
    let job = stack.queue(task, agent).await;
    events.until(&job, "agent_job_progress").await;
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");

    let reply = stack
        .post(
            &format!("/api/agent-execution/jobs/{job}/cancel"),
            json!({}),
        )
        .await;
    assert_eq!(reply["data"]["status"], "cancelled", "{reply}");
    events.until(&job, "agent_job_cancelled").await;
    stack.wait_for_status(&job, "cancelled").await;
    stack.wait_for_row(&job, JobState::Cancelled).await;
    let deadline = tokio::time::Instant::now() + crate::stack::PATIENCE;
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent outlived its job"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_file(pid_file);
}

crate::on_sqlite_and_mariadb!(
    a_failing_agent_is_retried_with_backoff_then_completes,
    &[],
    a_failing_agent_is_retried_with_backoff_then_completes_scenario
);

async fn a_failing_agent_is_retried_with_backoff_then_completes_scenario(stack: Stack) {
    let (_, task) = stack.project("Apollo").await;
    // fails its first two attempts
    let agent = stack
        .agent(r#"if [ "$AGENTQ_ATTEMPT" -lt 3 ]; then echo "attempt $AGENTQ_ATTEMPT broke" >&2; exit 3; fi; echo '{"result": "third time"}'"#)
        .await;
    let mut events = stack.events(1, &stack.admin_token).await;
    events.subscribe("notifications", None).await;
    let job = stack.queue(task, agent).await;
    let frames = events.until(&job, "agent_job_completed").await;
    let retries: Vec<&Value> = frames
        .iter()
        .filter(|f| f["event"] == "agent_job_retrying")
        .collect();
    assert_eq!(retries.len(), 2, "{frames:?}");
    assert_eq!(retries[0]["data"]["attemptsMade"], 1);
    assert_eq!(retries[1]["data"]["attemptsMade"], 2);
    assert!(
        retries[0]["data"]["error"]
            .as_str()
            .unwrap_or("")
            .contains("broke")
    );
    let status = stack.wait_for_status(&job, "completed").await;
    assert_eq!(status["result"], "third time");
    assert_eq!(status["attemptsMade"], 3);
    let row = stack.wait_for_row(&job, JobState::Completed).await;
    assert_eq!(row.attempts_made, 3);
    let mut retried = 0.0;
    for (port, _) in &stack.workers {
        let text = stack
            .metrics(&format!("http://127.0.0.1:{port}/metrics"))
            .await;
        retried += metric(&text, "agentq_worker_jobs_total{outcome=\"retried\"}");
    }
    assert_eq!(retried, 2.0, "the workers counted both retries");
}
