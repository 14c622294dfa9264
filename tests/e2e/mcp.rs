//! agentq-mcp, the real binary, in front of the real stack: an MCP client (rmcp's) over stdio
//! and over streamable HTTP calls every tool; the Python `mcp` package, which nobody here
//! wrote, lists and calls them too.

use std::sync::{Arc, Mutex};

use agentq_domain::JobState;
use rmcp::model::{CallToolRequestParams, CallToolResult, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RoleClient, RunningService};
use rmcp::transport::{StreamableHttpClientTransport, TokioChildProcess};
use rmcp::{ClientHandler, ServiceExt};
use serde_json::{Value, json};

use crate::stack::{ADMIN_EMAIL, ADMIN_PASSWORD, Stack, binary};

/// An agent that reports progress twice, writes output and a result, slowly enough to be
/// waited on.
const WORKER: &str = r#"sleep 0.3; echo '{"progress": 30}'; echo step one; sleep 0.3; echo '{"progress": 70}'; echo '{"usage": {"inputTokens": 120, "outputTokens": 30, "costUsd": 0.25}}'; echo '{"result": {"done": true}}'"#;

/// A client that keeps every progress notification it gets.
#[derive(Debug, Clone, Default)]
struct Client {
    progress: Arc<Mutex<Vec<f64>>>,
}

impl ClientHandler for Client {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _: NotificationContext<RoleClient>,
    ) {
        if let Ok(mut seen) = self.progress.lock() {
            seen.push(params.progress);
        }
    }
}

type Session = RunningService<RoleClient, Client>;

fn ws_url(stack: &Stack) -> String {
    format!("ws://127.0.0.1:{}/ws", stack.broadcasters[0].0)
}

/// agentq-mcp over stdio, started by the client as an assistant would.
async fn stdio(stack: &Stack, env: &[(&str, &str)]) -> (Session, Client) {
    let mut command = tokio::process::Command::new(binary("agentq-mcp"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AGENTQ_API_URL", &stack.api)
        .env("AGENTQ_WS_URL", ws_url(stack))
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied());
    let client = Client::default();
    let session = client
        .clone()
        .serve(TokioChildProcess::new(command).expect("spawn agentq-mcp"))
        .await
        .expect("an MCP session");
    (session, client)
}

async fn call(session: &Session, tool: &str, arguments: Value) -> CallToolResult {
    let arguments = arguments.as_object().cloned().unwrap_or_default();
    session
        .call_tool(CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments))
        .await
        .unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// The structured content of a successful call.
fn ok(result: &CallToolResult) -> Value {
    assert_ne!(result.is_error, Some(true), "{result:?}");
    result
        .structured_content
        .clone()
        .expect("structured content")
}

/// The status a failed call reports (the API's), with its message.
fn refused(result: &CallToolResult) -> (u64, String) {
    assert_eq!(result.is_error, Some(true), "{result:?}");
    let value = result.structured_content.clone().expect("structured error");
    (
        value["status"].as_u64().unwrap_or(0),
        value["error"].as_str().unwrap_or_default().to_owned(),
    )
}

crate::on_sqlite_and_mariadb!(
    every_tool_works_over_stdio,
    &[],
    every_tool_works_over_stdio_scenario
);

async fn every_tool_works_over_stdio_scenario(stack: Stack) {
    let (project, task) = stack.project("Apollo").await;
    let agent = stack.agent(WORKER).await;
    let (session, client) = stdio(
        &stack,
        &[
            ("AGENTQ_EMAIL", ADMIN_EMAIL),
            ("AGENTQ_PASSWORD", ADMIN_PASSWORD),
        ],
    )
    .await;

    let tools = session.list_all_tools().await.expect("tools");
    let mut names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "approve_agent_job",
            "cancel_agent_job",
            "get_agent_job_logs",
            "get_agent_job_status",
            "get_agent_worker_status",
            "get_project_usage",
            "list_agent_jobs",
            "list_agents",
            "list_projects",
            "list_tasks",
            "queue_agent_job",
            "reject_agent_job",
            "retry_agent_job",
            "wait_for_agent_job",
        ]
    );
    let cancel = tools
        .iter()
        .find(|t| t.name == "cancel_agent_job")
        .expect("cancel");
    assert_eq!(
        cancel.annotations.as_ref().and_then(|a| a.destructive_hint),
        Some(true)
    );
    let queue = tools
        .iter()
        .find(|t| t.name == "queue_agent_job")
        .expect("queue");
    let properties = &queue.input_schema["properties"];
    for argument in [
        "task_id",
        "agent_id",
        "priority",
        "metadata",
        "context",
        "mcp_configs",
    ] {
        assert!(
            properties.get(argument).is_some(),
            "{argument}: {properties}"
        );
    }

    let projects = ok(&call(&session, "list_projects", json!({})).await);
    assert!(
        projects["projects"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p["id"] == project)),
        "{projects}"
    );
    let tasks = ok(&call(&session, "list_tasks", json!({"project_id": project})).await);
    assert_eq!(tasks["tasks"][0]["id"], task);
    let with_key = stack
        .agent_with("true", json!({"env": {"VENDOR_KEY": "mcp-env-secret"}}))
        .await;
    let agents = ok(&call(&session, "list_agents", json!({})).await);
    assert!(
        agents["agents"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["id"] == agent)),
        "{agents}"
    );
    // an agent's env values never reach an assistant: the variables are named, no more
    let listed = agents["agents"]
        .as_array()
        .and_then(|a| a.iter().find(|a| a["id"] == with_key))
        .expect("the agent with a key");
    assert_eq!(listed["envNames"], json!(["VENDOR_KEY"]));
    assert!(!agents.to_string().contains("mcp-env-secret"), "{agents}");

    // queued with a secret for its MCP server: the secret never comes back
    let queued = ok(&call(
        &session,
        "queue_agent_job",
        json!({
            "task_id": task,
            "agent_id": agent,
            "priority": "high",
            "metadata": {"estimated_hours": 2},
            "context": {"related_tasks": [1]},
            "mcp_configs": [{
                "server_name": "docs",
                "server_url": "https://mcp.example.com/docs",
                "auth_type": "bearer",
                "auth_credentials": {"token": "s3cret-mcp-token"}
            }]
        }),
    )
    .await);
    assert_eq!(queued["status"], "queued");
    assert_eq!(queued["priority"], "high");
    let job = queued["jobId"].as_str().expect("job id").to_owned();

    let waited = call(
        &session,
        "wait_for_agent_job",
        json!({"job_id": job, "timeout_secs": 30}),
    )
    .await;
    let waited = ok(&waited);
    assert_eq!(waited["finished"], true, "{waited}");
    assert_eq!(waited["job"]["status"], "completed");
    assert_eq!(waited["job"]["result"], json!({"done": true}));
    let progress = client
        .progress
        .lock()
        .map(|p| p.clone())
        .unwrap_or_default();
    assert!(
        progress.iter().any(|p| *p >= 30.0),
        "progress notifications while waiting: {progress:?}"
    );

    let status = ok(&call(&session, "get_agent_job_status", json!({"job_id": job})).await);
    assert_eq!(status["status"], "completed");
    assert!(!status.to_string().contains("s3cret"), "{status}");
    let logs = ok(&call(&session, "get_agent_job_logs", json!({"job_id": job})).await);
    assert!(logs["lines"].to_string().contains("step one"), "{logs}");
    let page = ok(&call(
        &session,
        "list_agent_jobs",
        json!({"state": ["completed"], "task_id": task}),
    )
    .await);
    assert!(
        page["data"]
            .as_array()
            .is_some_and(|jobs| jobs.iter().any(|j| j["jobId"] == job)),
        "{page}"
    );
    let workers = ok(&call(&session, "get_agent_worker_status", json!({})).await);
    assert!(
        workers["liveWorkers"]
            .as_array()
            .is_some_and(|w| !w.is_empty()),
        "{workers}"
    );

    // what the project spent today (once the recorder has the job), against its budget
    stack.set_budget(project, json!(1.0)).await;
    stack.wait_for_row(&job, JobState::Completed).await;
    let usage = ok(&call(
        &session,
        "get_project_usage",
        json!({"project_id": project}),
    )
    .await);
    assert_eq!(usage["projectId"], project);
    assert_eq!(
        usage["usage"],
        json!({"inputTokens": 120, "outputTokens": 30, "costUsd": 0.25})
    );
    assert_eq!(
        (
            usage["costUsdPerDay"].as_f64(),
            usage["remainingUsd"].as_f64()
        ),
        (Some(1.0), Some(0.75)),
        "{usage}"
    );
    let missing = call(
        &session,
        "get_project_usage",
        json!({"project_id": 999_999}),
    )
    .await;
    assert_eq!(refused(&missing).0, 404);

    // every error class is a tool error with the API's status and message
    assert_eq!(
        refused(&call(&session, "cancel_agent_job", json!({"job_id": job})).await).0,
        404
    );
    assert_eq!(
        refused(&call(&session, "retry_agent_job", json!({"job_id": job})).await).0,
        409
    );
    let (status, message) = refused(
        &call(
            &session,
            "get_agent_job_status",
            json!({"job_id": "not-a-job"}),
        )
        .await,
    );
    assert_eq!((status, message.as_str()), (404, "Job not found"));
    let (status, message) = refused(
        &call(
            &session,
            "queue_agent_job",
            json!({"task_id": 999_999, "agent_id": agent}),
        )
        .await,
    );
    assert_eq!((status, message.as_str()), (404, "Task not found"));
    let bad_url = call(
        &session,
        "queue_agent_job",
        json!({"task_id": task, "agent_id": agent, "mcp_configs": [{"server_name": "x", "server_url": "not a url", "auth_type": "none"}]}),
    )
    .await;
    assert_eq!(refused(&bad_url).0, 400);
    assert_eq!(
        refused(
            &call(
                &session,
                "queue_agent_job",
                json!({"task_id": 0, "agent_id": agent})
            )
            .await
        )
        .0,
        400
    );

    // a running job is cancelled, and its wait ends with it
    let slow = stack.agent("sleep 30").await;
    let queued = ok(&call(
        &session,
        "queue_agent_job",
        json!({"task_id": task, "agent_id": slow}),
    )
    .await);
    let running = queued["jobId"].as_str().expect("job id").to_owned();
    stack.wait_for_status(&running, "active").await;
    let cancelled = ok(&call(&session, "cancel_agent_job", json!({"job_id": running})).await);
    assert_eq!(cancelled["status"], "cancelled");
    let waited = ok(&call(
        &session,
        "wait_for_agent_job",
        json!({"job_id": running, "timeout_secs": 20}),
    )
    .await);
    assert_eq!(waited["job"]["status"], "cancelled", "{waited}");
    session.cancel().await.expect("close");
}

crate::on_sqlite_and_mariadb!(
    an_assistant_approves_one_held_job_and_rejects_another,
    &[],
    an_assistant_approves_one_held_job_and_rejects_another_scenario
);

/// Jobs of an agent that requires approval wait for a decision; an assistant finds them by
/// state, approves one (it runs to completion) and rejects the other (cancelled). A job that
/// awaits no decision, an unknown job and an overlong comment get the API's refusals.
async fn an_assistant_approves_one_held_job_and_rejects_another_scenario(stack: Stack) {
    let (_, task) = stack.project("Apollo").await;
    let agent = stack
        .agent_with(
            r#"echo '{"result": {"done": true}}'"#,
            json!({"requiresApproval": true}),
        )
        .await;
    let (session, _) = stdio(
        &stack,
        &[
            ("AGENTQ_EMAIL", ADMIN_EMAIL),
            ("AGENTQ_PASSWORD", ADMIN_PASSWORD),
        ],
    )
    .await;
    let mut held = Vec::new();
    for _ in 0..2 {
        let queued = ok(&call(
            &session,
            "queue_agent_job",
            json!({"task_id": task, "agent_id": agent}),
        )
        .await);
        assert_eq!(queued["status"], "awaiting_approval", "{queued}");
        held.push(queued["jobId"].as_str().expect("job id").to_owned());
    }
    let (approved, rejected) = (&held[0], &held[1]);

    let awaiting = ok(&call(
        &session,
        "list_agent_jobs",
        json!({"state": ["awaiting_approval"], "agent_id": agent}),
    )
    .await);
    let mut listed: Vec<&str> = awaiting["data"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter_map(|job| job["jobId"].as_str())
        .collect();
    listed.sort_unstable();
    let mut expected: Vec<&str> = held.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(listed, expected);

    let decision = ok(&call(
        &session,
        "approve_agent_job",
        json!({"job_id": approved, "comment": "looks right"}),
    )
    .await);
    assert_eq!(
        (decision["decision"].as_str(), decision["status"].as_str()),
        (Some("approved"), Some("waiting")),
        "{decision}"
    );
    let waited = ok(&call(
        &session,
        "wait_for_agent_job",
        json!({"job_id": approved, "timeout_secs": 30}),
    )
    .await);
    assert_eq!(waited["job"]["status"], "completed", "{waited}");
    assert_eq!(waited["job"]["result"], json!({"done": true}), "{waited}");

    let decision = ok(&call(&session, "reject_agent_job", json!({"job_id": rejected})).await);
    assert_eq!(
        (decision["decision"].as_str(), decision["status"].as_str()),
        (Some("rejected"), Some("cancelled")),
        "{decision}"
    );
    let status = ok(&call(
        &session,
        "get_agent_job_status",
        json!({"job_id": rejected}),
    )
    .await);
    assert_eq!(status["status"], "cancelled", "{status}");

    // nothing left to decide, no such job, a comment past 2,000 characters
    let again = call(&session, "approve_agent_job", json!({"job_id": approved})).await;
    assert_eq!(refused(&again).0, 409);
    let unknown = call(
        &session,
        "reject_agent_job",
        json!({"job_id": agentq_domain::JobId::new().to_string()}),
    )
    .await;
    assert_eq!(refused(&unknown).0, 404);
    let long = call(
        &session,
        "approve_agent_job",
        json!({"job_id": rejected, "comment": "x".repeat(2001)}),
    )
    .await;
    assert_eq!(refused(&long).0, 400);
    // 10 MB, past the gateway's body limit: refused there, and the session goes on
    let huge = call(
        &session,
        "approve_agent_job",
        json!({"job_id": rejected, "comment": "x".repeat(10 << 20)}),
    )
    .await;
    assert_eq!(refused(&huge).0, 413);
    let status = ok(&call(
        &session,
        "get_agent_job_status",
        json!({"job_id": rejected}),
    )
    .await);
    assert_eq!(status["status"], "cancelled", "{status}");
    session.cancel().await.expect("close");
}

crate::on_sqlite_and_mariadb!(
    over_http_each_caller_sees_what_its_token_may,
    &[],
    over_http_each_caller_sees_what_its_token_may_scenario
);

async fn over_http_each_caller_sees_what_its_token_may_scenario(stack: Stack) {
    let (own, _) = stack.project("Apollo").await;
    let (other, _) = stack.project("Gemini").await;
    let user = stack
        .post(
            "/api/users",
            json!({"email": "member@e2e.example", "password": "member-password", "role": "member"}),
        )
        .await;
    let user_id = user["data"]["id"].as_i64().expect("id");
    stack
        .post(
            &format!("/api/projects/{own}/members"),
            json!({"userId": user_id}),
        )
        .await;
    let member = stack.login("member@e2e.example", "member-password").await;

    let mut command = std::process::Command::new(binary("agentq-mcp"));
    command
        .arg("--http")
        .arg("127.0.0.1:0")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AGENTQ_API_URL", &stack.api)
        .env("AGENTQ_WS_URL", ws_url(&stack))
        .env("RUST_LOG", "warn");
    let (server, addr) = agentq_test_support::spawn_listening(command);
    let _server = KillOnDrop(server);
    let url = format!("http://{addr}/mcp");

    let connect = |token: Option<&str>| {
        let mut config =
            rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
                url.clone(),
            );
        if let Some(token) = token {
            config = config.auth_header(token.to_owned());
        }
        Client::default().serve(StreamableHttpClientTransport::from_config(config))
    };

    let session = connect(Some(&member)).await.expect("member session");
    let projects = ok(&call(&session, "list_projects", json!({})).await);
    let ids: Vec<i64> = projects["projects"]
        .as_array()
        .map(|p| p.iter().filter_map(|p| p["id"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(ids, [own], "a member sees its project only, not {other}");
    let (status, _) = refused(&call(&session, "list_tasks", json!({"project_id": other})).await);
    assert_eq!(status, 404);
    let spent = call(&session, "get_project_usage", json!({"project_id": other})).await;
    assert_eq!(refused(&spent).0, 404, "another project's spending");
    session.cancel().await.expect("close");

    let admin = connect(Some(&stack.admin_token))
        .await
        .expect("admin session");
    let projects = ok(&call(&admin, "list_projects", json!({})).await);
    assert!(
        projects["projects"]
            .as_array()
            .is_some_and(|p| p.len() >= 2),
        "{projects}"
    );
    admin.cancel().await.expect("close");

    let anonymous = connect(None).await.expect("anonymous session");
    let (status, message) = refused(&call(&anonymous, "list_projects", json!({})).await);
    assert_eq!((status, message.as_str()), (401, "Access token required"));
    anonymous.cancel().await.expect("close");
}

/// A child process that ends with the test, passed or not.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

crate::on_sqlite_and_mariadb!(
    the_python_mcp_sdk_lists_and_calls_the_tools,
    &[],
    the_python_mcp_sdk_lists_and_calls_the_tools_scenario
);

/// The official Python SDK (`pip install mcp`), as a second client nobody here wrote.
async fn the_python_mcp_sdk_lists_and_calls_the_tools_scenario(stack: Stack) {
    let (_, task) = stack.project("Apollo").await;
    let agent = stack.agent(WORKER).await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("e2e/mcp_client.py");
    let output = tokio::process::Command::new("python3")
        .arg(script)
        .arg(binary("agentq-mcp"))
        .arg(task.to_string())
        .arg(agent.to_string())
        .env("AGENTQ_API_URL", &stack.api)
        .env("AGENTQ_WS_URL", ws_url(&stack))
        .env("AGENTQ_EMAIL", ADMIN_EMAIL)
        .env("AGENTQ_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .expect("python3 runs (pip install mcp)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.trim()).expect("the script's JSON report");
    assert_eq!(
        report["tools"].as_array().map(Vec::len),
        Some(14),
        "{report}"
    );
    assert_eq!(report["waited"]["job"]["status"], "completed", "{report}");
    assert_eq!(report["missing"]["isError"], true, "{report}");
}

#[tokio::test]
async fn with_redis_down_a_tool_answers_the_apis_503_not_a_crash() {
    let mut redis = Some(agentq_test_support::OwnRedis::start());
    let url = redis.as_ref().map(|r| r.url()).unwrap_or_default();
    let stack = Stack::on_sqlite(&[("REDIS_URL", &url)]).await;
    let (_, task) = stack.project("Apollo").await;
    let agent = stack.agent("true").await;
    let (session, _) = stdio(&stack, &[("AGENTQ_TOKEN", &stack.admin_token)]).await;
    ok(&call(&session, "get_agent_worker_status", json!({})).await);

    drop(redis.take());
    let (status, message) = refused(&call(&session, "get_agent_worker_status", json!({})).await);
    assert_eq!(
        (status, message.as_str()),
        (503, "Agent execution service not initialized")
    );
    let queued = call(
        &session,
        "queue_agent_job",
        json!({"task_id": task, "agent_id": agent}),
    )
    .await;
    assert_eq!(refused(&queued).0, 503);
    // the session lives on: what does not need Redis still works
    let projects = ok(&call(&session, "list_projects", json!({})).await);
    assert!(projects["projects"].is_array(), "{projects}");
    session.cancel().await.expect("close");
}
