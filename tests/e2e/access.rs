use reqwest::StatusCode;
use serde_json::json;

use crate::stack::Stack;

crate::on_sqlite_and_mariadb!(
    a_member_of_another_project_sees_nothing,
    &[],
    a_member_of_another_project_sees_nothing_scenario
);

async fn a_member_of_another_project_sees_nothing_scenario(stack: Stack) {
    let (project, task) = stack.project("Apollo").await;
    let (other, _) = stack.project("Gemini").await;
    let agent = stack.agent("echo '{\"result\": 1}'").await;
    let job = stack.queue(task, agent).await;
    stack.wait_for_status(&job, "completed").await;

    let user = stack
        .post(
            "/api/users",
            json!({"email": "outsider@e2e.example", "password": "outsider-password", "role": "member"}),
        )
        .await;
    let user_id = user["data"]["id"].as_i64().expect("id");
    stack
        .post(
            &format!("/api/projects/{other}/members"),
            json!({"userId": user_id}),
        )
        .await;
    let token = stack
        .login("outsider@e2e.example", "outsider-password")
        .await;

    let (status, _) = stack
        .get(&format!("/api/agent-execution/jobs/{job}"), &token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = stack
        .get(&format!("/api/agent-execution/jobs/{job}/logs"), &token)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, list) = stack.get("/api/agent-execution/jobs", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!list.to_string().contains(&job), "{list}");
    let (status, _) = stack
        .call(
            reqwest::Method::POST,
            &format!("/api/agent-execution/jobs/{job}/cancel"),
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = stack
        .call(
            reqwest::Method::POST,
            "/api/agent-execution/queue",
            Some(&token),
            Some(json!({"taskId": task, "agentId": agent})),
        )
        .await;
    // as the seed answers for a task that does not exist: nothing about other projects leaks
    assert_eq!(status, StatusCode::NOT_FOUND);

    let mut events = stack.events(0, &token).await;
    for room in [format!("project:{project}"), format!("job:{job}")] {
        events
            .send(json!({"type": "subscribe", "room": room}))
            .await;
        let reply = events.next().await;
        assert_eq!(reply["code"], "forbidden", "{reply}");
    }
    // in notifications, the other project's events never show
    events.subscribe("notifications", None).await;
    let second = stack.queue(task, agent).await;
    stack.wait_for_status(&second, "completed").await;
    let quiet = tokio::time::timeout(std::time::Duration::from_millis(500), events.next()).await;
    assert!(quiet.is_err(), "the outsider saw {quiet:?}");
}
