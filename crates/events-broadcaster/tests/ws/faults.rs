//! What a broadcaster meets that nobody planned: a stream entry it cannot parse, more clients
//! than it takes, a client resuming from far back.

use serde_json::json;

use crate::helpers::Harness;

async fn xadd(h: &Harness, fields: &[&str]) {
    let mut conn = h.queue.redis().connection().await.expect("conn");
    let _: String = redis::cmd("XADD")
        .arg(h.queue.keys().events())
        .arg("*")
        .arg(fields)
        .query_async(&mut conn)
        .await
        .expect("xadd");
}

#[tokio::test]
async fn an_entry_nobody_can_parse_is_skipped_and_live_delivery_goes_on() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let room = format!("project:{}", h.own.0.id);
    let mut client = b.connect(&h.token(&h.member)).await;
    client.subscribe(&room).await;
    let before = h.enqueue(&h.own).await;
    xadd(&h, &["nonsense", "1"]).await;
    xadd(&h, &["event", "agent_job_teleported", "job", "not-a-job"]).await;
    let after = h.enqueue(&h.own).await;
    let seen = client.events(2).await;
    let ids: Vec<_> = seen.iter().map(|f| f["data"]["jobId"].clone()).collect();
    assert_eq!(ids, [json!(before.to_string()), json!(after.to_string())]);
    b.wait_for_metric("agentq_queue_events_unreadable_total", |n| n >= 2.0)
        .await;

    // and a client resuming from before them gets past them too
    let first_id = seen[0]["id"].as_str().expect("id").to_owned();
    let mut back = b.connect(&h.token(&h.member)).await;
    back.send(json!({"type": "subscribe", "room": room, "lastEventId": first_id}))
        .await;
    assert_eq!(
        back.next().await,
        json!({"type": "subscribed", "room": room})
    );
    let replayed = back.events(1).await;
    assert_eq!(replayed[0]["data"]["jobId"], json!(after.to_string()));
}

#[tokio::test]
async fn past_the_connection_cap_an_upgrade_gets_503() {
    let h = Harness::new().await;
    let b = h.spawn(&[("AGENTQ_WS_MAX_CONNECTIONS", "2")]).await;
    let token = h.token(&h.member);
    let first = b.connect(&token).await;
    let _second = b.connect(&token).await;
    let refused = tokio_tungstenite::connect_async(format!("{}?token={token}", b.ws())).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!("expected 503, got {other:?}"),
    }
    // a slot frees when a client leaves
    drop(first);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let again = tokio_tungstenite::connect_async(format!("{}?token={token}", b.ws())).await;
        if again.is_ok() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no slot came free");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_resume_from_far_back_scans_a_bounded_number_of_entries_then_reports_the_gap() {
    let h = Harness::new().await;
    let b = h.spawn(&[("AGENTQ_WS_REPLAY_MAX", "500")]).await;
    let room = format!("project:{}", h.own.0.id);
    let mut client = b.connect(&h.token(&h.member)).await;
    client.subscribe(&room).await;
    let first = h.enqueue(&h.own).await;
    let seen = client.events(1).await;
    assert_eq!(seen[0]["data"]["jobId"], json!(first.to_string()));
    let from = seen[0]["id"].as_str().expect("id").to_owned();
    drop(client);
    // far more than one resume may scan, all in the client's room
    h.enqueue_many(h.own.0.id, 1200, 100).await;
    let mut back = b.connect(&h.token(&h.member)).await;
    back.send(json!({"type": "subscribe", "room": room, "lastEventId": from}))
        .await;
    assert_eq!(
        back.next().await,
        json!({"type": "subscribed", "room": room})
    );
    let mut seen = std::collections::HashSet::new();
    let gap = loop {
        let frame = back.next().await;
        if frame["type"] == "gap" {
            break frame;
        }
        assert!(
            seen.insert(frame["data"]["jobId"].clone()),
            "twice: {frame}"
        );
    };
    assert_eq!(seen.len(), 500, "one bounded scan's worth");
    assert!(gap["oldestEventId"].as_str().is_some(), "{gap}");
    // then live: what the hub had not sent yet when the client came back, and new events
    let live = json!(h.enqueue(&h.own).await.to_string());
    for _ in 0..2000 {
        let frame = back.next().await;
        assert!(
            seen.insert(frame["data"]["jobId"].clone()),
            "twice: {frame}"
        );
        if frame["data"]["jobId"] == live {
            return;
        }
    }
    panic!("the live event never came");
}
