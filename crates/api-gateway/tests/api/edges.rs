//! The gateway's edges: retried submissions (`Idempotency-Key`) and an enqueue whose reply is
//! lost on its way back from Redis.

use agentq_domain::{JobId, JobState};
use agentq_queue::{Queue, QueueConfig, Redis};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

async fn submit(app: &TestApp, token: &str, key: Option<&str>) -> (StatusCode, Value) {
    let mut request = app
        .client
        .post(app.url("/api/agent-execution/queue"))
        .bearer_auth(token)
        .json(&json!({"taskId": app.task.id.get(), "agentId": app.agent.id.get()}));
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    read(request.send().await.expect("send")).await
}

async fn rows(app: &TestApp) -> usize {
    agentq_store::jobs_by_task(&app.db, &agentq_store::Scope::All, app.task.id)
        .await
        .expect("sql")
        .len()
}

#[tokio::test]
async fn a_repeated_idempotency_key_answers_the_first_submission_and_queues_nothing_more() {
    let app = TestApp::start().await;
    let (status, first) = submit(&app, &app.admin_token, Some("order-7")).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, again) = submit(&app, &app.admin_token, Some("order-7")).await;
    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again, first, "the first answer, again");
    assert_eq!(rows(&app).await, 1);
    assert_eq!(app.queue.counts().await.expect("counts").waiting, 1);

    // another key, or no key, is another submission; so is the same key from another caller
    let (_, other) = submit(&app, &app.admin_token, Some("order-8")).await;
    let (_, plain) = submit(&app, &app.admin_token, None).await;
    let (status, member) = submit(&app, &app.member_token, Some("order-7")).await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    let ids: std::collections::HashSet<&Value> = [&first, &other, &plain, &member]
        .iter()
        .map(|answer| &answer["data"]["jobId"])
        .collect();
    assert_eq!(ids.len(), 4);
    assert_eq!(rows(&app).await, 4);
    app.stop().await;
}

#[tokio::test]
async fn a_malformed_idempotency_key_is_refused_before_anything_is_queued() {
    let app = TestApp::start().await;
    let long = "k".repeat(256);
    for key in ["", "has space", long.as_str(), "naïve"] {
        let (status, body) = submit(&app, &app.admin_token, Some(key)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{key:?}: {body}");
        assert!(
            body["details"]
                .as_str()
                .is_some_and(|d| d.contains("Idempotency-Key")),
            "{body}"
        );
    }
    assert_eq!(rows(&app).await, 0);
    app.stop().await;
}

/// A TCP proxy to Redis that passes everything on until a client sends its first script call
/// (`EVALSHA`, the enqueue), then drops every reply: Redis runs the call, the gateway never
/// learns it did.
async fn reply_eating_proxy(upstream: String) -> u16 {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("proxy");
    let port = listener.local_addr().expect("addr").port();
    let eating = Arc::new(AtomicBool::new(false));
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                continue;
            };
            let (mut client_read, mut client_write) = client.into_split();
            let (mut server_read, mut server_write) = server.into_split();
            let seen = eating.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = client_read.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if buf[..n]
                        .windows(7)
                        .any(|w| w.eq_ignore_ascii_case(b"EVALSHA"))
                    {
                        seen.store(true, Ordering::SeqCst);
                    }
                    if server_write.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
            let eat = eating.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n) = server_read.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    if !eat.load(Ordering::SeqCst)
                        && client_write.write_all(&buf[..n]).await.is_err()
                    {
                        break;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn an_enqueue_whose_reply_is_lost_leaves_the_row_for_the_reconciler_not_cancelled() {
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let upstream = redis_url
        .trim_start_matches("redis://")
        .trim_end_matches('/')
        .to_owned();
    let port = reply_eating_proxy(upstream).await;
    let queue_name = format!("api-test-{}", JobId::new());
    let proxied = format!("redis://127.0.0.1:{port}");
    let app = TestApp::start_with(&[("REDIS_URL", &proxied), ("AGENTQ_QUEUE", &queue_name)]).await;
    let (status, body) = submit(&app, &app.admin_token, None).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "Agent execution service not initialized"})
        )
    );
    // Redis did queue the job; the row is not marked cancelled, so the two agree
    let direct = Queue::new(
        Redis::open(&redis_url).expect("redis"),
        QueueConfig::named(queue_name),
    );
    let rows = agentq_store::jobs_by_task(&app.db, &agentq_store::Scope::All, app.task.id)
        .await
        .expect("sql");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, JobState::Waiting);
    let live = direct.job(&rows[0].job_id).await.expect("redis");
    assert_eq!(live.map(|j| j.state), Some(JobState::Waiting));
    app.stop().await;
}

#[tokio::test]
async fn agents_and_mcp_servers_may_not_name_the_services_beside_the_workers() {
    let app = TestApp::start().await;
    let body = json!({
        "taskId": app.task.id.get(),
        "agentId": app.agent.id.get(),
        "mcpConfigs": [
            {"serverName": "ok", "serverUrl": "https://mcp.example.com", "authType": "none", "enabled": true},
            {"serverName": "redis", "serverUrl": "redis://127.0.0.1:6379", "authType": "none", "enabled": true}
        ]
    });
    let (status, answer) = app
        .post("/api/agent-execution/queue", &app.member_token, &body)
        .await;
    // well formed, refused by the operator's policy
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(answer["error"], "Host not allowed", "{answer}");
    let message = &answer["details"]["mcpConfigs"]["1"]["serverUrl"]["_errors"][0];
    assert!(
        message.as_str().is_some_and(|m| m.contains("loopback")),
        "{answer}"
    );
    assert!(
        answer["details"]["mcpConfigs"].get("0").is_none(),
        "{answer}"
    );
    assert_eq!(rows(&app).await, 0);

    let metadata =
        json!({"name": "imds", "kind": "http", "endpointUrl": "http://169.254.169.254/latest"});
    let (status, answer) = app.post("/api/agents", &app.admin_token, &metadata).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let message = &answer["details"]["endpointUrl"]["_errors"][0];
    assert!(
        message.as_str().is_some_and(|m| m.contains("link-local")),
        "{answer}"
    );
    app.stop().await;
}

/// A body that is JSON but not an object is refused by every route that takes one, with the
/// seed's (zod's) words: serde alone would fill a request from an array, field by field.
#[tokio::test]
async fn a_body_that_is_not_an_object_is_refused_everywhere() {
    let app = TestApp::start().await;
    let project = app.project.id.get();
    let agent = app.agent.id.get();
    let routes = [
        (reqwest::Method::POST, "/api/projects".to_owned()),
        (
            reqwest::Method::PUT,
            format!("/api/projects/{project}/budget"),
        ),
        (
            reqwest::Method::POST,
            format!("/api/projects/{project}/tasks"),
        ),
        (reqwest::Method::PATCH, format!("/api/agents/{agent}")),
        (
            reqwest::Method::POST,
            "/api/agent-execution/queue".to_owned(),
        ),
    ];
    for (method, path) in routes {
        // bytes that are not UTF-8 are not JSON; 10 MB is past the body limit
        for (bytes, expected) in [
            (
                b"{\"name\": \"\xff\xfe\"}".to_vec(),
                StatusCode::BAD_REQUEST,
            ),
            (vec![b' '; 10 * 1024 * 1024], StatusCode::PAYLOAD_TOO_LARGE),
        ] {
            let res = app
                .client
                .request(method.clone(), app.url(&path))
                .bearer_auth(&app.admin_token)
                .header("content-type", "application/json")
                .body(bytes)
                .send()
                .await
                .expect("request");
            assert_eq!(res.status(), expected, "{method} {path}");
        }
        for (body, received) in [
            (json!([1]), "array"),
            (json!(["Apollo 2"]), "array"),
            (json!("Apollo 2"), "string"),
            (json!(5), "number"),
            (json!(null), "null"),
        ] {
            let res = app
                .client
                .request(method.clone(), app.url(&path))
                .bearer_auth(&app.admin_token)
                .json(&body)
                .send()
                .await
                .expect("request");
            let (status, answer) = read(res).await;
            assert_eq!(
                status,
                StatusCode::BAD_REQUEST,
                "{method} {path} {body}: {answer}"
            );
            assert!(
                answer
                    .to_string()
                    .contains(&format!("Expected object, received {received}"))
                    || path.ends_with("/queue"),
                "{method} {path} {body}: {answer}"
            );
        }
    }
    // nothing changed: the budget is still unset, no project or task was added
    let (_, projects) = app.get("/api/projects", &app.admin_token).await;
    assert_eq!(
        projects["data"].as_array().map(Vec::len),
        Some(1),
        "{projects}"
    );
    assert!(projects["data"][0]["costUsdPerDay"].is_null(), "{projects}");
    let (_, agents) = app.get("/api/agents", &app.admin_token).await;
    assert_eq!(agents["data"][0]["timeoutSecs"], 60, "{agents}");
    app.stop().await;
}
