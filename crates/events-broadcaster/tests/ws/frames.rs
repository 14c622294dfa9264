use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::Harness;

#[tokio::test]
async fn bad_frames_get_error_frames_and_the_connection_lives_on() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let mut client = b.connect(&h.token(&h.member)).await;
    let bad: [Message; 6] = [
        Message::Text("not json".into()),
        Message::Text("{}".into()),
        Message::Text(r#"{"type":"dance"}"#.into()),
        Message::Text(r#"{"type":"subscribe"}"#.into()),
        Message::Text(r#"{"type":"subscribe","room":7}"#.into()),
        Message::Binary(vec![0, 159, 146, 150].into()),
    ];
    for message in bad {
        client.ws.send(message).await.expect("send");
        let reply = client.next().await;
        assert_eq!(reply["type"], "error", "{reply}");
        assert_eq!(reply["code"], "bad_frame", "{reply}");
    }
    client
        .send(json!({"type": "subscribe", "room": "notifications", "lastEventId": "yesterday"}))
        .await;
    assert_eq!(client.next().await["code"], "bad_event_id");
    client.send(json!({"type": "ping"})).await;
    assert_eq!(client.next().await, json!({"type": "pong"}));
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_the_connection_with_1009() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let mut client = b.connect(&h.token(&h.member)).await;
    let huge = format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(70 * 1024));
    client
        .ws
        .send(Message::Text(huge.into()))
        .await
        .expect("send");
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(10), client.ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Size));
}

#[tokio::test]
async fn a_peer_that_never_answers_pings_is_dropped() {
    let h = Harness::new().await;
    let b = h.spawn(&[("AGENTQ_WS_PING_MS", "200")]).await;
    // connected, then never polled again: it answers no ping
    let silent = b.connect(&h.token(&h.member)).await;
    b.wait_for_metric("agentq_ws_connections", |n| n == 1.0)
        .await;
    b.wait_for_metric("agentq_ws_connections", |n| n == 0.0)
        .await;
    drop(silent);
}

#[tokio::test]
async fn a_connection_ends_when_its_token_expires() {
    let h = Harness::new().await;
    let b = h.spawn(&[("AGENTQ_WS_RECHECK_MS", "100")]).await;
    let short = h.jwt.issue(h.member.id, 1).expect("token").token;
    let mut client = b.connect(&short).await;
    let close = loop {
        match tokio::time::timeout(Duration::from_secs(10), client.ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    assert_eq!(close.map(|f| f.code), Some(CloseCode::Policy));
}
