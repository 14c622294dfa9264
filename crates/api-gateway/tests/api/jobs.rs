use agentq_domain::JobState;
use agentq_queue::{Finished, Outcome};
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn queueing_a_job_answers_the_seeds_body_and_records_it_in_sql_and_redis() {
    let app = TestApp::start().await;
    let body = json!({
        "taskId": app.task.id.get(),
        "agentId": app.agent.id.get(),
        "metadata": {"priority": "critical", "estimatedHours": 2},
        // passed through to the agent (`dependencies` would make the job wait: see e2e)
        "context": {"relatedTasks": [1, 2]}
    });
    let (status, json) = app
        .post("/api/agent-execution/queue", &app.member_token, &body)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(json["success"], true);
    assert_eq!(json["message"], "Job queued successfully");
    let data = &json["data"];
    assert_eq!(data["taskId"], app.task.id.get());
    assert_eq!(data["taskCode"], "DFO-1007");
    assert_eq!(data["agentId"], app.agent.id.get());
    assert_eq!(data["agentName"], "coder");
    assert_eq!(data["projectId"], app.project.id.get());
    assert_eq!(data["status"], "queued");
    assert_eq!(data["priority"], "critical");
    assert!(data["queuedAt"].as_str().is_some_and(|s| s.ends_with('Z')));
    let mut keys: Vec<_> = data.as_object().expect("object").keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "agentId",
            "agentName",
            "jobId",
            "priority",
            "projectId",
            "queuedAt",
            "status",
            "taskCode",
            "taskId"
        ]
    );

    let id = data["jobId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("job id");
    let row = agentq_store::job_by_job_id(&app.db, &agentq_store::Scope::All, &id)
        .await
        .expect("sql")
        .expect("row");
    assert_eq!(row.status, JobState::Waiting);
    let live = app.queue.job(&id).await.expect("redis").expect("queued");
    assert_eq!((live.state, live.priority), (JobState::Waiting, 1));
    let payload: serde_json::Value = serde_json::from_str(&live.payload).expect("json");
    assert_eq!(payload["context"]["relatedTasks"], json!([1, 2]));
    app.stop().await;
}

#[tokio::test]
async fn a_jobs_status_merges_the_live_queue_state_with_the_sql_row() {
    let app = TestApp::start().await;
    let id = app.queue_job().await;
    let (status, json) = app
        .get(&format!("/api/agent-execution/jobs/{id}"), &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["data"]["status"], "waiting");
    assert_eq!(json["data"]["maxAttempts"], 3);

    // a worker takes it, reports progress: the API shows it before the SQL recorder runs
    let leased = app
        .queue
        .cycle("w", &[], 1)
        .await
        .expect("cycle")
        .leased
        .remove(0);
    app.queue
        .progress(&id, leased.token, 40)
        .await
        .expect("progress");
    let (_, json) = app
        .get(&format!("/api/agent-execution/jobs/{id}"), &app.admin_token)
        .await;
    assert_eq!(json["data"]["status"], "active");
    assert_eq!(json["data"]["progress"], 40);
    assert!(json["data"]["startedAt"].is_string());

    let done = Finished {
        id,
        token: leased.token,
        outcome: Outcome::Completed(r#"{"summary":"ok"}"#.into()),
    };
    app.queue.cycle("w", &[done], 0).await.expect("cycle");
    let (_, json) = app
        .get(&format!("/api/agent-execution/jobs/{id}"), &app.admin_token)
        .await;
    assert_eq!(json["data"]["status"], "completed");
    assert_eq!(json["data"]["result"], json!({"summary": "ok"}));

    for missing in ["0191b3a0-0000-7000-8000-000000000000", "not-a-uuid", "42"] {
        let (status, json) = app
            .get(
                &format!("/api/agent-execution/jobs/{missing}"),
                &app.admin_token,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        assert_eq!(json, json!({"error": "Job not found"}));
    }
    app.stop().await;
}

#[tokio::test]
async fn cancelling_answers_the_seeds_body_and_a_finished_job_cannot_be_cancelled() {
    let app = TestApp::start().await;
    let id = app.queue_job().await;
    let path = format!("/api/agent-execution/jobs/{id}/cancel");
    let (status, json) = app.post(&path, &app.admin_token, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["message"], "Job cancelled successfully");
    assert_eq!(json["data"]["status"], "cancelled");
    assert_eq!(json["data"]["jobId"], id.to_string());
    assert_eq!(
        app.queue.job(&id).await.expect("redis").map(|j| j.state),
        Some(JobState::Cancelled)
    );

    let (status, json) = app.post(&path, &app.admin_token, &json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        json,
        json!({"error": "Job not found or cannot be cancelled", "details": "Job may already be completed or does not exist"})
    );
    let (status, _) = app
        .post(
            "/api/agent-execution/jobs/0191b3a0-0000-7000-8000-000000000000/cancel",
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn cancelling_a_running_job_asks_its_worker_to_stop() {
    let app = TestApp::start().await;
    let id = app.queue_job().await;
    let mut requests = app.queue.cancel_requests().await.expect("subscribe");
    app.queue.cycle("w", &[], 1).await.expect("lease");
    let (status, _) = app
        .post(
            &format!("/api/agent-execution/jobs/{id}/cancel"),
            &app.admin_token,
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let heard = tokio::time::timeout(std::time::Duration::from_secs(2), requests.next()).await;
    assert_eq!(heard.ok().flatten(), Some(id));
    app.stop().await;
}

#[tokio::test]
async fn only_a_failed_job_can_be_retried() {
    let app = TestApp::start().await;
    let id = app.queue_job().await;
    let path = format!("/api/agent-execution/jobs/{id}/retry");
    let (status, json) = app.post(&path, &app.admin_token, &json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");

    let leased = app
        .queue
        .cycle("w", &[], 1)
        .await
        .expect("cycle")
        .leased
        .remove(0);
    let failed = Finished {
        id,
        token: leased.token,
        outcome: Outcome::FailedForGood("boom".into()),
    };
    app.queue.cycle("w", &[failed], 0).await.expect("cycle");
    let (status, json) = app.post(&path, &app.admin_token, &json!({})).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    assert_eq!(json["data"]["status"], "waiting");
    assert_eq!(
        app.queue.job(&id).await.expect("redis").map(|j| j.state),
        Some(JobState::Waiting)
    );
    app.stop().await;
}

#[tokio::test]
async fn jobs_list_with_filters_and_keyset_pages() {
    let app = TestApp::start().await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.queue_job().await.to_string());
    }
    ids.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/agent-execution/jobs?limit=2&cursor={c}"),
            None => "/api/agent-execution/jobs?limit=2".to_owned(),
        };
        let (status, json) = app.get(&path, &app.admin_token).await;
        assert_eq!(status, StatusCode::OK, "{json}");
        seen.extend(
            json["data"]
                .as_array()
                .expect("list")
                .iter()
                .map(|j| j["jobId"].as_str().unwrap_or_default().to_owned()),
        );
        cursor = json["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, ids);
    let filtered = format!(
        "/api/agent-execution/jobs?state=waiting,active&agentId={}&taskId={}&projectId={}",
        app.agent.id, app.task.id, app.project.id
    );
    let (_, json) = app.get(&filtered, &app.admin_token).await;
    assert_eq!(json["data"].as_array().map(Vec::len), Some(5));
    let (_, json) = app
        .get(
            "/api/agent-execution/jobs?state=completed",
            &app.admin_token,
        )
        .await;
    assert_eq!(json["data"], json!([]));
    for bad in [
        "state=running",
        "limit=ten",
        "agentId=-1",
        "cursor=x",
        "colour=blue",
    ] {
        let (status, json) = app
            .get(
                &format!("/api/agent-execution/jobs?{bad}"),
                &app.admin_token,
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {json}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_jobs_logs_are_its_kept_output_lines() {
    let app = TestApp::start().await;
    let id = app.queue_job().await;
    let leased = app
        .queue
        .cycle("w", &[], 1)
        .await
        .expect("cycle")
        .leased
        .remove(0);
    app.queue
        .log(&id, leased.token, &["hello".into(), "world".into()])
        .await
        .expect("log");
    let (status, json) = app
        .get(
            &format!("/api/agent-execution/jobs/{id}/logs"),
            &app.admin_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["data"]["lines"], json!(["hello", "world"]));
    app.stop().await;
}

#[tokio::test]
async fn the_workers_route_has_the_seeds_shape() {
    let app = TestApp::start().await;
    app.queue_job().await;
    let id = app.queue_job().await;
    let leased = app
        .queue
        .cycle("w", &[], 1)
        .await
        .expect("cycle")
        .leased
        .remove(0);
    assert_eq!(leased.id.to_string().len(), id.to_string().len());
    let (status, json) = app
        .get("/api/agent-execution/workers", &app.admin_token)
        .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let data = &json["data"];
    assert_eq!(
        data["workers"],
        json!({"concurrency": 5, "lockDuration": 30000, "queueName": app.queue.config().name, "status": "active"})
    );
    assert_eq!(data["queue"]["waiting"], 1);
    assert_eq!(data["queue"]["active"], 1);
    for key in [
        "completed",
        "failed",
        "delayed",
        "cancelled",
        "avgExecutionTimeMs",
        "successRate",
    ] {
        assert!(data["queue"][key].is_number(), "{key}");
    }
    assert!(data["activeJobs"].is_array());
    assert_eq!(
        data["liveWorkers"],
        json!([]),
        "no worker beats in this test"
    );
    assert!(data["timestamp"].as_str().is_some_and(|s| s.ends_with('Z')));
    app.stop().await;
}

/// An admin gives a project a fair-share weight of 3: its jobs, queued through the API, lease
/// three a round to another project's one. Members may not set it; bad weights are refused.
#[tokio::test]
async fn a_projects_weight_reaches_the_queue() {
    let app = TestApp::start().await;
    let heavy = app.project.id;
    let path = format!("/api/projects/{}/weight", heavy.get());
    let (status, answer) = app
        .put(&path, &app.admin_token, &json!({"weight": 3}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["data"]["weight"], 3);
    let (status, _) = app
        .put(&path, &app.member_token, &json!({"weight": 5}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for bad in [
        json!({"weight": 0}),
        json!({"weight": 101}),
        json!({"weight": 2.5}),
        json!({"weight": "3"}),
        json!({}),
    ] {
        let (status, answer) = app.put(&path, &app.admin_token, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {answer}");
    }
    let (status, _) = app
        .put(
            "/api/projects/999999/weight",
            &app.admin_token,
            &json!({"weight": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let light = app.task_in_another_project("Gemini").await;
    let tasks = std::iter::repeat_n(app.task.id, 6).chain(std::iter::repeat_n(light.id, 2));
    for task in tasks {
        let body = json!({"taskId": task.get(), "agentId": app.agent.id.get()});
        let (status, answer) = app
            .post("/api/agent-execution/queue", &app.admin_token, &body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
    let leased = app.queue.cycle("w", &[], 8).await.expect("cycle").leased;
    let order: String = leased
        .iter()
        .map(|job| if job.project == Some(heavy) { 'h' } else { 'l' })
        .collect();
    assert_eq!(order, "hhhlhhhl", "three of weight 3 to one");

    let (_, projects) = app.get("/api/projects", &app.admin_token).await;
    assert_eq!(projects["data"][0]["weight"], 3, "{projects}");
    assert!(
        projects["data"][1].get("weight").is_none(),
        "weight 1 is not shown: {projects}"
    );
    let (_, answer) = app
        .put(&path, &app.admin_token, &json!({"weight": 1}))
        .await;
    assert!(answer["data"].get("weight").is_none(), "{answer}");
    app.stop().await;
}
