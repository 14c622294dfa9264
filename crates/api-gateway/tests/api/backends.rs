use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

/// The seed's flow through every route that touches SQL, on one app.
async fn the_seed_flow(app: TestApp) {
    let id = app.queue_job().await;
    let (status, json) = app
        .get(
            &format!("/api/agent-execution/jobs/{id}"),
            &app.member_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["data"]["status"], "waiting");
    let (status, json) = app
        .get("/api/agent-execution/jobs?state=waiting", &app.member_token)
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["data"].as_array().map(Vec::len), Some(1));
    let (status, json) = app
        .get("/api/agent-execution/workers", &app.member_token)
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let (status, json) = app
        .post(
            &format!("/api/agent-execution/jobs/{id}/cancel"),
            &app.member_token,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let (status, json) = app
        .get(
            &format!("/api/projects/{}/tasks", app.project.id),
            &app.member_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let (status, json) = read(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    app.stop().await;
}

crate::on_every_backend!(the_seed_flow_runs, the_seed_flow);

/// Many requests at once share their lookups, inserts and reads: each still gets its own
/// answer, a bad one (unknown task or agent, another project's task) fails alone, and every
/// job queued is there to read.
async fn concurrent_requests_each_get_their_own_answer(app: TestApp) {
    let foreign_task = app.task_in_another_project("Elsewhere").await;
    let (task, agent) = (app.task.id.get(), app.agent.id.get());
    let bodies: Vec<(serde_json::Value, &str)> = (0..60)
        .map(|i| match i % 6 {
            1 => (
                json!({"taskId": 999_999, "agentId": agent}),
                "Task not found",
            ),
            3 => (
                json!({"taskId": task, "agentId": 999_999}),
                "Agent not found",
            ),
            5 => (
                json!({"taskId": foreign_task.id.get(), "agentId": agent}),
                "Task not found",
            ),
            _ => (json!({"taskId": task, "agentId": agent}), ""),
        })
        .collect();
    let answers = futures_util::future::join_all(
        bodies
            .iter()
            .map(|(body, _)| app.post("/api/agent-execution/queue", &app.member_token, body)),
    )
    .await;
    let mut queued = Vec::new();
    for ((status, json), (_, refusal)) in answers.into_iter().zip(&bodies) {
        if refusal.is_empty() {
            assert_eq!(status, StatusCode::CREATED, "{json}");
            queued.push(json["data"]["jobId"].as_str().expect("id").to_owned());
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND, "{json}");
            assert_eq!(json["error"], *refusal, "{json}");
        }
    }
    assert_eq!(queued.len(), 30);
    let unknown = agentq_domain::JobId::new().to_string();
    let paths: Vec<String> = queued
        .iter()
        .chain(std::iter::once(&unknown))
        .map(|id| format!("/api/agent-execution/jobs/{id}"))
        .collect();
    let reads =
        futures_util::future::join_all(paths.iter().map(|path| app.get(path, &app.member_token)))
            .await;
    for ((status, json), id) in reads.iter().zip(&queued) {
        assert_eq!(*status, StatusCode::OK, "{json}");
        assert_eq!(json["data"]["jobId"], id.as_str());
    }
    assert_eq!(reads.last().map(|r| r.0), Some(StatusCode::NOT_FOUND));
    let rows = agentq_store::list_jobs(
        &app.db,
        &agentq_store::Scope::All,
        &agentq_store::JobFilter::default(),
        500,
        None,
    )
    .await
    .expect("list");
    assert_eq!(
        rows.jobs.len(),
        30,
        "one row per job queued, none for a refusal"
    );
    app.stop().await;
}

crate::on_every_backend!(
    concurrent_requests_each_get_their_own_answer_runs,
    concurrent_requests_each_get_their_own_answer
);
