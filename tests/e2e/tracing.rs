//! One trace from request to completion: the gateway and the worker export their spans over
//! OTLP (HTTP, JSON) to a receiver this test runs, the worker's span for the job belongs to the
//! trace of the HTTP request that queued it, and so do the job's events.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::stack::{PATIENCE, Stack};

/// An OTLP/HTTP receiver: every body POSTed to it, parsed as JSON.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let bodies: Arc<Mutex<Vec<Value>>> = Arc::default();
    let received = bodies.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let received = received.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                // keep-alive: one request after another on the connection
                loop {
                    let mut length = 0usize;
                    loop {
                        let mut line = String::new();
                        if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        let line = line.trim_end();
                        if line.is_empty() {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':')
                            && name.eq_ignore_ascii_case("content-length")
                        {
                            length = value.trim().parse().unwrap_or(0);
                        }
                    }
                    let mut body = vec![0u8; length];
                    if reader.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    if let Ok(value) = serde_json::from_slice(&body)
                        && let Ok(mut all) = received.lock()
                    {
                        all.push(value);
                    }
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    if reader.get_mut().write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, bodies)
}

/// (service, span name, trace id, parent span id) of every span received.
fn spans(bodies: &[Value]) -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for body in bodies {
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            let service = resource["resource"]["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["key"] == "service.name")
                .and_then(|a| a["value"]["stringValue"].as_str())
                .unwrap_or_default()
                .to_owned();
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    let text = |k: &str| span[k].as_str().unwrap_or_default().to_lowercase();
                    out.push((
                        service.clone(),
                        text("name"),
                        text("traceId"),
                        text("parentSpanId"),
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test]
async fn one_trace_runs_from_the_request_to_the_worker() {
    let (endpoint, bodies) = receiver().await;
    let stack = Stack::on_sqlite(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ])
    .await;
    let (_, task) = stack.project("Apollo").await;
    let agent = stack.agent(r#"echo '{"result": 1}'"#).await;

    let mut events = stack.events(0, &stack.admin_token).await;
    events.subscribe("notifications", None).await;

    let trace_id = agentq_domain::JobId::new().as_uuid().simple().to_string();
    let caller_span = "00f067aa0ba902b7";
    let reply = stack
        .http
        .post(format!("{}/api/agent-execution/queue", stack.api))
        .bearer_auth(&stack.admin_token)
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&json!({"taskId": task, "agentId": agent}))
        .send()
        .await
        .expect("queue");
    assert_eq!(reply.status(), 201);
    let job: Value = reply.json().await.expect("json");
    let job = job["data"]["jobId"].as_str().expect("id").to_owned();
    stack.wait_for_status(&job, "completed").await;
    // the job's events carry the trace too
    let frames = events.until(&job, "agent_job_completed").await;
    for frame in frames.iter().filter(|f| f["data"]["jobId"] == job) {
        let carried = frame["data"]["traceparent"].as_str().unwrap_or_default();
        assert!(carried.contains(&trace_id), "{frame}");
    }

    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let seen = spans(&bodies.lock().map(|b| b.clone()).unwrap_or_default());
        let in_trace: Vec<_> = seen.iter().filter(|s| s.2 == trace_id).collect();
        let request = in_trace
            .iter()
            .find(|s| s.0 == "api-gateway" && s.1 == "http request");
        let run = in_trace
            .iter()
            .find(|s| s.0 == "queue-worker" && s.1 == "run job");
        if let (Some(request), Some(_)) = (request, run) {
            assert_eq!(
                request.3, caller_span,
                "the request's span is the caller's child"
            );
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "trace {trace_id} incomplete; received: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
