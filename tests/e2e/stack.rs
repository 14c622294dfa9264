//! The whole stack as processes: one api-gateway, two queue-workers and two
//! events-broadcasters on a queue and a database of the test's own, driven only through HTTP
//! and WebSocket.

use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::Duration;

use agentq_domain::JobId;
use futures_util::{SinkExt, StreamExt};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

const JWT_SECRET: &str = "e2e-secret-that-is-long-enough-for-hs256-0123";
const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
pub const ADMIN_EMAIL: &str = "admin@e2e.example";
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
/// How long a test waits for something that should happen.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Where `cargo test` put the workspace's binaries: next to this test's `deps/` folder.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run the tests with `cargo test --workspace --all-targets` (`just test`)",
        path.display()
    );
    path
}

/// A process that is killed when dropped.
pub struct Service {
    pub name: String,
    pub child: Child,
}

impl Service {
    pub fn kill_9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        self.child.wait().expect("exit")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill_9();
    }
}

pub struct Stack {
    env: Vec<(String, String)>,
    pub api: String,
    /// Lives as long as the stack (dropping a service kills its process).
    gateway: Service,
    /// (metrics port, process)
    pub workers: Vec<(u16, Service)>,
    pub broadcasters: Vec<(u16, Service)>,
    pub http: reqwest::Client,
    pub admin_token: String,
    /// The database the services use, for checking that the API tells what SQL holds.
    pub db: agentq_store::Db,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Database(Option<agentq_test_support::ScratchDatabase>),
}

impl Stack {
    /// The stack on SQLite (a file of its own).
    pub async fn on_sqlite(extra: &[(&str, &str)]) -> Self {
        let file = std::env::temp_dir().join(format!("agentq-e2e-{}.db", JobId::new()));
        let url = format!("sqlite://{}?mode=rwc", file.display());
        Self::start(&url, Cleanup::File(file), extra).await
    }

    /// The stack on a fresh database of its own on the MariaDB at `AGENTQ_TEST_MYSQL_URL`, or
    /// `None` when that is unset.
    pub async fn on_mariadb(extra: &[(&str, &str)]) -> Option<Self> {
        let scratch =
            agentq_test_support::ScratchDatabase::create("AGENTQ_TEST_MYSQL_URL", "agentq_e2e")
                .await?;
        let url = scratch.url.clone();
        Some(Self::start(&url, Cleanup::Database(Some(scratch)), extra).await)
    }

    /// The stack on SQLite as a browser uses it: the gateway serves the dashboard, whose live
    /// updates come from the first broadcaster (`AGENTQ_EVENTS_URL`), which allows the
    /// gateway's origin. Both ports are picked before the services start, since each names
    /// the other.
    pub async fn for_browser(extra: &[(&str, &str)]) -> Self {
        let (api, ws) = (free_port(), free_port());
        let (api_addr, ws_addr) = (format!("127.0.0.1:{api}"), format!("127.0.0.1:{ws}"));
        let events_url = format!("ws://{ws_addr}/ws");
        let origin = format!("http://{api_addr}");
        let mut env = vec![
            ("AGENTQ_API_ADDR", api_addr.as_str()),
            ("AGENTQ_WS_ADDR", ws_addr.as_str()),
            ("AGENTQ_EVENTS_URL", events_url.as_str()),
            ("AGENTQ_ALLOWED_ORIGINS", origin.as_str()),
        ];
        env.extend_from_slice(extra);
        Self::on_sqlite(&env).await
    }

    async fn start(database_url: &str, cleanup: Cleanup, extra: &[(&str, &str)]) -> Self {
        let redis_url =
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let partitions = std::env::var("AGENTQ_PARTITIONS").unwrap_or_else(|_| "1".into());
        let rust_log = std::env::var("AGENTQ_TEST_RUST_LOG").unwrap_or_else(|_| "warn".into());
        let mut env: Vec<(String, String)> = [
            ("REDIS_URL", redis_url.as_str()),
            ("DATABASE_URL", database_url),
            ("AGENTQ_QUEUE", &format!("e2e-{}", JobId::new())),
            // `just test` runs the suite again on a Redis Cluster with the queue in partitions
            ("AGENTQ_PARTITIONS", &partitions),
            ("AGENTQ_JWT_SECRET", JWT_SECRET),
            ("AGENTQ_SECRET_KEY", SECRET_KEY),
            ("AGENTQ_API_ADDR", "127.0.0.1:0"),
            ("AGENTQ_ADMIN_EMAIL", ADMIN_EMAIL),
            ("AGENTQ_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("AGENTQ_BACKOFF_BASE_MS", "100"),
            ("AGENTQ_SHUTDOWN_GRACE_MS", "2000"),
            // AGENTQ_TEST_RUST_LOG=info shows more of the services while a test runs
            ("RUST_LOG", &rust_log),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in extra {
            env.retain(|(name, _)| name != k);
            env.push(((*k).to_owned(), (*v).to_owned()));
        }
        let (gateway, api) = spawn_listening(&env, "api-gateway", &["serve"], &[]);
        let mut stack = Self {
            api: format!("http://{api}"),
            gateway,
            workers: Vec::new(),
            broadcasters: Vec::new(),
            http: reqwest::Client::new(),
            admin_token: String::new(),
            db: agentq_store::connect(database_url).await.expect("db"),
            cleanup,
            env,
        };
        stack
            .wait_until_ready(&format!("{}/readyz", stack.api))
            .await;
        // the first broadcaster listens where `AGENTQ_WS_ADDR` says (port 0 unless set)
        let first_broadcaster_port = stack
            .env
            .iter()
            .find(|(k, _)| k == "AGENTQ_WS_ADDR")
            .and_then(|(_, addr)| addr.rsplit(':').next()?.parse().ok())
            .unwrap_or(0);
        for n in 1..=2 {
            let port = stack.start_worker(&format!("worker-{n}"));
            let broadcaster_port = if n == 1 { first_broadcaster_port } else { 0 };
            stack.start_broadcaster_on(broadcaster_port).await;
            // a worker answers /healthz once it has migrated and connected: before that a
            // test reading its /metrics would find nothing listening
            stack
                .wait_until_ready(&format!("http://127.0.0.1:{port}/healthz"))
                .await;
        }
        stack.admin_token = stack.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        stack.assert_all_running();
        stack
    }

    /// The value of a setting the services were started with.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Panics when a service has exited (a crash at start would otherwise go unnoticed while
    /// its twin does the work).
    pub fn assert_all_running(&mut self) {
        let services = std::iter::once(&mut self.gateway)
            .chain(self.workers.iter_mut().map(|(_, s)| s))
            .chain(self.broadcasters.iter_mut().map(|(_, s)| s));
        for service in services {
            if let Ok(Some(status)) = service.child.try_wait() {
                panic!("{} exited: {status}", service.name);
            }
        }
    }

    /// Starts a worker with its `/metrics` on a port the OS picks; that port.
    pub fn start_worker(&mut self, id: &str) -> u16 {
        let (worker, metrics) = spawn_listening(
            &self.env,
            "queue-worker",
            &[],
            &[
                ("AGENTQ_WORKER_ID", id),
                ("AGENTQ_WORKER_METRICS_ADDR", "127.0.0.1:0"),
            ],
        );
        self.workers.push((metrics.port(), worker));
        metrics.port()
    }

    /// Starts a broadcaster on `port` (0: one the OS picks); its index in `broadcasters`.
    pub async fn start_broadcaster_on(&mut self, port: u16) -> usize {
        let (service, addr) = spawn_listening(
            &self.env,
            "events-broadcaster",
            &[],
            &[("AGENTQ_WS_ADDR", &format!("127.0.0.1:{port}"))],
        );
        self.wait_until_ready(&format!("http://{addr}/healthz"))
            .await;
        self.broadcasters.push((addr.port(), service));
        self.broadcasters.len() - 1
    }

    async fn wait_until_ready(&self, url: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Ok(reply) = self.http.get(url).send().await
                && reply.status().is_success()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{url} never answered"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// A `/metrics` page.
    pub async fn metrics(&self, url: &str) -> String {
        let reply = self.http.get(url).send().await.expect("metrics");
        assert!(reply.status().is_success(), "{url}: {}", reply.status());
        reply.text().await.expect("text")
    }

    pub async fn login(&self, email: &str, password: &str) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["data"]["token"].as_str().expect("token").to_owned()
    }

    /// One API call; the status and the JSON body.
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.api));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.expect("request");
        let status = reply.status();
        let text = reply.text().await.expect("body");
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let (status, reply) = self
            .call(
                reqwest::Method::POST,
                path,
                Some(&self.admin_token),
                Some(body),
            )
            .await;
        assert!(status.is_success(), "POST {path}: {status} {reply}");
        reply
    }

    pub async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    /// A project with one task; (project id, task id).
    pub async fn project(&self, name: &str) -> (i64, i64) {
        let project = self.post("/api/projects", json!({"name": name})).await;
        let id = project["data"]["id"].as_i64().expect("project id");
        let task = self
            .post(
                &format!("/api/projects/{id}/tasks"),
                json!({"code": format!("{name}-1"), "title": "task"}),
            )
            .await;
        (id, task["data"]["id"].as_i64().expect("task id"))
    }

    /// A `command` agent running `sh -c script`; its id.
    pub async fn agent(&self, script: &str) -> i64 {
        self.agent_with(script, json!({})).await
    }

    /// A `command` agent running `sh -c script`, with more fields of the agent request (such
    /// as `{"requiresApproval": true}`); its id.
    pub async fn agent_with(&self, script: &str, fields: Value) -> i64 {
        let mut body = json!({
            "name": format!("agent-{}", JobId::new()),
            "kind": "command",
            "command": ["sh", "-c", script],
            "timeoutSecs": 60,
        });
        if let (Some(body), Some(fields)) = (body.as_object_mut(), fields.as_object()) {
            body.extend(fields.clone());
        }
        let agent = self.post("/api/agents", body).await;
        agent["data"]["id"].as_i64().expect("agent id")
    }

    /// Queues a job of an agent that requires approval as the admin; its id.
    pub async fn queue_held(&self, task: i64, agent: i64) -> String {
        let reply = self
            .post(
                "/api/agent-execution/queue",
                json!({"taskId": task, "agentId": agent}),
            )
            .await;
        assert_eq!(reply["data"]["status"], "awaiting_approval", "{reply}");
        reply["data"]["jobId"].as_str().expect("job id").to_owned()
    }

    /// Queues a job as the admin through the seed's route; its id.
    pub async fn queue(&self, task: i64, agent: i64) -> String {
        let reply = self
            .post(
                "/api/agent-execution/queue",
                json!({"taskId": task, "agentId": agent}),
            )
            .await;
        assert_eq!(reply["data"]["status"], "queued", "{reply}");
        reply["data"]["jobId"].as_str().expect("job id").to_owned()
    }

    /// Sets a project's daily budget in USD (`null` removes it) as the admin; the project.
    pub async fn set_budget(&self, project: i64, usd: Value) -> Value {
        let (status, reply) = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/projects/{project}/budget"),
                Some(&self.admin_token),
                Some(json!({"costUsdPerDay": usd})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{reply}");
        reply["data"].clone()
    }

    /// The job's output lines as the logs route answers them, read as the admin.
    pub async fn logs(&self, job: &str) -> Value {
        let (status, logs) = self
            .get(
                &format!("/api/agent-execution/jobs/{job}/logs"),
                &self.admin_token,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{logs}");
        logs
    }

    /// Polls the job's status route until `status` (the API's view).
    pub async fn wait_for_status(&self, job: &str, status: &str) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let (code, reply) = self
                .get(
                    &format!("/api/agent-execution/jobs/{job}"),
                    &self.admin_token,
                )
                .await;
            assert_eq!(code, StatusCode::OK, "{reply}");
            if reply["data"]["status"] == status {
                return reply["data"].clone();
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {job} stayed {}",
                reply["data"]["status"]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The job's SQL row, read directly.
    pub async fn row(&self, job: &str) -> agentq_store::JobRecord {
        let id: JobId = job.parse().expect("job id");
        agentq_store::job_by_job_id(&self.db, &agentq_store::Scope::All, &id)
            .await
            .expect("sql")
            .expect("row")
    }

    /// Waits until the SQL row reaches `status` (the recorder is asynchronous).
    pub async fn wait_for_row(
        &self,
        job: &str,
        status: agentq_domain::JobState,
    ) -> agentq_store::JobRecord {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let row = self.row(job).await;
            if row.status == status {
                return row;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "row {job} stayed {:?}",
                row.status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A WebSocket client of broadcaster `index`.
    pub async fn events(&self, index: usize, token: &str) -> Events {
        let port = self.broadcasters[index].0;
        let url = format!("ws://127.0.0.1:{port}/ws?token={token}");
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("connect");
        Events { ws }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        match &mut self.cleanup {
            Cleanup::File(file) => {
                let _ = std::fs::remove_file(file);
            }
            Cleanup::Database(scratch) => {
                // a blocking drop of the database, best effort, after the services are gone
                self.broadcasters.clear();
                self.workers.clear();
                let Some(scratch) = scratch.take() else {
                    return;
                };
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build();
                    if let Ok(runtime) = runtime {
                        runtime.block_on(scratch.drop());
                    }
                })
                .join();
            }
        }
    }
}

/// A port nobody listens on now (the OS's pick, released at once).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Starts a service whose address setting (in `extra` or `env`) may name port 0; the service
/// and the address it listens on.
fn spawn_listening(
    env: &[(String, String)],
    name: &str,
    args: &[&str],
    extra: &[(&str, &str)],
) -> (Service, std::net::SocketAddr) {
    let mut command = Command::new(binary(name));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .envs(extra.iter().copied());
    let (child, addr) = agentq_test_support::spawn_listening(command);
    let service = Service {
        name: name.to_owned(),
        child,
    };
    (service, addr)
}

pub struct Events {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Events {
    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("send");
    }

    pub async fn subscribe(&mut self, room: &str, last_event_id: Option<&str>) {
        let mut frame = json!({"type": "subscribe", "room": room});
        if let Some(id) = last_event_id {
            frame["lastEventId"] = id.into();
        }
        self.send(frame).await;
        let reply = self.next().await;
        assert_eq!(reply["type"], "subscribed", "{reply}");
    }

    /// The next JSON frame.
    pub async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("open")
                .expect("frame");
            if let Message::Text(text) = message {
                return serde_json::from_str(&text).expect("JSON");
            }
        }
    }

    /// Event frames until one named `event` for `job` arrives; all of them, that one last.
    pub async fn until(&mut self, job: &str, event: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let frame = self.next().await;
            let done = frame["event"] == event && frame["data"]["jobId"] == job;
            seen.push(frame);
            if done {
                return seen;
            }
        }
    }
}

/// Runs the scenario `$body(stack)` twice: on SQLite, and on MariaDB when its URL is set.
#[macro_export]
macro_rules! on_sqlite_and_mariadb {
    ($name:ident, $extra:expr, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$body($crate::stack::Stack::on_sqlite($extra).await).await;
            }

            #[tokio::test]
            async fn mariadb() {
                if let Some(stack) = $crate::stack::Stack::on_mariadb($extra).await {
                    super::$body(stack).await;
                }
            }
        }
    };
}
