//! `/socket.io/`, driven by the official `socket.io-client` from npm (through
//! `agentq_test_support::socketio::Driver`): both transports, the connect checks, rooms and
//! access, order, a stalled client, and resuming after a restart.

use std::time::Duration;

use agentq_auth::Jwt;
use agentq_test_support::socketio::Driver;
use serde_json::{Value, json};

use crate::helpers::{Broadcaster, Harness, SECRET};

fn url(b: &Broadcaster) -> String {
    format!("http://127.0.0.1:{}", b.port)
}

/// socket.io-client options: `auth.token`, plus `extra`.
fn with_token(token: &str, extra: Value) -> Value {
    let mut options = json!({"auth": {"token": token}, "reconnection": false});
    if let (Some(options), Value::Object(extra)) = (options.as_object_mut(), extra) {
        options.extend(extra);
    }
    options
}

/// The connect error socket `id` got (it must not connect).
async fn refusal(driver: &mut Driver, b: &Broadcaster, id: &str, options: Value) -> String {
    driver.connect(id, &url(b), options, false).await;
    let line = driver.next_for(id).await;
    assert_eq!(line["on"], "connect_error", "{id}: {line}");
    line["message"].as_str().unwrap_or_default().to_owned()
}

/// Checks `value` against `$defs/<def>` of `proto/events.schema.json`.
fn assert_documented(def: &str, value: &Value) {
    let mut schema: Value =
        serde_json::from_str(include_str!("../../../../proto/events.schema.json")).expect("schema");
    schema["oneOf"] = json!([{ "$ref": format!("#/$defs/{def}") }]);
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{value} is not a {def}: {errors:?}");
}

/// An event line as the schema has it: `{event, data}`.
fn as_message(line: &Value) -> Value {
    json!({"event": line["event"], "data": line["data"]})
}

fn names_in(events: &[Value], room: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["data"]["room"] == room)
        .map(|e| e["event"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn a_connection_needs_a_valid_token_from_auth_header_or_query_and_an_allowed_origin() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let token = h.token(&h.member);
    let mut driver = Driver::start();

    let none = json!({"reconnection": false});
    assert_eq!(
        refusal(&mut driver, &b, "none", none).await,
        "Access token required"
    );
    let forged = Jwt::new(b"another-secret-that-is-long-enough-987654321")
        .issue(h.member.id, 60)
        .expect("token")
        .token;
    let message = refusal(&mut driver, &b, "forged", with_token(&forged, json!({}))).await;
    assert_eq!(message, "Invalid or expired token");
    let ghost = Jwt::new(SECRET.as_bytes())
        .issue(agentq_domain::UserId::try_from(999).expect("id"), 60)
        .expect("token")
        .token;
    let message = refusal(&mut driver, &b, "ghost", with_token(&ghost, json!({}))).await;
    assert_eq!(message, "Invalid or expired token");
    let bad_resume =
        json!({"auth": {"token": token, "lastEventId": "yesterday"}, "reconnection": false});
    let message = refusal(&mut driver, &b, "resume", bad_resume).await;
    assert!(message.starts_with("lastEventId must be"), "{message}");

    // a page on another origin: the polling request and the WebSocket upgrade are both refused
    let evil = json!({"extraHeaders": {"Origin": "https://evil.example"}});
    let polling = refusal(
        &mut driver,
        &b,
        "evil-poll",
        with_token(&token, evil.clone()),
    )
    .await;
    assert_eq!(polling, "xhr poll error");
    let mut evil_ws = evil;
    evil_ws["transports"] = json!(["websocket"]);
    let upgrade = refusal(&mut driver, &b, "evil-ws", with_token(&token, evil_ws)).await;
    assert_eq!(upgrade, "websocket error");

    // the token from auth, from the Authorization header, from the query; the allowed origin
    let allowed = json!({"extraHeaders": {"Origin": "https://dashboard.example"}});
    let transport = driver
        .connected("auth", &url(&b), with_token(&token, allowed))
        .await;
    assert_eq!(
        transport, "polling",
        "the default options start with polling"
    );
    let header = json!({"reconnection": false, "extraHeaders": {"Authorization": format!("Bearer {token}")}});
    driver.connected("header", &url(&b), header).await;
    let query =
        json!({"reconnection": false, "query": {"token": token}, "transports": ["websocket"]});
    assert_eq!(
        driver.connected("query", &url(&b), query).await,
        "websocket"
    );
}

#[tokio::test]
async fn polling_answers_carry_cors_headers_for_allowed_origins_only() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let http = reqwest::Client::new();
    let handshake = b.http("/socket.io/?EIO=4&transport=polling");

    let allowed = http
        .get(&handshake)
        .header("origin", "https://dashboard.example")
        .send()
        .await
        .expect("handshake");
    assert_eq!(allowed.status(), 200);
    let headers = allowed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://dashboard.example"
    );
    assert_eq!(headers["access-control-allow-credentials"], "true");
    let open = allowed.text().await.expect("body");
    assert!(
        open.starts_with("0{\"sid\":"),
        "an Engine.IO open packet: {open}"
    );

    let preflight = http
        .request(reqwest::Method::OPTIONS, &handshake)
        .header("origin", "https://dashboard.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .expect("preflight");
    assert_eq!(preflight.status(), 204);
    assert_eq!(
        preflight.headers()["access-control-allow-headers"],
        "authorization, content-type"
    );

    let foreign = http
        .get(&handshake)
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("foreign");
    assert_eq!(foreign.status(), 403);
    assert!(
        !foreign
            .headers()
            .contains_key("access-control-allow-origin")
    );
    assert_eq!(
        foreign.text().await.expect("body"),
        r#"{"error":"Origin not allowed"}"#
    );
}

#[tokio::test]
async fn both_transports_get_a_job_s_events_in_order_in_every_room() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let token = h.token(&h.member);
    let project_room = format!("project:{}", h.own.0.id);
    let mut driver = Driver::start();
    assert_eq!(
        driver
            .connected("poll", &url(&b), with_token(&token, json!({})))
            .await,
        "polling"
    );
    driver.upgraded("poll").await;
    let websocket_only = with_token(&token, json!({"transports": ["websocket"]}));
    driver.connected("ws", &url(&b), websocket_only).await;
    for id in ["poll", "ws"] {
        let ack = driver.subscribe(id, &project_room, None).await;
        assert_eq!(ack, json!({"ok": true, "room": project_room}));
        assert_documented("socketIoAck", &ack);
    }

    let job = h.enqueue(&h.own).await.to_string();
    let job_room = format!("job:{job}");
    for id in ["poll", "ws"] {
        let ack = driver.subscribe(id, &job_room, None).await;
        assert_eq!(ack, json!({"ok": true, "room": job_room}));
    }
    h.run_next().await;
    for id in ["poll", "ws"] {
        let mut events = Vec::new();
        // the completion arrives once per room: notifications, project, job
        for _ in 0..3 {
            events.extend(driver.events_until(id, &job, "agent_job_completed").await);
        }
        let broad = [
            "agent_job_queued",
            "agent_job_started",
            "agent_job_progress",
            "agent_job_completed",
        ];
        assert_eq!(names_in(&events, "notifications"), broad, "{id}");
        assert_eq!(names_in(&events, &project_room), broad, "{id}");
        assert_eq!(
            names_in(&events, &job_room),
            [
                "agent_job_started",
                "agent_job_progress",
                "agent_job_log",
                "agent_job_completed"
            ],
            "{id}: the job's room, joined after it was queued, with its output"
        );
        let data = |name: &str, room: &str| {
            events
                .iter()
                .find(|e| e["event"] == name && e["data"]["room"] == room)
                .map(|e| e["data"].clone())
                .expect("event")
        };
        // the seed's payloads, each with its room and stream id
        let queued = data("agent_job_queued", &project_room);
        assert_eq!(queued["jobId"], job.as_str());
        assert_eq!(queued["taskId"], h.own.1.id.get());
        assert_eq!(queued["status"], "waiting");
        assert!(
            queued["eventId"]
                .as_str()
                .is_some_and(|id| id.contains('-'))
        );
        assert_eq!(
            data("agent_job_started", "notifications")["status"],
            "active"
        );
        let progress = data("agent_job_progress", &job_room);
        assert_eq!(
            (progress["progress"].as_u64(), progress["status"].as_str()),
            (Some(50), Some("active"))
        );
        assert_eq!(
            data("agent_job_log", &job_room)["lines"],
            json!(["hello", "world"])
        );
        let completed = data("agent_job_completed", &project_room);
        assert_eq!(completed["result"], json!({"answer": 42}));
        assert!(completed["executionTimeMs"].is_u64(), "{completed}");
        for event in &events {
            assert_documented("socketIoEvent", &as_message(event));
        }
        // in the stream's order, room by room
        for room in ["notifications", project_room.as_str(), job_room.as_str()] {
            let ids: Vec<&str> = events
                .iter()
                .filter(|e| e["data"]["room"] == room)
                .filter_map(|e| e["data"]["eventId"].as_str())
                .collect();
            let mut sorted = ids.clone();
            sorted.sort_by_key(|id| agentq_queue::EventId::parse(id));
            assert_eq!(ids, sorted, "{id} {room}");
        }
    }
}

#[tokio::test]
async fn a_member_gets_nothing_of_another_project_and_bad_requests_get_clear_answers() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let mut driver = Driver::start();
    driver
        .connected("m", &url(&b), with_token(&h.token(&h.member), json!({})))
        .await;

    let other_room = format!("project:{}", h.other.0.id);
    let ack = driver.subscribe("m", &other_room, None).await;
    assert_eq!(
        (ack["ok"].as_bool(), ack["code"].as_str()),
        (Some(false), Some("forbidden"))
    );
    let hidden = h.enqueue(&h.other).await;
    let ack = driver.subscribe("m", &format!("job:{hidden}"), None).await;
    assert_eq!(ack["code"], "forbidden", "{ack}");
    assert_eq!(
        driver.subscribe("m", "lobby", None).await["code"],
        "unknown_room"
    );
    let ack = driver.request("m", "subscribe", json!([42])).await;
    assert_eq!(ack["code"], "bad_frame", "{ack}");
    let ack = driver
        .subscribe("m", "notifications", Some("not-an-id"))
        .await;
    assert_eq!(ack["code"], "bad_event_id", "{ack}");
    let ack = driver.request("m", "shout", json!(["hi"])).await;
    assert_eq!(ack["code"], "bad_frame", "{ack}");
    assert_documented("socketIoAck", &ack);

    // the member's own project, after another project's events: only its own arrive
    let own_room = format!("project:{}", h.own.0.id);
    assert_eq!(driver.subscribe("m", &own_room, None).await["ok"], true);
    h.enqueue(&h.other).await;
    let own = h.enqueue(&h.own).await.to_string();
    // once per room: notifications, then the project's
    let mut seen = driver.events_until("m", &own, "agent_job_queued").await;
    seen.extend(driver.events_until("m", &own, "agent_job_queued").await);
    assert!(
        seen.iter().all(|e| e["data"]["jobId"] == own.as_str()),
        "{seen:?}"
    );
    let rooms: Vec<&Value> = seen.iter().map(|e| &e["data"]["room"]).collect();
    assert_eq!(rooms, [&json!("notifications"), &json!(own_room)]);
    let unsubscribed = driver.request("m", "unsubscribe", json!([own_room])).await;
    assert_eq!(unsubscribed, json!({"ok": true, "room": own_room}));
    let next = h.enqueue(&h.own).await.to_string();
    let seen = driver.events_until("m", &next, "agent_job_queued").await;
    assert_eq!(names_in(&seen, &own_room).len(), 0, "left: {seen:?}");
    assert_eq!(names_in(&seen, "notifications").len(), 1);
}

#[tokio::test]
async fn a_stalled_client_is_dropped_while_the_others_keep_receiving() {
    let h = Harness::new().await;
    let b = h.spawn(&[("AGENTQ_WS_CLIENT_BUFFER", "256")]).await;
    let token = h.token(&h.member);
    let room = format!("project:{}", h.own.0.id);
    let mut driver = Driver::start();
    let readers = ["r1", "r2", "r3-polling"];
    for id in std::iter::once("stalled").chain(readers) {
        let transports = if id.ends_with("polling") {
            json!(["polling"])
        } else {
            json!(["websocket"])
        };
        let options = with_token(&token, json!({"transports": transports}));
        driver.connected(id, &url(&b), options).await;
        assert_eq!(driver.subscribe(id, &room, None).await["ok"], true);
    }
    driver.stall("stalled").await;
    const EVENTS: usize = 4_000;
    // what overflows the stalled client is the volume, not the rate: 1,000 events a second
    // leave a polling client on a busy host (CI runs suites side by side) room to keep up,
    // where 4,000 a second once put it 256 events behind and had it dropped as well
    for _ in 0..EVENTS / 100 {
        h.enqueue_many(h.own.0.id, 100, 100).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.wait_for_metric("agentq_ws_slow_client_drops_total", |n| n >= 1.0)
        .await;
    for id in readers {
        let mut received = 0;
        while received < EVENTS {
            let line = driver.next_for(id).await;
            assert_eq!(line["on"], "event", "{id} kept going: {line}");
            if line["data"]["room"] == room.as_str() {
                received += 1;
            }
        }
    }
    // the stalled one is gone; the readers are still connected
    b.wait_for_metric("agentq_ws_connections", |n| n == 3.0)
        .await;
}

#[tokio::test]
async fn a_client_reconnecting_after_a_restart_resumes_from_its_last_event() {
    let h = Harness::new().await;
    let first = h.spawn(&[]).await;
    let port = first.port;
    let mut driver = Driver::start();
    let options = json!({
        "auth": {"token": h.token(&h.member)},
        "transports": ["websocket"],
        "reconnectionDelay": 100,
        "reconnectionDelayMax": 200,
    });
    driver.connect("r", &url(&first), options, true).await;
    assert_eq!(driver.next_for("r").await["on"], "connect");
    let before = h.enqueue(&h.own).await.to_string();
    driver.events_until("r", &before, "agent_job_queued").await;

    first.terminate();
    let closing = driver.until("r", |l| l["on"] == "disconnect").await;
    assert_eq!(
        closing.last().map(|l| l["reason"].clone()),
        Some(json!("transport close")),
        "a reason to reconnect: {closing:?}"
    );
    drop(first);
    let mut missed = Vec::new();
    for _ in 0..3 {
        missed.push(h.enqueue(&h.own).await.to_string());
        h.enqueue(&h.other).await;
    }
    let _second = h
        .spawn(&[("AGENTQ_WS_ADDR", &format!("127.0.0.1:{port}"))])
        .await;
    let last = missed.last().expect("job").clone();
    let lines = driver
        .until("r", |l| {
            l["event"] == "agent_job_queued" && l["data"]["jobId"] == last.as_str()
        })
        .await;
    assert!(lines.iter().any(|l| l["on"] == "connect"), "{lines:?}");
    let replayed: Vec<&str> = lines
        .iter()
        .filter(|l| l["on"] == "event")
        .filter_map(|l| l["data"]["jobId"].as_str())
        .collect();
    assert_eq!(replayed, missed, "what it missed, once, in order");
    let live = h.enqueue(&h.own).await.to_string();
    let seen = driver.events_until("r", &live, "agent_job_queued").await;
    assert_eq!(seen.len(), 1, "then live: {seen:?}");
}

#[tokio::test]
async fn a_client_resuming_past_what_the_stream_holds_is_told_of_the_gap() {
    let h = Harness::new().await;
    let b = h.spawn(&[]).await;
    let token = h.token(&h.member);
    let mut driver = Driver::start();
    driver
        .connected("first", &url(&b), with_token(&token, json!({})))
        .await;
    let first = h.enqueue(&h.own).await.to_string();
    let seen = driver
        .events_until("first", &first, "agent_job_queued")
        .await;
    let last_id = seen[0]["data"]["eventId"].as_str().expect("id").to_owned();
    driver.close("first").await;
    for _ in 0..3 {
        h.enqueue(&h.own).await;
    }
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

    let resume = json!({"auth": {"token": token, "lastEventId": last_id}, "reconnection": false});
    driver.connected("back", &url(&b), resume).await;
    let gap = driver.next_for("back").await;
    assert_eq!(gap["event"], "gap", "{gap}");
    assert_eq!(gap["data"]["room"], "notifications");
    assert_eq!(gap["data"]["lastEventId"], last_id.as_str());
    assert_documented("socketIoNotice", &as_message(&gap));
    // then what the stream still holds
    for _ in 0..2 {
        let event = driver.next_for("back").await;
        assert_eq!(event["event"], "agent_job_queued", "{event}");
    }
}

#[tokio::test]
async fn a_removed_member_is_told_and_stops_receiving() {
    let h = Harness::new().await;
    let b = h.spawn(&[("AGENTQ_WS_RECHECK_MS", "200")]).await;
    let mut driver = Driver::start();
    let websocket_only = with_token(&h.token(&h.member), json!({"transports": ["websocket"]}));
    driver.connected("m", &url(&b), websocket_only).await;
    let room = format!("project:{}", h.own.0.id);
    assert_eq!(driver.subscribe("m", &room, None).await["ok"], true);

    agentq_store::remove_member(&h.db, h.own.0.id, h.member.id)
        .await
        .expect("remove");
    let notice = driver.next_for("m").await;
    assert_eq!(
        as_message(&notice),
        json!({"event": "unsubscribed", "data": {"room": room, "reason": "your access to this room was withdrawn"}})
    );
    assert_documented("socketIoNotice", &as_message(&notice));
    // neither the project's room nor notifications carry the project's events any more
    h.enqueue(&h.own).await;
    assert!(driver.quiet_for("m", Duration::from_millis(500)).await);
}

#[tokio::test]
async fn two_broadcasters_deliver_every_event_without_an_adapter() {
    let h = Harness::new().await;
    let (one, two) = (h.spawn(&[]).await, h.spawn(&[]).await);
    let token = h.token(&h.member);
    let mut driver = Driver::start();
    driver
        .connected("a", &url(&one), with_token(&token, json!({})))
        .await;
    driver
        .connected("b", &url(&two), with_token(&token, json!({})))
        .await;
    let mut jobs = Vec::new();
    for _ in 0..5 {
        jobs.push(h.enqueue(&h.own).await.to_string());
    }
    let last = jobs.last().expect("job").clone();
    for id in ["a", "b"] {
        let seen: Vec<String> = driver
            .events_until(id, &last, "agent_job_queued")
            .await
            .iter()
            .filter_map(|e| e["data"]["jobId"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(seen, jobs, "{id}");
    }
}

#[tokio::test]
async fn a_connection_ends_when_its_token_expires() {
    let h = Harness::new().await;
    // the expiry is checked on the housekeeping tick
    let b = h.spawn(&[("AGENTQ_WS_RECHECK_MS", "500")]).await;
    let short = h.jwt.issue(h.member.id, 2).expect("token").token;
    let mut driver = Driver::start();
    let websocket_only = with_token(&short, json!({"transports": ["websocket"]}));
    driver.connected("s", &url(&b), websocket_only).await;
    let closing = driver.next_for("s").await;
    assert_eq!(
        as_message(&closing),
        json!({"event": "closing", "data": {"reason": "token expired"}})
    );
    assert_documented("socketIoNotice", &as_message(&closing));
    let end = driver.next_for("s").await;
    assert_eq!(
        (&end["on"], &end["reason"]),
        (&json!("disconnect"), &json!("io server disconnect"))
    );
}
