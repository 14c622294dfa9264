use proptest::prelude::*;
use proptest::strategy::ValueTree;
use reqwest::StatusCode;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn bad_bodies_get_the_seeds_validation_error() {
    let app = TestApp::start().await;
    let (status, json) = app
        .post(
            "/api/agent-execution/queue",
            &app.admin_token,
            &json!({"taskId": "7", "agentId": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(json["error"], "Validation failed");
    assert!(
        json["details"]["taskId"]["_errors"][0].is_string(),
        "{json}"
    );

    let (status, json) = app
        .post(
            "/api/agent-execution/queue",
            &app.admin_token,
            &json!({"taskId": 1, "agentId": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        json["details"]["agentId"]["_errors"],
        json!(["Agent ID must be a positive integer"])
    );

    let send = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/agent-execution/queue"))
            .bearer_auth(&app.admin_token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let (status, json) = read(
        send("{\"taskId\": 1,", "application/json")
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (status, json["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("Validation failed"))
    );
    let (status, json) = read(
        send("taskId=1&agentId=1", "application/x-www-form-urlencoded")
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(
        (status, json["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("Validation failed"))
    );
    app.stop().await;
}

#[tokio::test]
async fn unknown_tasks_and_agents_are_not_found() {
    let app = TestApp::start().await;
    let (status, json) = app
        .post(
            "/api/agent-execution/queue",
            &app.admin_token,
            &json!({"taskId": 999_999, "agentId": app.agent.id.get()}),
        )
        .await;
    assert_eq!(
        (status, json),
        (StatusCode::NOT_FOUND, json!({"error": "Task not found"}))
    );
    let (status, json) = app
        .post(
            "/api/agent-execution/queue",
            &app.admin_token,
            &json!({"taskId": app.task.id.get(), "agentId": 999_999}),
        )
        .await;
    assert_eq!(
        (status, json),
        (StatusCode::NOT_FOUND, json!({"error": "Agent not found"}))
    );
    app.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_get_413() {
    let app = TestApp::start_with(&[("AGENTQ_BODY_LIMIT_BYTES", "2048")]).await;
    let big = json!({"taskId": app.task.id.get(), "agentId": app.agent.id.get(), "pad": "x".repeat(4096)});
    let (status, json) = app
        .post("/api/agent-execution/queue", &app.admin_token, &big)
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{json}");
    // without a content length (chunked), the limit still holds
    let stream =
        futures_util::stream::iter((0..8).map(|_| Ok::<_, std::io::Error>(vec![b' '; 512])));
    let res = app
        .client
        .post(app.url("/api/agent-execution/queue"))
        .bearer_auth(&app.admin_token)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}

#[tokio::test]
async fn queue_routes_answer_503_while_redis_is_unreachable() {
    let app = TestApp::start_with(&[("REDIS_URL", "redis://127.0.0.1:1")]).await;
    let body = json!({"taskId": app.task.id.get(), "agentId": app.agent.id.get()});
    let (status, json) = app
        .post("/api/agent-execution/queue", &app.admin_token, &body)
        .await;
    assert_eq!(
        (status, json),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "Agent execution service not initialized"})
        )
    );
    // the row written first does not wait forever for a job that never got queued
    let rows = agentq_store::active_jobs(&app.db, &agentq_store::Scope::All, 10)
        .await
        .expect("sql");
    assert!(rows.is_empty(), "{rows:?}");
    let (status, _) = app
        .get("/api/agent-execution/workers", &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, json) = read(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json["checks"]["redis"], false);
    app.stop().await;
}

#[tokio::test]
async fn a_500_shows_no_details_outside_development() {
    for (development, extra) in [(false, vec![]), (true, vec![("AGENTQ_ENV", "development")])] {
        let app = TestApp::start_with(&extra).await;
        app.db
            .execute_unprepared("DROP TABLE activity_log")
            .await
            .expect("drop");
        let body = json!({"taskId": app.task.id.get(), "agentId": app.agent.id.get()});
        let (status, json) = app
            .post("/api/agent-execution/queue", &app.admin_token, &body)
            .await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(json["error"], "Failed to queue job");
        assert_eq!(json.get("details").is_some(), development, "{json}");
        app.stop().await;
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-zA-Z]{1,10}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A valid body with one field replaced by anything at all.
fn mutated_body(task: i64, agent: i64) -> impl Strategy<Value = Value> {
    let fields = prop_oneof![
        Just("taskId"),
        Just("agentId"),
        Just("metadata"),
        Just("context"),
        Just("mcpConfigs"),
    ];
    (fields, any_json()).prop_map(move |(field, value)| {
        let mut body = json!({
            "taskId": task,
            "agentId": agent,
            "metadata": {"priority": "high", "estimatedHours": 1, "retryCount": 0},
            "context": {"relatedTasks": [1]},
            "mcpConfigs": [{"serverName": "a", "serverUrl": "https://a.example", "authType": "none", "enabled": true}]
        });
        body[field] = value;
        body
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_generated_body_makes_the_server_fail() {
    let app = TestApp::start().await;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 300,
        ..ProptestConfig::default()
    });
    let strategy = prop_oneof![
        any_json(),
        mutated_body(app.task.id.get(), app.agent.id.get())
    ];
    let mut bodies = Vec::new();
    for _ in 0..300 {
        bodies.push(strategy.new_tree(&mut runner).expect("value").current());
    }
    for body in bodies {
        let (status, json) = app
            .post("/api/agent-execution/queue", &app.admin_token, &body)
            .await;
        assert!(
            matches!(
                status,
                StatusCode::CREATED | StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND
            ),
            "{body} -> {status} {json}"
        );
        if status == StatusCode::BAD_REQUEST {
            assert_eq!(json["error"], "Validation failed", "{body}");
        }
    }
    app.stop().await;
}
