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

#[tokio::test]
async fn the_seed_flow_runs_on_mariadb() {
    if let Some(app) = TestApp::start_on_server("AGENTQ_TEST_MYSQL_URL").await {
        the_seed_flow(app).await;
    }
}

#[tokio::test]
async fn the_seed_flow_runs_on_postgres() {
    if let Some(app) = TestApp::start_on_server("AGENTQ_TEST_POSTGRES_URL").await {
        the_seed_flow(app).await;
    }
}

#[tokio::test]
async fn the_seed_flow_runs_on_sqlite() {
    the_seed_flow(TestApp::start().await).await;
}
