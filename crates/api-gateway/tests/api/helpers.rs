use std::collections::HashMap;
use std::net::TcpListener;

use agentq_api_gateway::settings::Settings;
use agentq_api_gateway::state::AppState;
use agentq_domain::JobId;
use agentq_queue::Queue;
use agentq_store::{AgentEnv, AgentKind, Db, NewAgent, NewUser, Project, Role, Task, User};
use reqwest::{Response, StatusCode};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret!!";
pub const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: Db,
    pub queue: Queue,
    pub admin: User,
    pub admin_token: String,
    pub member: User,
    pub member_token: String,
    pub project: Project,
    pub task: Task,
    pub agent: agentq_store::Agent,
    shutdown: CancellationToken,
    file: std::path::PathBuf,
    server_database: Option<agentq_test_support::ScratchDatabase>,
}

pub fn settings(extra: &[(&str, &str)]) -> (Settings, std::path::PathBuf) {
    let file = std::env::temp_dir().join(format!("agentq-api-{}.db", JobId::new()));
    let mut vars: HashMap<String, String> = [
        ("AGENTQ_JWT_SECRET", JWT_SECRET.to_owned()),
        ("AGENTQ_SECRET_KEY", SECRET_KEY.to_owned()),
        (
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", file.display()),
        ),
        (
            "REDIS_URL",
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
        ),
        ("AGENTQ_QUEUE", format!("api-test-{}", JobId::new())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in extra {
        vars.insert((*k).to_owned(), (*v).to_owned());
    }
    let settings = Settings::from_lookup(|name| vars.get(name).cloned()).expect("settings");
    (settings, file)
}

impl TestApp {
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    pub async fn start_with(extra: &[(&str, &str)]) -> Self {
        let (settings, file) = settings(extra);
        let state = agentq_api_gateway::build_state(settings)
            .await
            .expect("state");
        let fixture = seed(&state).await;
        let db = state.db.clone();
        let queue = state.queue.home().clone();
        let admin_token = state.jwt.issue(fixture.0.id, 600).expect("token").token;
        let member_token = state.jwt.issue(fixture.1.id, 600).expect("token").token;
        let listener = TcpListener::bind("127.0.0.1:0").expect("port");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        tokio::spawn(agentq_api_gateway::run(state, listener, shutdown.clone()));
        Self {
            base,
            client: reqwest::Client::new(),
            db,
            queue,
            admin: fixture.0,
            admin_token,
            member: fixture.1,
            member_token,
            project: fixture.2,
            task: fixture.3,
            agent: fixture.4,
            shutdown,
            file,
            server_database: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        let res = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request");
        read(res).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, token, body).await
    }

    pub async fn put(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PUT, path, token, body).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::PATCH, path, token, body).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &Value,
    ) -> (StatusCode, Value) {
        let res = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request");
        read(res).await
    }

    /// Queues a job for the fixture's task and agent as the admin; its id.
    pub async fn queue_job(&self) -> JobId {
        let body =
            serde_json::json!({"taskId": self.task.id.get(), "agentId": self.agent.id.get()});
        let (status, json) = self
            .post("/api/agent-execution/queue", &self.admin_token, &body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
        json["data"]["jobId"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("job id")
    }

    /// The app on a fresh database of its own on the server at the URL in `var`
    /// (`AGENTQ_TEST_MYSQL_URL`, `AGENTQ_TEST_POSTGRES_URL`), or `None` when it is unset.
    pub async fn start_on_server(var: &str) -> Option<Self> {
        let scratch = agentq_test_support::ScratchDatabase::create(var, "agentq_api").await?;
        let mut app = Self::start_with(&[("DATABASE_URL", scratch.url.as_str())]).await;
        app.server_database = Some(scratch);
        Some(app)
    }

    /// A task in a project the test's member does not belong to.
    pub async fn task_in_another_project(&self, project: &str) -> Task {
        let other = agentq_store::create_project(&self.db, project)
            .await
            .expect("project");
        agentq_store::create_task(&self.db, other.id, "OTHER-1", "not yours")
            .await
            .expect("task")
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = std::fs::remove_file(&self.file);
        if let Some(scratch) = self.server_database {
            let _ = self.db.close().await;
            scratch.drop().await;
        }
    }
}

pub async fn read(res: Response) -> (StatusCode, Value) {
    let status = res.status();
    let text = res.text().await.expect("body");
    let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, json)
}

/// An admin, a member of the project, the project with one task, and an agent.
async fn seed(state: &AppState) -> (User, User, Project, Task, agentq_store::Agent) {
    let db = &state.db;
    let hash = agentq_api_gateway::auth::hash_password(PASSWORD).expect("hash");
    let user = |role: Role| NewUser {
        email: format!("{}@example.com", JobId::new()),
        password_hash: hash.clone(),
        role,
    };
    let admin = agentq_store::create_user(db, user(Role::Admin))
        .await
        .expect("admin");
    let member = agentq_store::create_user(db, user(Role::Member))
        .await
        .expect("member");
    let project = agentq_store::create_project(db, "Apollo")
        .await
        .expect("project");
    agentq_store::add_member(db, project.id, member.id)
        .await
        .expect("member");
    let task = agentq_store::create_task(db, project.id, "DFO-1007", "Create API endpoints")
        .await
        .expect("task");
    let agent = agentq_store::create_agent(
        db,
        NewAgent {
            name: "coder".into(),
            kind: AgentKind::Command(vec!["/bin/true".into()]),
            timeout_secs: 60,
            max_concurrency: None,
            idle_timeout_secs: None,
            requires_approval: false,
            asks_approval: false,
            // stored plain, as agents made before the gateway sealed them were
            env: AgentEnv::Plain([("API_KEY".to_owned(), "agent-env-secret".to_owned())].into()),
        },
    )
    .await
    .expect("agent");
    (admin, member, project, task, agent)
}

/// Runs `scenario(app)` on SQLite, and on MariaDB and PostgreSQL when their test URLs are set,
/// as tests `name::sqlite`, `name::mariadb` and `name::postgres`.
#[macro_export]
macro_rules! on_every_backend {
    ($name:ident, $scenario:ident) => {
        mod $name {
            use $crate::helpers::TestApp;

            #[tokio::test]
            async fn sqlite() {
                super::$scenario(TestApp::start().await).await;
            }

            #[tokio::test]
            async fn mariadb() {
                if let Some(app) = TestApp::start_on_server("AGENTQ_TEST_MYSQL_URL").await {
                    super::$scenario(app).await;
                }
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(app) = TestApp::start_on_server("AGENTQ_TEST_POSTGRES_URL").await {
                    super::$scenario(app).await;
                }
            }
        }
    };
}
