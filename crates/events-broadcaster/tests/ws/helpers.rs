//! A real `events-broadcaster` binary on a per-test queue and SQLite database, real Redis, and
//! real WebSocket clients.

use std::time::Duration;

use agentq_auth::Jwt;
use agentq_domain::{JobId, Priority, ProjectId};
use agentq_queue::{Finished, LeaseToken, NewJob, Outcome, Queue, QueueConfig, Redis};
use agentq_store::{AgentKind, Db, NewAgent, NewJobRecord, NewUser, Project, Role, Task, User};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const SECRET: &str = "a-test-secret-that-is-long-enough-0123456789";

pub struct Harness {
    pub db: Db,
    pub queue: Queue,
    pub jwt: Jwt,
    pub admin: User,
    pub member: User,
    /// The member's project.
    pub own: (Project, Task),
    /// A project the member is not in.
    pub other: (Project, Task),
    agent: agentq_store::Agent,
    redis_url: String,
    database_url: String,
    file: std::path::PathBuf,
}

impl Harness {
    pub async fn new() -> Self {
        let file = std::env::temp_dir().join(format!("agentq-ws-{}.db", JobId::new()));
        let database_url = format!("sqlite://{}?mode=rwc", file.display());
        let redis_url =
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let db = agentq_store::connect_and_migrate(&database_url)
            .await
            .expect("db");
        let user = |email: &str, role| NewUser {
            email: email.into(),
            password_hash: "unused".into(),
            role,
        };
        let admin = agentq_store::create_user(&db, user("admin@example.com", Role::Admin))
            .await
            .expect("admin");
        let member = agentq_store::create_user(&db, user("member@example.com", Role::Member))
            .await
            .expect("member");
        let mut projects = Vec::new();
        for name in ["Own", "Other"] {
            let project = agentq_store::create_project(&db, name)
                .await
                .expect("project");
            let task = agentq_store::create_task(&db, project.id, &format!("{name}-1"), "task")
                .await
                .expect("task");
            projects.push((project, task));
        }
        let other = projects.pop().expect("other");
        let own = projects.pop().expect("own");
        agentq_store::add_member(&db, own.0.id, member.id)
            .await
            .expect("member");
        let agent = agentq_store::create_agent(
            &db,
            NewAgent {
                name: "echo".into(),
                kind: AgentKind::Command(vec!["true".into()]),
                timeout_secs: 10,
                max_concurrency: None,
                idle_timeout_secs: None,
                requires_approval: false,
                asks_approval: false,
                env: Default::default(),
            },
        )
        .await
        .expect("agent");
        let queue = Queue::new(
            Redis::open(&redis_url).expect("redis"),
            QueueConfig::named(format!("ws-test-{}", JobId::new())),
        );
        Self {
            db,
            queue,
            jwt: Jwt::new(SECRET.as_bytes()),
            admin,
            member,
            own,
            other,
            agent,
            redis_url,
            database_url,
            file,
        }
    }

    pub fn token(&self, user: &User) -> String {
        self.jwt.issue(user.id, 3600).expect("token").token
    }

    /// Starts the real binary on a port the OS picks and waits until it answers `/healthz`.
    pub async fn spawn(&self, extra: &[(&str, &str)]) -> Broadcaster {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_events-broadcaster"));
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("REDIS_URL", &self.redis_url)
            .env("DATABASE_URL", &self.database_url)
            .env("AGENTQ_QUEUE", &self.queue.config().name)
            .env("AGENTQ_JWT_SECRET", SECRET)
            .env("AGENTQ_WS_ADDR", "127.0.0.1:0")
            .env("AGENTQ_ALLOWED_ORIGINS", "https://dashboard.example")
            .env("RUST_LOG", "warn")
            .envs(extra.iter().copied());
        let (child, addr) = agentq_test_support::spawn_listening(command);
        let broadcaster = Broadcaster {
            child,
            port: addr.port(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(reply) = reqwest::get(broadcaster.http("/healthz")).await
                && reply.status().is_success()
            {
                return broadcaster;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "broadcaster did not start"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// What the gateway does for a new job: the SQL row, then the queue (`agent_job_queued`).
    pub async fn enqueue(&self, project: &(Project, Task)) -> JobId {
        let id = JobId::new();
        agentq_store::insert_job(
            &self.db,
            NewJobRecord {
                job_id: id,
                queue_name: self.queue.config().name.clone(),
                task: project.1.id,
                task_code: project.1.code.clone(),
                agent: self.agent.id,
                project: project.0.id,
                priority: Priority::Medium,
                max_attempts: 3,
                job_data: json!({}),
                queued_by: None,
                held: false,
            },
        )
        .await
        .expect("row");
        let mut job = NewJob::new("{}");
        job.id = id;
        job.project = Some(project.0.id);
        job.task = Some(project.1.id);
        assert!(self.queue.enqueue(&job).await.expect("enqueue"));
        id
    }

    /// Many queued events, `burst` at a time (no SQL rows: events only).
    pub async fn enqueue_many(&self, project: ProjectId, count: usize, burst: usize) {
        let jobs: Vec<NewJob> = (0..count)
            .map(|_| {
                let mut job = NewJob::new("{}");
                job.project = Some(project);
                job
            })
            .collect();
        for chunk in jobs.chunks(burst) {
            self.queue.enqueue_batch(chunk).await.expect("enqueue");
        }
    }

    /// Leases the next job and takes it through progress, output and completion, as a worker
    /// does (`started`, `progress`, `log`, `completed`).
    pub async fn run_next(&self) -> JobId {
        let cycle = self
            .queue
            .cycle("test-worker", &[], 1)
            .await
            .expect("lease");
        let job = cycle.leased.into_iter().next().expect("a job to lease");
        let token: LeaseToken = job.token;
        assert!(
            self.queue
                .progress(&job.id, token, 50)
                .await
                .expect("progress")
        );
        let lines = vec!["hello".to_owned(), "world".to_owned()];
        assert!(self.queue.log(&job.id, token, &lines).await.expect("log"));
        let done = Finished {
            id: job.id,
            token,
            outcome: Outcome::Completed(r#"{"answer":42}"#.into()),
        };
        self.queue
            .cycle("test-worker", &[done], 0)
            .await
            .expect("complete");
        job.id
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

pub struct Broadcaster {
    pub child: std::process::Child,
    pub port: u16,
}

impl Broadcaster {
    pub fn http(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn ws(&self) -> String {
        format!("ws://127.0.0.1:{}/ws", self.port)
    }

    pub async fn metric(&self, name: &str) -> f64 {
        let text = reqwest::get(self.http("/metrics"))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.trim().parse().ok())
            .unwrap_or(0.0)
    }

    /// Waits (up to [`PATIENCE`]) until metric `name` satisfies `wanted`.
    pub async fn wait_for_metric(&self, name: &str, wanted: impl Fn(f64) -> bool) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let value = self.metric(name).await;
            if wanted(value) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name} stayed {value}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn terminate(&self) {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    fn request(&self, token: &str) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        let mut request = self.ws().into_client_request().expect("request");
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        request
    }

    pub async fn connect(&self, token: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(self.request(token))
            .await
            .expect("connect");
        Client { ws }
    }

    /// A client whose socket receive buffer is `bytes`.
    pub async fn connect_with_receive_buffer(&self, token: &str, bytes: u32) -> Client {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(bytes).expect("buffer");
        let stream = socket
            .connect(([127, 0, 0, 1], self.port).into())
            .await
            .expect("tcp");
        let (ws, _) =
            tokio_tungstenite::client_async(self.request(token), MaybeTlsStream::Plain(stream))
                .await
                .expect("connect");
        Client { ws }
    }
}

impl Drop for Broadcaster {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// How long a test waits for a frame that should come.
pub const PATIENCE: Duration = Duration::from_secs(10);

impl Client {
    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("send");
    }

    /// The next text frame as JSON; panics on a close or after [`PATIENCE`].
    pub async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.ws.next())
                .await
                .expect("a frame in time")
                .expect("open")
                .expect("frame");
            match message {
                Message::Text(text) => return serde_json::from_str(&text).expect("JSON frame"),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Whether a text frame arrives within `wait`.
    pub async fn quiet_for(&mut self, wait: Duration) -> bool {
        match tokio::time::timeout(wait, self.ws.next()).await {
            Err(_) => true,
            Ok(Some(Ok(Message::Text(text)))) => panic!("unexpected frame {text}"),
            Ok(other) => panic!("unexpected {other:?}"),
        }
    }

    pub async fn subscribe(&mut self, room: &str) {
        self.send(json!({"type": "subscribe", "room": room})).await;
        let reply = self.next().await;
        assert_eq!(reply, json!({"type": "subscribed", "room": room}));
    }

    /// Reads `count` text frames and answers how many came (cheaper than parsing each).
    pub async fn count_events(&mut self, count: usize) -> usize {
        let mut seen = 0;
        while seen < count {
            match tokio::time::timeout(PATIENCE, self.ws.next()).await {
                Ok(Some(Ok(Message::Text(_)))) => seen += 1,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
                _ => break,
            }
        }
        seen
    }

    /// The next `count` event frames.
    pub async fn events(&mut self, count: usize) -> Vec<Value> {
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let frame = self.next().await;
            assert!(
                frame.get("event").is_some(),
                "expected an event, got {frame}"
            );
            out.push(frame);
        }
        out
    }
}
