//! The seed's dashboard path: a real job queued through the API, run by a real worker, watched
//! over Socket.IO by the official `socket.io-client` with its default options (polling, then
//! the upgrade) and with WebSocket only, while a member of another project watches too.

use agentq_test_support::socketio::Driver;
use serde_json::{Value, json};

use crate::stack::Stack;

crate::on_sqlite_and_mariadb!(
    a_real_job_s_events_reach_socket_io_clients_with_the_seed_s_payloads,
    &[],
    a_real_job_s_events_reach_socket_io_clients_scenario
);

fn in_room<'a>(events: &'a [Value], room: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["data"]["room"] == room)
        .collect()
}

fn names(events: &[&Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn a_real_job_s_events_reach_socket_io_clients_scenario(stack: Stack) {
    let (project, task) = stack.project("Apollo").await;
    let (other, _) = stack.project("Gemini").await;
    let outsider = stack
        .post(
            "/api/users",
            json!({"email": "outsider@e2e.example", "password": "outsider-password", "role": "member"}),
        )
        .await;
    stack
        .post(
            &format!("/api/projects/{other}/members"),
            json!({"userId": outsider["data"]["id"]}),
        )
        .await;
    let outsider_token = stack
        .login("outsider@e2e.example", "outsider-password")
        .await;
    let agent = stack
        .agent(r#"echo '{"progress": 50}'; echo 'thinking about it'; echo '{"result": {"answer": 42}}'"#)
        .await;

    let url = format!("http://127.0.0.1:{}", stack.broadcasters[0].0);
    let mut driver = Driver::start();
    let admin = json!({"token": stack.admin_token});
    let transport = driver
        .connected("poll", &url, json!({"auth": admin, "reconnection": false}))
        .await;
    assert_eq!(transport, "polling");
    driver.upgraded("poll").await;
    let websocket_only = json!({"auth": admin, "reconnection": false, "transports": ["websocket"]});
    assert_eq!(
        driver.connected("ws", &url, websocket_only).await,
        "websocket"
    );
    let outsider = json!({"auth": {"token": outsider_token}, "reconnection": false, "transports": ["websocket"]});
    driver.connected("outsider", &url, outsider).await;
    let project_room = format!("project:{project}");
    for id in ["poll", "ws"] {
        assert_eq!(driver.subscribe(id, &project_room, None).await["ok"], true);
    }
    let refused = driver.subscribe("outsider", &project_room, None).await;
    assert_eq!(refused["code"], "forbidden", "{refused}");

    // a first job, for a stream id to resume from when the second one's room is joined
    let first = stack.queue(task, agent).await;
    let mut resume_from = String::new();
    for id in ["poll", "ws"] {
        let seen = driver.events_until(id, &first, "agent_job_completed").await;
        resume_from = seen.last().expect("event")["data"]["eventId"]
            .as_str()
            .expect("eventId")
            .to_owned();
    }
    let job = stack.queue(task, agent).await;
    let job_room = format!("job:{job}");
    for id in ["poll", "ws"] {
        let ack = driver.subscribe(id, &job_room, Some(&resume_from)).await;
        assert_eq!(ack, json!({"ok": true, "room": job_room}));
    }
    stack.wait_for_status(&job, "completed").await;

    for id in ["poll", "ws"] {
        let mut events = Vec::new();
        // the completion comes once per room: notifications, project, job
        for _ in 0..3 {
            events.extend(driver.events_until(id, &job, "agent_job_completed").await);
        }
        let events: Vec<Value> = events
            .into_iter()
            .filter(|e| e["data"]["jobId"] == job.as_str())
            .collect();
        let broad = [
            "agent_job_queued",
            "agent_job_started",
            "agent_job_progress",
            "agent_job_completed",
        ];
        assert_eq!(names(&in_room(&events, "notifications")), broad, "{id}");
        assert_eq!(names(&in_room(&events, &project_room)), broad, "{id}");
        let in_job = in_room(&events, &job_room);
        let without_output: Vec<&Value> = in_job
            .iter()
            .copied()
            .filter(|e| e["event"] != "agent_job_log")
            .collect();
        assert_eq!(
            names(&without_output),
            broad,
            "{id}: the job's room, replayed then live"
        );
        let output: Vec<&Value> = in_job
            .iter()
            .flat_map(|e| e["data"]["lines"].as_array().into_iter().flatten())
            .collect();
        assert_eq!(output, [&json!("thinking about it")], "{id}");

        let data = |name: &str| {
            in_room(&events, &project_room)
                .into_iter()
                .find(|e| e["event"] == name)
                .map(|e| e["data"].clone())
                .expect("event")
        };
        let queued = data("agent_job_queued");
        assert_eq!(
            (&queued["jobId"], &queued["taskId"], &queued["status"]),
            (&json!(job), &json!(task), &json!("waiting"))
        );
        assert_eq!(data("agent_job_started")["status"], "active");
        let progress = data("agent_job_progress");
        assert_eq!(
            (&progress["progress"], &progress["status"]),
            (&json!(50), &json!("active"))
        );
        let completed = data("agent_job_completed");
        assert_eq!(completed["result"], json!({"answer": 42}));
        assert!(completed["executionTimeMs"].is_u64(), "{completed}");
    }
    // the outsider was connected all along, in notifications: nothing of Apollo's
    assert!(
        driver
            .quiet_for("outsider", std::time::Duration::from_millis(300))
            .await,
        "the outsider saw an event"
    );
}

crate::on_sqlite_and_mariadb!(
    held_and_blocked_jobs_announce_themselves_to_socket_io_clients,
    &[],
    held_and_blocked_jobs_scenario
);

/// Names of the events of `job` in `room`, in order.
fn job_events(events: &[Value], room: &str, job: &str) -> Vec<String> {
    let of_job: Vec<Value> = events
        .iter()
        .filter(|e| e["data"]["jobId"] == job)
        .cloned()
        .collect();
    names(&in_room(&of_job, room))
}

/// The human in the loop and dependencies, as the official `socket.io-client` in a project's
/// room sees them: a held job awaits approval, is approved with a comment and runs; another is
/// rejected; a job that waits for another task's job is blocked until that one completed.
async fn held_and_blocked_jobs_scenario(stack: Stack) {
    let (project, task) = stack.project("Apollo").await;
    let second_task = stack
        .post(
            &format!("/api/projects/{project}/tasks"),
            json!({"code": "APL-2", "title": "after the first"}),
        )
        .await["data"]["id"]
        .as_i64()
        .expect("task id");
    let held_agent = stack
        .agent_with(
            r#"echo '{"result": "ran"}'"#,
            json!({"requiresApproval": true}),
        )
        .await;
    let url = format!("http://127.0.0.1:{}", stack.broadcasters[0].0);
    let mut driver = Driver::start();
    let options = json!({"auth": {"token": stack.admin_token}, "reconnection": false, "transports": ["websocket"]});
    driver.connected("admin", &url, options).await;
    let room = format!("project:{project}");
    assert_eq!(driver.subscribe("admin", &room, None).await["ok"], true);

    // held, approved with a comment, run
    let approved = stack.queue_held(task, held_agent).await;
    let mut events = driver
        .events_until("admin", &approved, "agent_job_awaiting_approval")
        .await;
    let (status, reply) = stack
        .call(
            reqwest::Method::POST,
            &format!("/api/agent-execution/jobs/{approved}/approve"),
            Some(&stack.admin_token),
            Some(json!({"comment": "looks safe"})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{reply}");
    // each event comes once per room: notifications, then the project's
    for _ in 0..2 {
        events.extend(
            driver
                .events_until("admin", &approved, "agent_job_completed")
                .await,
        );
    }
    assert_eq!(
        job_events(&events, &room, &approved),
        [
            "agent_job_awaiting_approval",
            "agent_job_approved",
            "agent_job_started",
            "agent_job_completed"
        ]
    );
    let approval = events
        .iter()
        .find(|e| e["event"] == "agent_job_approved")
        .expect("approved");
    assert_eq!(approval["data"]["comment"], "looks safe", "{approval}");

    // held, rejected: cancelled without running
    let rejected = stack.queue_held(task, held_agent).await;
    driver
        .events_until("admin", &rejected, "agent_job_awaiting_approval")
        .await;
    let (status, reply) = stack
        .call(
            reqwest::Method::POST,
            &format!("/api/agent-execution/jobs/{rejected}/reject"),
            Some(&stack.admin_token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{reply}");
    let events = driver
        .events_until("admin", &rejected, "agent_job_rejected")
        .await;
    let rejection = events.last().expect("rejected");
    assert!(
        !events.iter().any(|e| e["event"] == "agent_job_started"),
        "a rejected job never starts: {events:?}"
    );
    assert_eq!(rejection["data"]["status"], "cancelled", "{rejection}");

    // blocked on the first task's latest job (approved and completed above), which a held
    // job now replaces: blocked until that one is approved and completes
    let gate = stack.queue_held(task, held_agent).await;
    driver
        .events_until("admin", &gate, "agent_job_awaiting_approval")
        .await;
    let plain = stack.agent(r#"echo '{"result": "after"}'"#).await;
    let (status, reply) = stack
        .call(
            reqwest::Method::POST,
            "/api/agent-execution/queue",
            Some(&stack.admin_token),
            Some(json!({"taskId": second_task, "agentId": plain, "context": {"dependencies": [task]}})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{reply}");
    let dependent = reply["data"]["jobId"].as_str().expect("job id").to_owned();
    let mut events = driver
        .events_until("admin", &dependent, "agent_job_blocked")
        .await;
    stack
        .post(
            &format!("/api/agent-execution/jobs/{gate}/approve"),
            json!({}),
        )
        .await;
    for _ in 0..2 {
        events.extend(
            driver
                .events_until("admin", &dependent, "agent_job_completed")
                .await,
        );
    }
    assert_eq!(
        job_events(&events, &room, &dependent),
        [
            "agent_job_blocked",
            "agent_job_queued",
            "agent_job_started",
            "agent_job_completed"
        ]
    );
}
