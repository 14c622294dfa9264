use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn another_projects_task_and_jobs_look_like_they_do_not_exist() {
    let app = TestApp::start().await;
    let other_task = app.task_in_another_project("Secret").await;
    let body = json!({"taskId": other_task.id.get(), "agentId": app.agent.id.get()});
    let (status, json) = app
        .post("/api/agent-execution/queue", &app.member_token, &body)
        .await;
    assert_eq!(
        (status, json),
        (StatusCode::NOT_FOUND, json!({"error": "Task not found"}))
    );

    // the admin queues a job in the other project: the member cannot see or touch it
    let (status, json) = app
        .post("/api/agent-execution/queue", &app.admin_token, &body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let id = json["data"]["jobId"].as_str().expect("id").to_owned();
    let token = &app.member_token;
    assert_eq!(
        app.get(&format!("/api/agent-execution/jobs/{id}"), token)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/agent-execution/jobs/{id}/logs"), token)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(
            &format!("/api/agent-execution/jobs/{id}/cancel"),
            token,
            &json!({})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(
            &format!("/api/agent-execution/jobs/{id}/retry"),
            token,
            &json!({})
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = app.get("/api/agent-execution/jobs", token).await;
    assert_eq!(list["data"], json!([]));
    assert_eq!(
        app.get(
            &format!("/api/projects/{}/tasks", other_task.project),
            token
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    // and the job is still there for those who may see it
    assert_eq!(
        app.get(&format!("/api/agent-execution/jobs/{id}"), &app.admin_token)
            .await
            .0,
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn mcp_credentials_are_sealed_at_rest_and_never_shown() {
    let app = TestApp::start().await;
    let body = json!({
        "taskId": app.task.id.get(),
        "agentId": app.agent.id.get(),
        "mcpConfigs": [{
            "serverName": "github",
            "serverUrl": "https://mcp.example.com",
            "authType": "bearer",
            "authCredentials": {"token": "ghp_TOPSECRET"},
            "enabled": true
        }]
    });
    let (status, json) = app
        .post("/api/agent-execution/queue", &app.member_token, &body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert!(!json.to_string().contains("TOPSECRET"));
    let id: agentq_domain::JobId = json["data"]["jobId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("id");

    let redis_payload = app
        .queue
        .job(&id)
        .await
        .expect("redis")
        .expect("job")
        .payload;
    assert!(!redis_payload.contains("TOPSECRET"), "{redis_payload}");
    let row = agentq_store::job_by_job_id(&app.db, &agentq_store::Scope::All, &id)
        .await
        .expect("sql")
        .expect("row");
    assert!(!row.job_data.to_string().contains("TOPSECRET"));
    let sealed = row.job_data["mcpConfigs"][0]["authCredentialsSealed"]
        .as_str()
        .expect("sealed")
        .to_owned();
    // and the key opens it again (what the worker does)
    let key: [u8; 32] = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(SECRET_KEY)
            .expect("b64")
            .try_into()
            .expect("32 bytes")
    };
    let plain = agentq_secrets::SecretBox::new(&key)
        .open(&sealed)
        .expect("opens");
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&plain).expect("json"),
        json!({"token": "ghp_TOPSECRET"})
    );

    for path in [
        format!("/api/agent-execution/jobs/{id}"),
        "/api/agent-execution/jobs".into(),
        "/api/agent-execution/workers".into(),
    ] {
        let (_, json) = app.get(&path, &app.admin_token).await;
        assert!(!json.to_string().contains("TOPSECRET"), "{path}");
    }
    app.stop().await;
}
