use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{Client, Harness};

fn refusal(frame: &Value) -> &str {
    assert_eq!(
        frame["type"], "error",
        "expected an error frame, got {frame}"
    );
    frame["code"].as_str().expect("code")
}

#[tokio::test]
async fn members_join_only_their_projects_rooms() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let own_job = h.enqueue(&h.own).await;
    let other_job = h.enqueue(&h.other).await;
    let mut member = b.connect(&h.token(&h.member)).await;

    member.subscribe(&format!("project:{}", h.own.0.id)).await;
    member.subscribe(&format!("job:{own_job}")).await;
    member.subscribe("notifications").await;
    for room in [
        format!("project:{}", h.other.0.id),
        format!("job:{other_job}"),
        format!("job:{}", agentq_domain::JobId::new()),
    ] {
        member
            .send(json!({"type": "subscribe", "room": room}))
            .await;
        let reply = member.next().await;
        assert_eq!(refusal(&reply), "forbidden", "{room}");
        assert_eq!(reply["room"], room);
    }
    for room in ["lobby", "project:abc", "job:12"] {
        member
            .send(json!({"type": "subscribe", "room": room}))
            .await;
        assert_eq!(refusal(&member.next().await), "unknown_room", "{room}");
    }

    // an admin joins any room
    let mut admin = b.connect(&h.token(&h.admin)).await;
    admin.subscribe(&format!("project:{}", h.other.0.id)).await;
    admin.subscribe(&format!("job:{other_job}")).await;
}

#[tokio::test]
async fn notifications_carry_only_what_the_user_may_see() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let mut member = b.connect(&h.token(&h.member)).await;
    let mut admin = b.connect(&h.token(&h.admin)).await;
    member.subscribe("notifications").await;
    admin.subscribe("notifications").await;

    let hidden = h.enqueue(&h.other).await;
    let visible = h.enqueue(&h.own).await;
    let seen = member.events(1).await;
    assert_eq!(seen[0]["data"]["jobId"], visible.to_string());
    assert_eq!(seen[0]["room"], "notifications");
    assert!(member.quiet_for(Duration::from_millis(300)).await);
    let all: Vec<Value> = admin
        .events(2)
        .await
        .into_iter()
        .map(|f| f["data"]["jobId"].clone())
        .collect();
    assert_eq!(all, [json!(hidden.to_string()), json!(visible.to_string())]);
}

#[tokio::test]
async fn a_job_room_gets_every_event_of_the_job_in_order_matching_the_schema() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let job = h.enqueue(&h.own).await;
    let mut client = b.connect(&h.token(&h.member)).await;
    client.subscribe(&format!("job:{job}")).await;
    let mut project = b.connect(&h.token(&h.member)).await;
    project.subscribe(&format!("project:{}", h.own.0.id)).await;

    assert_eq!(h.run_next().await, job);
    let frames = client.events(4).await;
    let names: Vec<&str> = frames
        .iter()
        .map(|f| f["event"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "agent_job_started",
            "agent_job_progress",
            "agent_job_log",
            "agent_job_completed"
        ]
    );
    let ids: Vec<agentq_queue::EventId> = frames
        .iter()
        .map(|f| agentq_queue::EventId::parse(f["id"].as_str().expect("id")).expect("stream id"))
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in stream order");
    assert_eq!(frames[0]["data"]["status"], "active");
    assert_eq!(frames[1]["data"]["progress"], 50);
    assert_eq!(frames[2]["data"]["lines"], json!(["hello", "world"]));
    let done = &frames[3]["data"];
    assert_eq!(done["jobId"], job.to_string());
    assert_eq!(done["result"], json!({"answer": 42}));
    assert!(done["executionTimeMs"].is_u64());

    // output stays in the job's room; the rest reaches the project's
    let in_project: Vec<Value> = project.events(3).await;
    let names: Vec<&str> = in_project
        .iter()
        .map(|f| f["event"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        names,
        [
            "agent_job_started",
            "agent_job_progress",
            "agent_job_completed"
        ]
    );

    let schema: Value =
        serde_json::from_str(include_str!("../../../../proto/events.schema.json")).expect("schema");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    for frame in frames.iter().chain(&in_project) {
        let errors: Vec<String> = validator
            .iter_errors(frame)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{frame} does not match: {errors:?}");
    }
}

#[tokio::test]
async fn two_broadcasters_both_deliver_every_event() {
    let h = Harness::new().await;
    let first = h.spawn(&[]).await;
    let second = h.spawn(&[]).await;
    let room = format!("project:{}", h.own.0.id);
    let mut a = first.connect(&h.token(&h.member)).await;
    let mut b = second.connect(&h.token(&h.member)).await;
    a.subscribe(&room).await;
    b.subscribe(&room).await;
    let mut jobs = Vec::new();
    for _ in 0..5 {
        jobs.push(json!(h.enqueue(&h.own).await.to_string()));
    }
    for client in [&mut a, &mut b] {
        let got: Vec<Value> = client
            .events(5)
            .await
            .into_iter()
            .map(|f| f["data"]["jobId"].clone())
            .collect();
        assert_eq!(got, jobs);
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped_and_fifty_others_get_everything() {
    let h = Harness::new().await;
    let b = h.spawn(&[("AGENTQ_WS_CLIENT_BUFFER", "256")]).await;
    let room = format!("project:{}", h.own.0.id);
    let token = h.token(&h.member);
    // a small receive window, so that the kernel does not absorb what it does not read
    let mut stalled = b.connect_with_receive_buffer(&token, 4096).await;
    stalled.subscribe(&room).await;
    let mut readers = Vec::new();
    for _ in 0..50 {
        let mut client = b.connect(&token).await;
        client.subscribe(&room).await;
        readers.push(client);
    }
    const EVENTS: usize = 6_000;
    let counting: Vec<_> = readers
        .into_iter()
        .map(|mut client| tokio::spawn(async move { client.count_events(EVENTS).await }))
        .collect();
    // a steady 4,000 events a second that every reader keeps up with
    for _ in 0..EVENTS / 100 {
        h.enqueue_many(h.own.0.id, 100, 100).await;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    for reader in counting {
        assert_eq!(reader.await.expect("reader"), EVENTS);
    }
    assert!(b.metric("agentq_ws_slow_client_drops_total").await >= 1.0);
    // what the stalled client finds when it reads at last: fewer events, then the end
    let mut received = 0;
    let mut close = None;
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout(Duration::from_secs(5), stalled.ws.next()).await
    {
        match message {
            Message::Text(_) => received += 1,
            Message::Close(frame) => close = frame.map(|f| f.code),
            _ => {}
        }
    }
    assert!(
        received < EVENTS,
        "the stalled client was cut off ({received})"
    );
    if let Some(code) = close {
        assert_eq!(code, CloseCode::Again);
    }
}

#[tokio::test]
async fn a_removed_member_stops_receiving() {
    let h = Harness::new().await;
    let b = h.spawn(&[("AGENTQ_WS_RECHECK_MS", "200")]).await;
    let mut member = b.connect(&h.token(&h.member)).await;
    let room = format!("project:{}", h.own.0.id);
    member.subscribe(&room).await;
    h.enqueue(&h.own).await;
    member.events(1).await;

    agentq_store::remove_member(&h.db, h.own.0.id, h.member.id)
        .await
        .expect("remove");
    let withdrawn = member.next().await;
    assert_eq!(refusal(&withdrawn), "forbidden");
    assert_eq!(withdrawn["room"], room);
    h.enqueue(&h.own).await;
    assert!(member.quiet_for(Duration::from_millis(500)).await);
}

#[tokio::test]
async fn shutdown_sends_going_away_to_every_client() {
    let h = Harness::new().await;
    let mut b = h.spawn(&[]).await;
    let mut clients: Vec<Client> = Vec::new();
    for _ in 0..3 {
        clients.push(b.connect(&h.token(&h.member)).await);
    }
    b.terminate();
    for client in &mut clients {
        let close = loop {
            match tokio::time::timeout(Duration::from_secs(10), client.ws.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => break frame,
                Ok(Some(Ok(_))) => {}
                other => panic!("expected a close frame, got {other:?}"),
            }
        };
        assert_eq!(close.map(|f| f.code), Some(CloseCode::Away));
    }
    let status = b.child.wait().expect("exit");
    assert!(status.success(), "{status}");
}
