//! The routes the dashboard reads besides the seed's: stats, a job's details, users and a
//! project's members; and the dashboard's own files.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn stats_count_the_callers_jobs_per_state_and_minute() {
    let app = TestApp::start().await;
    let mine = app.queue_job().await;
    app.queue_job().await;
    let theirs = app.task_in_another_project("Elsewhere").await;
    let body = json!({"taskId": theirs.id.get(), "agentId": app.agent.id.get()});
    let (status, _) = app
        .post("/api/agent-execution/queue", &app.admin_token, &body)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // one of the member's jobs ends, as the recorder would record it
    let at = agentq_store::EventPosition { ms: 1, seq: 0 };
    let done = agentq_store::JobTransition {
        status: Some(agentq_domain::JobState::Completed),
        completed_at: Some(agentq_store::now()),
        ..Default::default()
    };
    agentq_store::apply_transition(&app.db, &mine, at, done)
        .await
        .expect("complete");

    let queue = app.queue.config().name.clone();
    let (status, json) = app
        .get("/api/agent-execution/stats", &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let mut counts = json["data"]["counts"].as_array().expect("counts").clone();
    counts.sort_by_key(|c| c["state"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        counts,
        [
            json!({"queueName": queue, "state": "completed", "count": 1}),
            json!({"queueName": queue, "state": "waiting", "count": 2}),
        ]
    );
    let minutes = json["data"]["minutes"].as_array().expect("minutes");
    assert_eq!(minutes.len(), 60);
    assert_eq!(
        minutes[59]["completed"], 1,
        "this minute, last: {minutes:?}"
    );
    let total: u64 = minutes.iter().filter_map(|m| m["completed"].as_u64()).sum();
    assert_eq!(total, 1);

    // the member sees its project's jobs only
    let (_, json) = app
        .get("/api/agent-execution/stats", &app.member_token)
        .await;
    let waiting = json["data"]["counts"]
        .as_array()
        .expect("counts")
        .iter()
        .find(|c| c["state"] == "waiting")
        .expect("waiting")["count"]
        .clone();
    assert_eq!(waiting, 1);
    app.stop().await;
}

#[tokio::test]
async fn a_jobs_details_show_its_payload_without_credentials_and_its_timeline() {
    let app = TestApp::start().await;
    let body = json!({
        "taskId": app.task.id.get(),
        "agentId": app.agent.id.get(),
        "metadata": {"priority": "high", "estimatedHours": 2},
        "context": {"relatedTasks": [1]},
        "mcpConfigs": [{"serverName": "files", "serverUrl": "https://mcp.example.com",
                        "authType": "bearer", "authCredentials": {"token": "s3cret-value"}, "enabled": true}],
    });
    let (status, json) = app
        .post("/api/agent-execution/queue", &app.member_token, &body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let id = json["data"]["jobId"].as_str().expect("id").to_owned();
    let (status, json) = app
        .get(
            &format!("/api/agent-execution/jobs/{id}/details"),
            &app.member_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let text = json.to_string();
    assert!(!text.contains("s3cret"), "credentials leaked: {text}");
    assert!(!text.contains("Sealed"), "{text}");
    let data = &json["data"];
    assert_eq!(data["payload"]["metadata"]["estimatedHours"], 2.0);
    assert_eq!(data["payload"]["context"]["relatedTasks"], json!([1]));
    assert_eq!(
        data["payload"]["mcpConfigs"],
        json!([{"serverName": "files", "serverUrl": "https://mcp.example.com",
                "authType": "bearer", "enabled": true, "hasCredentials": true}])
    );
    assert_eq!(data["activity"][0]["action"], "job_queued");
    assert_eq!(data["activity"][0]["userId"], app.member.id.get());

    // another project's job is not found, as everywhere
    let theirs = app.task_in_another_project("Elsewhere").await;
    let body = json!({"taskId": theirs.id.get(), "agentId": app.agent.id.get()});
    let (_, json) = app
        .post("/api/agent-execution/queue", &app.admin_token, &body)
        .await;
    let other = json["data"]["jobId"].as_str().expect("id");
    let (status, _) = app
        .get(
            &format!("/api/agent-execution/jobs/{other}/details"),
            &app.member_token,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn admins_list_users_and_members_members_may_not() {
    let app = TestApp::start().await;
    let (status, json) = app.get("/api/users", &app.admin_token).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let emails: Vec<&str> = json["data"]
        .as_array()
        .expect("users")
        .iter()
        .filter_map(|u| u["email"].as_str())
        .collect();
    assert_eq!(
        emails,
        [app.admin.email.as_str(), app.member.email.as_str()]
    );
    assert!(!json.to_string().contains("password"), "{json}");
    let members = format!("/api/projects/{}/members", app.project.id.get());
    let (status, json) = app.get(&members, &app.admin_token).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(
        json["data"],
        json!([{"id": app.member.id.get(), "email": app.member.email, "role": "member"}])
    );
    for path in ["/api/users", members.as_str()] {
        let (status, _) = app.get(path, &app.member_token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
    }
    let (status, _) = app
        .get("/api/projects/999999/members", &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn the_dashboard_is_served_with_a_strict_policy_and_revalidated() {
    let app = TestApp::start_with(&[("AGENTQ_EVENTS_URL", "ws://127.0.0.1:8081/ws")]).await;
    for (path, kind) in [
        ("/", "text/html"),
        ("/ui/app.js", "text/javascript"),
        ("/ui/app.css", "text/css"),
        ("/docs", "text/html"),
        ("/docs/swagger-ui-bundle.js", "text/javascript"),
    ] {
        let reply = app.client.get(app.url(path)).send().await.expect("GET");
        assert_eq!(reply.status(), StatusCode::OK, "{path}");
        let headers = reply.headers().clone();
        assert!(
            headers["content-type"]
                .to_str()
                .expect("type")
                .starts_with(kind),
            "{path}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let policy = headers["content-security-policy"].to_str().expect("policy");
        assert!(
            policy.contains("default-src 'none'") && policy.contains("script-src 'self'"),
            "{policy}"
        );
        assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
        let again = app
            .client
            .get(app.url(path))
            .header("if-none-match", headers["etag"].clone())
            .send()
            .await
            .expect("GET again");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    let page = app.client.get(app.url("/")).send().await.expect("GET /");
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .expect("policy")
        .to_owned();
    assert!(
        policy.contains("connect-src 'self' ws://127.0.0.1:8081;"),
        "{policy}"
    );
    assert!(!policy.contains("unsafe"), "{policy}");
    let html = page.text().await.expect("html");
    assert!(html.contains(r#"<meta name="agentq-events" content="ws://127.0.0.1:8081/ws">"#));
    let head = app.client.head(app.url("/")).send().await.expect("HEAD /");
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head.headers().contains_key("etag"));
    assert_eq!(head.text().await.expect("body"), "");
    let post = app
        .client
        .post(app.url("/ui/app.js"))
        .send()
        .await
        .expect("POST");
    assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    // a name that is not UTF-8 once decoded is no file either
    let bytes = app
        .client
        .get(app.url("/ui/%FF%FE.js"))
        .send()
        .await
        .expect("GET");
    assert!(bytes.status().is_client_error(), "{}", bytes.status());
    for missing in [
        "/ui/nothing.js",
        "/ui/..%2Fsrc%2Flib.rs",
        "/docs/../Cargo.toml",
    ] {
        let reply = app.client.get(app.url(missing)).send().await.expect("GET");
        assert_eq!(reply.status(), StatusCode::NOT_FOUND, "{missing}");
    }
    app.stop().await;
}
