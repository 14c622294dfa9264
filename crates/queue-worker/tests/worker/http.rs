use std::time::Duration;

use agentq_domain::JobState;
use agentq_store::{AgentKind, NewAgent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::helpers::*;

/// A one-route HTTP server answering every request with `status` and `body`; hands back
/// the request bodies it got.
async fn endpoint(
    status: u16,
    body: &'static str,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    endpoint_with(status, String::new(), body).await
}

/// [`endpoint`], with more header lines (each ending in `\r\n`).
async fn endpoint_with(
    status: u16,
    headers: String,
    body: &'static str,
) -> (String, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/run", listener.local_addr().expect("addr"));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let tx = tx.clone();
            let headers = headers.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                // read the head, then as many body bytes as Content-Length says
                loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some((head, rest)) = text.split_once("\r\n\r\n") {
                        let length = head
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if rest.len() >= length {
                            let _ = tx.send(rest.to_owned());
                            break;
                        }
                    }
                }
                let response = format!(
                    "HTTP/1.1 {status} X\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (url, rx)
}

async fn http_agent(h: &Harness, url: String) -> agentq_store::Agent {
    agentq_store::create_agent(
        &h.db,
        NewAgent {
            name: format!("remote-{}", agentq_domain::JobId::new()),
            kind: AgentKind::Http(url),
            timeout_secs: 10,
            max_concurrency: None,
            idle_timeout_secs: None,
            requires_approval: false,
            asks_approval: false,
            env: Default::default(),
        },
    )
    .await
    .expect("agent")
}

crate::on_sqlite_and_mariadb!(
    an_http_agent_completes_with_the_body_of_its_2xx_answer,
    &[],
    an_http_agent_completes_with_the_body_of_its_2xx_answer_scenario
);

async fn an_http_agent_completes_with_the_body_of_its_2xx_answer_scenario(h: Harness) {
    let (url, mut requests) = endpoint(200, r#"{"answer":42}"#).await;
    let agent = http_agent(&h, url).await;
    let (stop, worker) = h.start_worker("w1");
    let id = h.submit(&agent).await;
    let row = h
        .wait_for_row(&id, JobState::Completed, Duration::from_secs(10))
        .await;
    assert_eq!(row.result, Some(serde_json::json!({"answer": 42})));
    let sent: serde_json::Value =
        serde_json::from_str(&requests.recv().await.expect("request")).expect("json body");
    assert_eq!(sent["jobId"], id.to_string());
    assert_eq!(sent["task"]["code"], "T-1");
    assert!(sent["mcpConfigs"].is_array());
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    an_http_agent_that_answers_an_error_fails_after_its_attempts,
    &[],
    an_http_agent_that_answers_an_error_fails_after_its_attempts_scenario
);

async fn an_http_agent_that_answers_an_error_fails_after_its_attempts_scenario(h: Harness) {
    let (url, _requests) = endpoint(503, r#"{"error":"overloaded"}"#).await;
    let agent = http_agent(&h, url).await;
    let (stop, worker) = h.start_worker("w1");
    let id = h.submit(&agent).await;
    let row = h
        .wait_for_row(&id, JobState::Failed, Duration::from_secs(10))
        .await;
    assert_eq!(row.attempts_made, 3);
    assert!(
        row.last_error.as_deref().is_some_and(|e| e.contains("503")),
        "{row:?}"
    );
    assert!(
        row.error_stack
            .as_deref()
            .is_some_and(|e| e.contains("overloaded")),
        "{row:?}"
    );
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    an_http_agent_on_a_loopback_address_is_refused_unless_listed,
    &[("AGENTQ_AGENT_HOSTS", "")],
    an_http_agent_on_loopback_scenario
);

/// With no `AGENTQ_AGENT_HOSTS`, a worker calls no loopback address: a job cannot reach the
/// services beside the worker, whether the endpoint names the address or a name for it.
async fn an_http_agent_on_loopback_scenario(h: Harness) {
    let (url, mut requests) = endpoint(200, r#"{"secret":"internal"}"#).await;
    let by_name = url.replace("127.0.0.1", "localhost");
    let (stop, worker) = h.start_worker("w1");
    for target in [url, by_name] {
        let agent = http_agent(&h, target.clone()).await;
        let id = h.submit(&agent).await;
        let row = h
            .wait_for_row(&id, JobState::Failed, Duration::from_secs(15))
            .await;
        assert!(
            row.last_error
                .as_deref()
                .is_some_and(|e| e.contains("loopback")),
            "{target}: {row:?}"
        );
    }
    assert!(
        requests.try_recv().is_err(),
        "the endpoint was never called"
    );
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}

crate::on_sqlite_and_mariadb!(
    an_http_agent_is_not_redirected_to_another_host,
    &[
        ("AGENTQ_AGENT_HOSTS", "127.0.0.1,localhost"),
        ("AGENTQ_ATTEMPTS", "1")
    ],
    an_http_agent_is_not_redirected_scenario
);

async fn an_http_agent_is_not_redirected_scenario(h: Harness) {
    let (elsewhere, mut reached) = endpoint(200, r#"{"moved":true}"#).await;
    let location = format!(
        "Location: {}\r\n",
        elsewhere.replace("127.0.0.1", "localhost")
    );
    let (url, _requests) = endpoint_with(302, location, "{}").await;
    let agent = http_agent(&h, url).await;
    let (stop, worker) = h.start_worker("w1");
    let id = h.submit(&agent).await;
    let row = h
        .wait_for_row(&id, JobState::Failed, Duration::from_secs(15))
        .await;
    assert!(
        row.last_error.as_deref().is_some_and(|e| e.contains("302")),
        "{row:?}"
    );
    assert!(
        reached.try_recv().is_err(),
        "the other host was never called"
    );
    stop.cancel();
    worker.await.expect("join").expect("worker");
    h.cleanup().await;
}
