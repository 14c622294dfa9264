use serde_json::{Value, json};

use crate::helpers::Harness;

fn job_ids(frames: &[Value]) -> Vec<Value> {
    frames.iter().map(|f| f["data"]["jobId"].clone()).collect()
}

#[tokio::test]
async fn a_client_resuming_by_last_event_id_gets_exactly_what_it_missed_then_live_events() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let room = format!("project:{}", h.own.0.id);
    let mut client = b.connect(&h.token(&h.member)).await;
    client.subscribe(&room).await;
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(json!(h.enqueue(&h.own).await.to_string()));
    }
    let seen = client.events(3).await;
    assert_eq!(job_ids(&seen), jobs);
    let last_id = seen[2]["id"].as_str().expect("id").to_owned();
    drop(client);

    // missed while away, mixed with events of a room the client is not in
    let mut missed = Vec::new();
    for _ in 0..5 {
        missed.push(json!(h.enqueue(&h.own).await.to_string()));
        h.enqueue(&h.other).await;
    }
    let mut back = b.connect(&h.token(&h.member)).await;
    back.send(json!({"type": "subscribe", "room": room, "lastEventId": last_id}))
        .await;
    assert_eq!(
        back.next().await,
        json!({"type": "subscribed", "room": room})
    );
    let replayed = back.events(5).await;
    assert_eq!(job_ids(&replayed), missed);
    let live = json!(h.enqueue(&h.own).await.to_string());
    assert_eq!(job_ids(&back.events(1).await), [live]);
    assert!(
        back.quiet_for(std::time::Duration::from_millis(200)).await,
        "nothing twice"
    );
}

#[tokio::test]
async fn a_restarted_broadcaster_replays_what_clients_missed_while_it_was_down() {
    let h = Harness::new().await;
    let room = format!("project:{}", h.own.0.id);
    let first = h.spawn(&[]).await;
    let mut client = first.connect(&h.token(&h.member)).await;
    client.subscribe(&room).await;
    h.enqueue(&h.own).await;
    let last_id = client.events(1).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    drop(client);
    drop(first);

    let mut missed = Vec::new();
    for _ in 0..4 {
        missed.push(json!(h.enqueue(&h.own).await.to_string()));
    }
    let second = h.spawn(&[]).await;
    let mut back = second.connect(&h.token(&h.member)).await;
    back.send(json!({"type": "subscribe", "room": room, "lastEventId": last_id}))
        .await;
    assert_eq!(back.next().await["type"], "subscribed");
    assert_eq!(job_ids(&back.events(4).await), missed);
}

#[tokio::test]
async fn a_gap_is_reported_not_hidden() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let room = format!("project:{}", h.own.0.id);
    let mut client = b.connect(&h.token(&h.member)).await;
    client.subscribe(&room).await;
    h.enqueue(&h.own).await;
    let last_id = client.events(1).await[0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    for _ in 0..3 {
        h.enqueue(&h.own).await;
    }
    client.events(3).await;
    drop(client);
    // the stream loses the oldest events (as its hard cap would)
    let mut redis = redis::Client::open(
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
    )
    .expect("redis")
    .get_multiplexed_async_connection()
    .await
    .expect("conn");
    let _: u64 = redis::cmd("XTRIM")
        .arg(h.queue.keys().events())
        .arg("MAXLEN")
        .arg(2)
        .query_async(&mut redis)
        .await
        .expect("trim");

    let mut back = b.connect(&h.token(&h.member)).await;
    back.send(json!({"type": "subscribe", "room": room, "lastEventId": last_id}))
        .await;
    assert_eq!(back.next().await["type"], "subscribed");
    let gap = back.next().await;
    assert_eq!(gap["type"], "gap", "{gap}");
    assert_eq!(gap["lastEventId"], last_id);
    // then what the stream still holds
    assert_eq!(back.events(2).await.len(), 2);
}
