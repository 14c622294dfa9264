use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn admins_create_users_projects_members_and_agents() {
    let app = TestApp::start().await;
    let token = &app.admin_token;
    let (status, user) = app
        .post(
            "/api/users",
            token,
            &json!({"email": "New.Dev@example.com", "password": "long enough", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert_eq!(user["data"]["email"], "new.dev@example.com");
    assert!(user["data"].get("password").is_none() && user["data"].get("passwordHash").is_none());
    let (status, _) = app
        .post(
            "/api/users",
            token,
            &json!({"email": "new.dev@example.com", "password": "long enough", "role": "member"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, project) = app
        .post("/api/projects", token, &json!({"name": "Gemini"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let project_id = project["data"]["id"].as_i64().expect("id");
    let members = format!("/api/projects/{project_id}/members");
    let (status, json) = app
        .post(&members, token, &json!({"userId": user["data"]["id"]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    let (status, _) = app.post(&members, token, &json!({"userId": 999_999})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, agent) = app
        .post("/api/agents", token, &json!({"name": "tester", "kind": "command", "command": ["cargo", "test"], "maxConcurrency": 1}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    assert_eq!(agent["data"]["timeoutSecs"], 1800);
    let (status, _) = app
        .post("/api/agents", token, &json!({"name": "remote", "kind": "http", "endpointUrl": "https://agents.example.com/run"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    for bad in [
        json!({"name": "x", "kind": "command"}),
        json!({"name": "x", "kind": "shell", "command": ["sh"]}),
        json!({"name": "x", "kind": "http", "endpointUrl": "not a url"}),
        json!({"name": "x", "kind": "command", "command": []}),
    ] {
        let (status, json) = app.post("/api/agents", token, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {json}");
    }
    app.stop().await;
}

#[tokio::test]
async fn members_cannot_use_admin_routes() {
    let app = TestApp::start().await;
    let token = &app.member_token;
    for (path, body) in [
        (
            "/api/users",
            json!({"email": "x@example.com", "password": "long enough", "role": "admin"}),
        ),
        ("/api/projects", json!({"name": "Mine"})),
        (
            "/api/agents",
            json!({"name": "mine", "kind": "command", "command": ["true"]}),
        ),
        (
            &format!("/api/projects/{}/members", app.project.id) as &str,
            json!({"userId": app.member.id.get()}),
        ),
    ] {
        let (status, json) = app.post(path, token, &body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        assert_eq!(json, json!({"error": "Admin access required"}));
    }
    app.stop().await;
}

#[tokio::test]
async fn members_work_with_tasks_of_their_projects() {
    let app = TestApp::start().await;
    let tasks = format!("/api/projects/{}/tasks", app.project.id);
    let (status, json) = app
        .post(
            &tasks,
            &app.member_token,
            &json!({"code": "DFO-2000", "title": "Write tests"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{json}");
    assert_eq!(json["data"]["status"], "todo");
    let (status, json) = app
        .post(
            &tasks,
            &app.member_token,
            &json!({"code": "DFO-2000", "title": "Again"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{json}");
    let (status, json) = app.get(&tasks, &app.member_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json["data"].as_array().map(Vec::len), Some(2));
    let (_, projects) = app.get("/api/projects", &app.member_token).await;
    assert_eq!(
        projects["data"],
        json!([{"id": app.project.id.get(), "name": "Apollo"}])
    );
    app.stop().await;
}

#[tokio::test]
async fn members_see_agents_but_not_how_they_run_and_nobody_sees_an_env_value() {
    let app = TestApp::start().await;
    let (_, as_member) = app.get("/api/agents", &app.member_token).await;
    let agent = &as_member["data"][0];
    assert_eq!(agent["name"], "coder");
    assert!(agent.get("envNames").is_none() && agent.get("command").is_none());
    let (_, as_admin) = app.get("/api/agents", &app.admin_token).await;
    assert_eq!(as_admin["data"][0]["command"], json!(["/bin/true"]));
    // values are write-only: admins see which variables an agent gets, not what they hold
    assert_eq!(as_admin["data"][0]["envNames"], json!(["API_KEY"]));
    let (status, created) = app
        .post(
            "/api/agents",
            &app.admin_token,
            &json!({"name": "deployer", "kind": "http", "endpointUrl": "https://agents.example/run",
                    "env": {"DEPLOY_TOKEN": "created-env-secret", "REGION": "eu"}}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["data"]["envNames"],
        json!(["DEPLOY_TOKEN", "REGION"])
    );
    // what no process environment can hold is refused at once, not at every run
    let (status, refused) = app
        .post(
            "/api/agents",
            &app.admin_token,
            &json!({"name": "odd", "kind": "command", "command": ["/bin/true"],
                    "env": {"NOT-A-NAME": "x"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}");
    assert!(refused.to_string().contains("NOT-A-NAME"), "{refused}");
    let (_, listed) = app.get("/api/agents", &app.admin_token).await;
    for answer in [&as_member, &as_admin, &created, &listed] {
        let text = answer.to_string();
        assert!(
            !text.contains("agent-env-secret") && !text.contains("created-env-secret"),
            "{text}"
        );
    }
    assert!(!listed.to_string().contains("\"eu\""), "{listed}");
    // and sealed at rest: the row holds neither value
    let id = agentq_domain::AgentId::try_from(created["data"]["id"].as_i64().unwrap_or(0))
        .expect("agent id");
    let stored = agentq_store::agent_by_id(&app.db, id)
        .await
        .expect("read")
        .expect("the agent");
    let agentq_store::AgentEnv::Sealed(sealed) = &stored.env else {
        panic!("stored plain: {:?}", stored.env)
    };
    assert!(!sealed.contains("created-env-secret") && !sealed.contains("REGION"));
    app.stop().await;
}

/// An admin changes an agent in place: a leaked secret is rotated (sealed again, named, never
/// shown), limits change; members may not, and bad changes are refused whole.
#[tokio::test]
async fn an_admin_rotates_an_agents_secret_and_changes_its_limits() {
    let app = TestApp::start().await;
    let path = format!("/api/agents/{}", app.agent.id.get());
    let (status, answer) = app
        .patch(
            &path,
            &app.admin_token,
            &json!({"env": {"API_KEY": "rotated-env-secret", "REGION": "eu"},
                    "maxConcurrency": 3, "timeoutSecs": 90.0, "requiresApproval": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let agent = &answer["data"];
    assert_eq!(agent["envNames"], json!(["API_KEY", "REGION"]));
    assert_eq!(
        (
            &agent["maxConcurrency"],
            &agent["timeoutSecs"],
            &agent["requiresApproval"]
        ),
        (&json!(3), &json!(90), &json!(true))
    );
    assert_eq!(agent["command"], json!(["/bin/true"]), "how it runs stays");
    assert!(
        !answer.to_string().contains("rotated-env-secret"),
        "{answer}"
    );
    let stored = agentq_store::agent_by_id(&app.db, app.agent.id)
        .await
        .expect("read")
        .expect("the agent");
    let agentq_store::AgentEnv::Sealed(sealed) = &stored.env else {
        panic!("stored plain: {:?}", stored.env)
    };
    let secrets = agentq_secrets::SecretBox::new(&std::array::from_fn(|i| i as u8));
    let opened: Value =
        serde_json::from_slice(&secrets.open(sealed).expect("opens with the key")).expect("json");
    assert_eq!(
        opened,
        json!({"API_KEY": "rotated-env-secret", "REGION": "eu"})
    );

    // null lifts the limit; what is left out stays
    let (status, answer) = app
        .patch(&path, &app.admin_token, &json!({"maxConcurrency": null}))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(answer["data"]["maxConcurrency"].is_null(), "{answer}");
    assert_eq!(answer["data"]["timeoutSecs"], 90);
    assert_eq!(answer["data"]["envNames"], json!(["API_KEY", "REGION"]));

    let (status, _) = app
        .patch(&path, &app.member_token, &json!({"timeoutSecs": 5}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for missing in [
        "/api/agents/999999",
        "/api/agents/not-an-id",
        "/api/agents/0",
    ] {
        let (status, answer) = app
            .patch(missing, &app.admin_token, &json!({"timeoutSecs": 5}))
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{missing}: {answer}");
    }
    for bad in [
        json!({"timeoutSecs": 0}),
        json!({"maxConcurrency": 0}),
        json!({"maxConcurrency": 2.5}),
        json!({"env": null}),
        json!({"env": {"A": 1}}),
        json!({"env": {"1ST": "x"}}),
        json!({"env": {"A-B": "x"}}),
        json!({"env": {"": "x"}}),
        json!({"env": {"A": "nul\0inside"}}),
        json!({"command": ["/bin/sh"]}),
        json!({"kind": "http"}),
        json!([1]),
    ] {
        let (status, answer) = app.patch(&path, &app.admin_token, &bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {answer}");
    }
    // nothing of the refused changes landed
    let (_, listed) = app.get("/api/agents", &app.admin_token).await;
    assert_eq!(listed["data"][0]["timeoutSecs"], 90, "{listed}");
    assert_eq!(listed["data"][0]["command"], json!(["/bin/true"]));
    app.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::start().await;
    let (status, json) = read(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!((status, json), (StatusCode::OK, json!({"status": "ok"})));
    let (status, json) = read(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .expect("send"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{json}");
    app.queue_job().await;
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    assert!(text.contains("agentq_http_requests_total"), "{text}");
    assert!(
        text.contains("route=\"/api/agent-execution/queue\""),
        "{text}"
    );
    assert!(text.contains("agentq_queue_jobs"), "{text}");
    app.stop().await;
}
