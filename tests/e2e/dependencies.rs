//! Jobs that wait for other tasks' jobs (`context.dependencies`), end to end with real agent
//! processes: a chain of three tasks runs in order across two workers, a dependency that fails
//! fails its dependents (or not, with `onDependencyFailure: "run"`), and what cannot be waited
//! for is refused at submission.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::stack::Stack;

async fn task(stack: &Stack, project: i64, code: &str) -> i64 {
    let task = stack
        .post(
            &format!("/api/projects/{project}/tasks"),
            json!({"code": code, "title": code}),
        )
        .await;
    task["data"]["id"].as_i64().expect("task id")
}

async fn submit(stack: &Stack, task: i64, agent: i64, context: Value) -> (StatusCode, Value) {
    stack
        .call(
            Method::POST,
            "/api/agent-execution/queue",
            Some(&stack.admin_token),
            Some(json!({"taskId": task, "agentId": agent, "context": context})),
        )
        .await
}

async fn queued(stack: &Stack, task: i64, agent: i64, context: Value) -> String {
    let (status, reply) = submit(stack, task, agent, context).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    reply["data"]["jobId"].as_str().expect("job id").to_owned()
}

crate::on_sqlite_and_mariadb!(
    a_chain_of_three_tasks_runs_in_order_and_a_failed_dependency_fails_its_dependents,
    &[],
    dependencies_scenario
);

async fn dependencies_scenario(stack: Stack) {
    let (project, first) = stack.project("Chain").await;
    let second = task(&stack, project, "Chain-2").await;
    let third = task(&stack, project, "Chain-3").await;
    let log =
        std::env::temp_dir().join(format!("agentq-e2e-chain-{}", agentq_domain::JobId::new()));
    let gate = log.with_extension("gate");
    // each run appends its task id to one file; the first waits for the gate
    let agent = stack
        .agent(&format!(
            r#"while [ ! -e {gate} ]; do sleep 0.05; done; echo "$AGENTQ_TASK_ID" >> {log}; echo '{{"result": "done"}}'"#,
            gate = gate.display(),
            log = log.display()
        ))
        .await;
    let mut events = stack.events(0, &stack.admin_token).await;
    events.subscribe("notifications", None).await;

    let a = stack.queue(first, agent).await;
    let b = queued(&stack, second, agent, json!({"dependencies": [first]})).await;
    let c = queued(
        &stack,
        third,
        agent,
        json!({"dependencies": [second, first]}),
    )
    .await;
    for job in [&b, &c] {
        let frames = events.until(job, "agent_job_blocked").await;
        assert_eq!(frames.last().expect("blocked")["data"]["status"], "blocked");
    }
    stack
        .wait_for_row(&c, agentq_domain::JobState::Blocked)
        .await;
    std::fs::write(&gate, b"").expect("gate");
    stack.wait_for_status(&c, "completed").await;
    for job in [&a, &b] {
        assert_eq!(
            stack.wait_for_status(job, "completed").await["result"],
            "done"
        );
    }
    let order: Vec<String> = std::fs::read_to_string(&log)
        .expect("log")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        order,
        [first, second, third].map(|t| t.to_string()),
        "in dependency order"
    );

    // a dependency that fails for good fails its dependents, and theirs; one that runs anyway
    // does
    let failing = stack
        .post(
            "/api/agents",
            json!({"name": format!("fails-{}", agentq_domain::JobId::new()), "kind": "command",
                   "command": ["sh", "-c", "exit 3"], "timeoutSecs": 60}),
        )
        .await["data"]["id"]
        .as_i64()
        .expect("agent");
    let broken = queued(&stack, first, failing, json!({})).await;
    let dependent = queued(&stack, second, agent, json!({"dependencies": [first]})).await;
    let transitive = queued(&stack, third, agent, json!({"dependencies": [second]})).await;
    let regardless = queued(
        &stack,
        third,
        agent,
        json!({"dependencies": [first], "onDependencyFailure": "run"}),
    )
    .await;
    stack.wait_for_status(&broken, "failed").await;
    let failed = stack.wait_for_status(&dependent, "failed").await;
    let reason = failed["lastError"].as_str().expect("error");
    assert!(reason.contains(&broken), "names the dependency: {reason}");
    stack.wait_for_status(&transitive, "failed").await;
    stack.wait_for_status(&regardless, "completed").await;

    // refused at submission: its own task or a task with no job (400, naming the entry); a
    // task of another project or none at all is not found, like an unknown taskId
    let fresh = task(&stack, project, "Chain-4").await;
    let (_, elsewhere) = stack.project("Elsewhere").await;
    for (deps, status, says) in [
        (
            json!([fresh]),
            StatusCode::BAD_REQUEST,
            "has no job to wait for",
        ),
        (
            json!([second, third]),
            StatusCode::BAD_REQUEST,
            "cannot depend on its own task",
        ),
        (
            json!([second, 999_999]),
            StatusCode::NOT_FOUND,
            "not in the job's project",
        ),
        (
            json!([elsewhere]),
            StatusCode::NOT_FOUND,
            "not in the job's project",
        ),
    ] {
        let (got, reply) = submit(&stack, third, agent, json!({"dependencies": deps})).await;
        assert_eq!(got, status, "{deps}: {reply}");
        assert!(reply.to_string().contains(says), "{deps}: {reply}");
    }
    let _ = std::fs::remove_file(log);
    let _ = std::fs::remove_file(gate);
}
