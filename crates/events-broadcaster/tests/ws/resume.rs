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

/// With the queue in partitions, an event's id names a place in every partition's stream: a
/// client resuming from one id gets exactly what it missed in all of them, then live events.
#[tokio::test]
async fn with_partitions_one_event_id_resumes_every_partition_exactly() {
    let h = Harness::new().await;
    let queue = agentq_queue::Partitions::new(
        agentq_queue::Redis::open(
            &std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        )
        .expect("redis"),
        h.queue.config().clone(),
        3,
    );
    let b = h.spawn(&[("AGENTQ_PARTITIONS", "3")]).await;
    // projects 1, 2 and 3 are in partitions 1, 2 and 0
    let enqueue = |project: i64| {
        let queue = queue.clone();
        async move {
            let mut job = agentq_queue::NewJob::new("{}");
            job.project = Some(agentq_domain::ProjectId::try_from(project).expect("id"));
            job.id = queue.new_job_id(job.project);
            queue.enqueue(&job).await.expect("enqueue");
            json!(job.id.to_string())
        }
    };
    let mut client = b.connect(&h.token(&h.admin)).await;
    client.subscribe("notifications").await;
    let mut first = Vec::new();
    for project in 1..=3 {
        first.push(enqueue(project).await);
    }
    // each partition's stream has its own reader: across partitions, any order
    let key = |id: &Value| id.as_str().unwrap_or_default().to_owned();
    let seen = client.events(3).await;
    let mut seen_jobs = job_ids(&seen);
    seen_jobs.sort_by_key(key);
    first.sort_by_key(key);
    assert_eq!(seen_jobs, first);
    let last_id = seen[2]["id"].as_str().expect("id").to_owned();
    assert_eq!(
        last_id.split('.').count(),
        3,
        "one stream id per partition: {last_id}"
    );
    drop(client);

    let mut missed = Vec::new();
    for project in [3, 1, 2, 2, 1, 3] {
        missed.push(enqueue(project).await);
    }
    let mut back = b.connect(&h.token(&h.admin)).await;
    back.send(json!({"type": "subscribe", "room": "notifications", "lastEventId": last_id}))
        .await;
    assert_eq!(back.next().await["type"], "subscribed");
    let mut replayed = job_ids(&back.events(6).await);
    let live = enqueue(2).await;
    assert_eq!(job_ids(&back.events(1).await), [live]);
    assert!(
        back.quiet_for(std::time::Duration::from_millis(200)).await,
        "nothing twice"
    );
    // partition by partition: the same jobs
    replayed.sort_by_key(key);
    missed.sort_by_key(key);
    assert_eq!(replayed, missed);

    // an id of another shape is refused
    back.send(
        json!({"type": "subscribe", "room": "notifications", "lastEventId": "1764220000000-0"}),
    )
    .await;
    assert_eq!(back.next().await["code"], "bad_event_id");
}
