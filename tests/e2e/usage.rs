//! What agents spend: usage reports summed per job (its answer and its events) and per
//! project, a daily budget that stops submissions while running jobs finish, and an idle
//! timeout that stops an agent that writes nothing, all with real agent processes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::stack::Stack;

/// An agent that reports spending twice (deltas), heartbeats, then waits for `gate` (a file
/// the test makes) before it completes: a job that runs on while its project's budget is
/// spent.
fn spender(gate: &std::path::Path) -> String {
    format!(
        r#"echo '{{"usage": {{"inputTokens": 100, "outputTokens": 20, "costUsd": 0.01}}}}'
echo '{{"heartbeat": true}}'
echo '{{"usage": {{"inputTokens": 50, "outputTokens": 5, "costUsd": 0.02}}}}'
while [ ! -e {} ]; do sleep 0.05; done
echo '{{"result": "spent"}}'"#,
        gate.display()
    )
}

async fn submit(stack: &Stack, task: i64, agent: i64) -> (StatusCode, Value) {
    stack
        .call(
            Method::POST,
            "/api/agent-execution/queue",
            Some(&stack.admin_token),
            Some(json!({"taskId": task, "agentId": agent})),
        )
        .await
}

crate::on_sqlite_and_mariadb!(
    usage_is_summed_per_job_and_project_and_a_spent_budget_refuses_new_jobs,
    &[],
    usage_and_budget_scenario
);

async fn usage_and_budget_scenario(stack: Stack) {
    let (project, task) = stack.project("Budgeted").await;
    let project_view = stack.set_budget(project, json!(0.05)).await;
    assert_eq!(project_view["costUsdPerDay"], 0.05, "{project_view}");
    let gate =
        std::env::temp_dir().join(format!("agentq-e2e-gate-{}", agentq_domain::JobId::new()));
    let agent = stack.agent(&spender(&gate)).await;
    let mut events = stack.events(0, &stack.admin_token).await;
    events.subscribe("notifications", None).await;

    // the first job spends 0.03 of the 0.05 and completes
    std::fs::write(&gate, b"").expect("gate");
    let first = stack.queue(task, agent).await;
    let frames = events.until(&first, "agent_job_completed").await;
    let usage_events: Vec<&Value> = frames
        .iter()
        .filter(|f| f["event"] == "agent_job_usage" && f["data"]["jobId"] == first.as_str())
        .collect();
    let last = usage_events.last().expect("a usage event");
    assert_eq!(
        last["data"]["usage"],
        json!({"inputTokens": 150, "outputTokens": 25, "costUsd": 0.03}),
        "each event carries the job's totals: {usage_events:?}"
    );
    let answer = stack.wait_for_status(&first, "completed").await;
    assert_eq!(answer["result"], "spent");
    assert_eq!(
        answer["usage"],
        json!({"inputTokens": 150, "outputTokens": 25, "costUsd": 0.03})
    );
    let row = stack
        .wait_for_row(&first, agentq_domain::JobState::Completed)
        .await;
    let recorded = row.usage.expect("usage recorded in SQL");
    assert_eq!(
        (
            recorded.input_tokens,
            recorded.output_tokens,
            recorded.cost_micro_usd
        ),
        (150, 25, 30_000)
    );

    // the second job takes the project past its budget and runs on
    std::fs::remove_file(&gate).expect("close the gate");
    let second = stack.queue(task, agent).await;
    loop {
        let frame = events.next().await;
        if frame["event"] == "agent_job_usage"
            && frame["data"]["jobId"] == second.as_str()
            && frame["data"]["usage"]["costUsd"] == 0.03
        {
            break;
        }
    }
    // the recorder writes the spend, then the gateway's one-second memory of it lapses
    let deadline = tokio::time::Instant::now() + crate::stack::PATIENCE;
    let refused = loop {
        let (status, reply) = submit(&stack, task, agent).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break reply;
        }
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        // a job that got in before the spend was seen: not part of this test
        let extra = reply["data"]["jobId"].as_str().expect("job id").to_owned();
        let (status, _) = stack
            .call(
                Method::POST,
                &format!("/api/agent-execution/jobs/{extra}/cancel"),
                Some(&stack.admin_token),
                Some(json!({})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        assert!(tokio::time::Instant::now() < deadline, "never refused");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(refused["error"], "Daily budget spent", "{refused}");
    assert_eq!(refused["details"]["projectId"], project);
    assert_eq!(refused["details"]["costUsdPerDay"], 0.05);
    assert!(refused["details"]["spentUsd"].as_f64().expect("spent") >= 0.06);
    let (_, spent) = stack
        .get(
            &format!("/api/projects/{project}/usage"),
            &stack.admin_token,
        )
        .await;
    assert_eq!(spent["data"]["remainingUsd"], 0.0, "{spent}");
    assert!(
        spent["data"]["usage"]["inputTokens"]
            .as_u64()
            .expect("tokens")
            >= 300
    );

    // the running job was not stopped by the spent budget: it finishes
    std::fs::write(&gate, b"").expect("gate");
    let answer = stack.wait_for_status(&second, "completed").await;
    assert_eq!(answer["usage"]["costUsd"], 0.03);

    // an admin raises the budget: submissions are taken again
    stack.set_budget(project, json!(1.0)).await;
    let (status, reply) = submit(&stack, task, agent).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let _ = std::fs::remove_file(&gate);
}

crate::on_sqlite_and_mariadb!(
    an_agent_that_writes_nothing_for_its_idle_timeout_is_stopped,
    &[],
    idle_timeout_scenario
);

async fn idle_timeout_scenario(stack: Stack) {
    let (_, task) = stack.project("Idle").await;
    let marker =
        std::env::temp_dir().join(format!("agentq-e2e-idle-{}", agentq_domain::JobId::new()));
    // heartbeats keep it alive past its 1 s idle timeout; then it goes quiet
    let script = format!(
        r#"for i in 1 2 3 4 5 6; do echo '{{"heartbeat": true}}'; sleep 0.3; done
touch {}; sleep 30"#,
        marker.display()
    );
    let agent = stack
        .post(
            "/api/agents",
            json!({
                "name": format!("idle-{}", agentq_domain::JobId::new()),
                "kind": "command",
                "command": ["sh", "-c", script],
                "timeoutSecs": 60,
                "idleTimeoutSecs": 1,
            }),
        )
        .await;
    assert_eq!(agent["data"]["idleTimeoutSecs"], 1, "{agent}");
    let agent = agent["data"]["id"].as_i64().expect("agent id");
    let mut events = stack.events(0, &stack.admin_token).await;
    events.subscribe("notifications", None).await;
    let job = stack.queue(task, agent).await;
    let frames = events.until(&job, "agent_job_retrying").await;
    let retrying = frames.last().expect("retrying");
    let error = retrying["data"]["error"].as_str().expect("error");
    assert!(
        error.contains("idle timeout") && error.contains("1 s"),
        "{error}"
    );
    assert!(
        marker.exists(),
        "the heartbeats (1.8 s of them) kept the agent alive past its 1 s idle timeout"
    );
    let _ = stack
        .post(
            &format!("/api/agent-execution/jobs/{job}/cancel"),
            json!({}),
        )
        .await;
    let _ = std::fs::remove_file(marker);
}
