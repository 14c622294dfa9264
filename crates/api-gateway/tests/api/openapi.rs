//! The OpenAPI document: the served one, the checked-in `proto/openapi.json` and what the
//! routes really answer all agree.

use agentq_api_gateway::openapi::document;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp};

fn checked_in_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../proto/openapi.json")
}

#[test]
fn proto_openapi_json_is_the_generated_document() {
    let generated = document();
    let path = checked_in_path();
    if std::env::var_os("AGENTQ_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).expect("write proto/openapi.json");
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "proto/openapi.json is stale: run `AGENTQ_UPDATE_OPENAPI=1 cargo test -p \
         agentq-api-gateway --test api openapi` and commit it"
    );
    let parsed: Value = serde_json::from_str(&generated).expect("JSON");
    assert!(
        parsed["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    for route in [
        "/api/agent-execution/queue",
        "/api/agent-execution/jobs/{id}",
        "/api/agent-execution/jobs/{id}/cancel",
        "/api/agent-execution/workers",
    ] {
        assert!(parsed["paths"][route].is_object(), "{route} is documented");
    }
}

/// Checks `answer` against the document's schema `component`.
fn assert_matches(doc: &Value, component: &str, answer: &Value) {
    // the whole document as the root, so that `$ref`s between components resolve
    let mut schema = doc.clone();
    schema["$ref"] = json!(format!("#/components/schemas/{component}"));
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator
        .iter_errors(answer)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{component}: {answer}\n{errors:#?}");
}

#[tokio::test]
async fn the_routes_answer_what_the_document_says() {
    let app = TestApp::start().await;
    let (status, served) = app.get("/api/openapi.json", "").await;
    assert_eq!(status, StatusCode::OK);
    let doc: Value = serde_json::from_str(&document()).expect("JSON");
    assert_eq!(served, doc, "the served document is the generated one");

    let (status, login) = app
        .post(
            "/api/auth/login",
            "",
            &json!({"email": app.admin.email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_matches(&doc, "Answer_Token", &login);

    let body = json!({"taskId": app.task.id.get(), "agentId": app.agent.id.get(),
        "metadata": {"priority": "high"}});
    let (status, queued) = app
        .post("/api/agent-execution/queue", &app.admin_token, &body)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_matches(&doc, "Answer_QueuedJob", &queued);
    let job = queued["data"]["jobId"].as_str().expect("id");

    let token = &app.admin_token;
    for (path, component) in [
        (format!("/api/agent-execution/jobs/{job}"), "Answer_Job"),
        ("/api/agent-execution/jobs".to_owned(), "JobPage"),
        (
            format!("/api/agent-execution/jobs/{job}/logs"),
            "Answer_JobLogs",
        ),
        (
            "/api/agent-execution/workers".to_owned(),
            "Answer_WorkerStatus",
        ),
        ("/api/projects".to_owned(), "Answer_Vec_Project"),
        (
            format!("/api/projects/{}/tasks", app.project.id),
            "Answer_Vec_Task",
        ),
        ("/api/agents".to_owned(), "Answer_Vec_Agent"),
        ("/healthz".to_owned(), "Health"),
        ("/readyz".to_owned(), "Readiness"),
    ] {
        let (status, answer) = app.get(&path, token).await;
        assert_eq!(status, StatusCode::OK, "{path}: {answer}");
        assert_matches(&doc, component, &answer);
    }
    let (_, agents) = app.get("/api/agents", &app.member_token).await;
    assert_matches(&doc, "Answer_Vec_Agent", &agents);

    let (status, cancelled) = app
        .post(
            &format!("/api/agent-execution/jobs/{job}/cancel"),
            token,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_matches(&doc, "Answer_JobCancelled", &cancelled);

    for (status, answer) in [
        app.get("/api/agent-execution/jobs/not-a-job", token).await,
        app.get("/api/projects", "bad-token").await,
        app.post("/api/agent-execution/queue", token, &json!({"taskId": "1"}))
            .await,
        app.post(
            &format!("/api/agent-execution/jobs/{job}/cancel"),
            token,
            &json!({}),
        )
        .await,
    ] {
        assert!(status.is_client_error(), "{status}");
        assert_matches(&doc, "ErrorBody", &answer);
    }

    let (status, project) = app
        .post("/api/projects", token, &json!({"name": "Gemini"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_matches(&doc, "Answer_Project", &project);
    let id = project["data"]["id"].as_i64().expect("id");
    let (_, task) = app
        .post(
            &format!("/api/projects/{id}/tasks"),
            token,
            &json!({"code": "G-1", "title": "t"}),
        )
        .await;
    assert_matches(&doc, "Answer_Task", &task);
    let (_, user) = app
        .post(
            "/api/users",
            token,
            &json!({"email": "new@example.com", "password": "long-enough", "role": "member"}),
        )
        .await;
    assert_matches(&doc, "Answer_User", &user);
    let (_, member) = app
        .post(
            &format!("/api/projects/{id}/members"),
            token,
            &json!({"userId": user["data"]["id"]}),
        )
        .await;
    assert_matches(&doc, "Answer_Membership", &member);
    let (_, agent) = app
        .post(
            "/api/agents",
            token,
            &json!({"name": "doc-agent", "kind": "command", "command": ["true"]}),
        )
        .await;
    assert_matches(&doc, "Answer_Agent", &agent);
    app.stop().await;
}
