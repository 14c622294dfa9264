use std::collections::HashMap;
use std::time::Duration;

use agentq_domain::{JobId, JobState, Priority};
use agentq_queue::{NewJob, Queue, QueueConfig, Redis, WorkerReport};
use agentq_queue_worker::settings::Settings;
use agentq_store::{AgentEnv, AgentKind, Db, NewAgent, NewJobRecord, Project, Scope, Task};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// `SECRET_KEY`'s 32 bytes (0, 1, …, 31) as the box the gateway seals with.
pub fn gateway_secrets() -> agentq_secrets::SecretBox {
    agentq_secrets::SecretBox::new(&std::array::from_fn(|i| i as u8))
}

/// An agent's variables as the gateway stores them: sealed with `secrets`.
pub fn sealed_env(secrets: &agentq_secrets::SecretBox, vars: &[(&str, &str)]) -> AgentEnv {
    let vars: std::collections::BTreeMap<&str, &str> = vars.iter().copied().collect();
    let json = serde_json::to_vec(&vars).expect("json");
    AgentEnv::Sealed(secrets.seal(&json).expect("seal"))
}

pub struct Harness {
    pub db: Db,
    pub queue: Queue,
    pub project: Project,
    pub task: Task,
    vars: HashMap<String, String>,
    file: std::path::PathBuf,
    /// A database the harness made on a server, dropped by `cleanup`.
    server_database: Option<agentq_test_support::ScratchDatabase>,
}

impl Harness {
    pub async fn new(extra: &[(&str, &str)]) -> Self {
        let file = std::env::temp_dir().join(format!("agentq-worker-{}.db", JobId::new()));
        // SQLite in a file of the test's own, unless the test brings a database
        let database_url = extra
            .iter()
            .find(|(k, _)| *k == "DATABASE_URL")
            .map_or_else(
                || format!("sqlite://{}?mode=rwc", file.display()),
                |(_, v)| (*v).to_owned(),
            );
        let redis_url =
            std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let queue_name = format!("worker-test-{}", JobId::new());
        let mut vars: HashMap<String, String> = [
            ("REDIS_URL", redis_url.clone()),
            ("DATABASE_URL", database_url.clone()),
            ("AGENTQ_QUEUE", queue_name.clone()),
            ("AGENTQ_SECRET_KEY", SECRET_KEY.into()),
            ("AGENTQ_BACKOFF_BASE_MS", "50".into()),
            ("AGENTQ_SHUTDOWN_GRACE_MS", "2000".into()),
            ("AGENTQ_WORKER_METRICS_ADDR", "off".into()),
            // in-process workers run their agents under the real binary's guard
            (
                "AGENTQ_AGENT_GUARD",
                env!("CARGO_BIN_EXE_queue-worker").into(),
            ),
            ("PATH", std::env::var("PATH").unwrap_or_default()),
            // the tests' http agents listen on loopback, which agents may not call unless listed
            ("AGENTQ_AGENT_HOSTS", "127.0.0.1".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in extra {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let db = agentq_store::connect_and_migrate(&database_url)
            .await
            .expect("db");
        let project = agentq_store::create_project(&db, "Apollo")
            .await
            .expect("project");
        let task = agentq_store::create_task(&db, project.id, "T-1", "task")
            .await
            .expect("task");
        let settings = Settings::from_lookup(|n| vars.get(n).cloned()).expect("settings");
        let mut config = QueueConfig::named(queue_name);
        config.max_attempts = settings.core.attempts;
        config.backoff.base = settings.core.backoff_base;
        let queue = Queue::new(
            Redis::open(settings.core.redis_url.expose()).expect("redis"),
            config,
        );
        Self {
            db,
            queue,
            project,
            task,
            vars,
            file,
            server_database: None,
        }
    }

    /// The harness on a database of its own on the MariaDB at `AGENTQ_TEST_MYSQL_URL`, or
    /// `None` when that is unset.
    pub async fn on_mariadb(extra: &[(&str, &str)]) -> Option<Self> {
        let scratch =
            agentq_test_support::ScratchDatabase::create("AGENTQ_TEST_MYSQL_URL", "agentq_worker")
                .await?;
        let mut extra = extra.to_vec();
        extra.push(("DATABASE_URL", scratch.url.as_str()));
        let mut harness = Self::new(&extra).await;
        harness.server_database = Some(scratch);
        Some(harness)
    }

    pub fn settings(&self, worker_id: &str) -> Settings {
        let mut vars = self.vars.clone();
        vars.insert("AGENTQ_WORKER_ID".into(), worker_id.into());
        Settings::from_lookup(|n| vars.get(n).cloned()).expect("settings")
    }

    /// Starts a worker (pool and recorder) in this process.
    pub fn start_worker(
        &self,
        worker_id: &str,
    ) -> (CancellationToken, JoinHandle<anyhow::Result<WorkerReport>>) {
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(agentq_queue_worker::run(
            self.settings(worker_id),
            None,
            shutdown.clone(),
        ));
        (shutdown, handle)
    }

    /// Starts the recorder alone (no worker pool) in this process.
    pub fn start_recorder(&self) -> (CancellationToken, JoinHandle<()>) {
        let shutdown = CancellationToken::new();
        let recorder = tokio::spawn(agentq_queue_worker::recorder::run_recorder(
            self.queue.clone(),
            self.db.clone(),
            "rec".into(),
            shutdown.clone(),
        ));
        (shutdown, recorder)
    }

    /// Starts the real `queue-worker` binary on this harness's queue and database, with
    /// `extra` environment on top.
    pub fn spawn_binary(&self, worker_id: &str, extra: &[(&str, &str)]) -> std::process::Child {
        let settings = self.settings(worker_id);
        std::process::Command::new(env!("CARGO_BIN_EXE_queue-worker"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("REDIS_URL", settings.core.redis_url.expose())
            .env("DATABASE_URL", settings.core.database_url.expose())
            .env("AGENTQ_QUEUE", &settings.core.queue)
            .env("AGENTQ_SECRET_KEY", SECRET_KEY)
            .env("AGENTQ_WORKER_ID", worker_id)
            .env("AGENTQ_WORKER_METRICS_ADDR", "off")
            .env("RUST_LOG", "warn")
            .envs(extra.iter().copied())
            .spawn()
            .expect("queue-worker")
    }

    /// A command agent running `sh -c script`, with `GREETING=hello` sealed as the gateway
    /// seals an agent's variables.
    pub async fn agent(&self, script: &str, timeout_secs: u64) -> agentq_store::Agent {
        let env = sealed_env(&gateway_secrets(), &[("GREETING", "hello")]);
        self.agent_with_env(script, timeout_secs, env).await
    }

    /// A command agent running `sh -c script` with `env` as stored.
    pub async fn agent_with_env(
        &self,
        script: &str,
        timeout_secs: u64,
        env: AgentEnv,
    ) -> agentq_store::Agent {
        agentq_store::create_agent(
            &self.db,
            NewAgent {
                name: format!("agent-{}", JobId::new()),
                kind: AgentKind::Command(vec!["sh".into(), "-c".into(), script.into()]),
                timeout_secs,
                max_concurrency: None,
                idle_timeout_secs: None,
                requires_approval: false,
                asks_approval: false,
                env,
            },
        )
        .await
        .expect("agent")
    }

    /// What the gateway does: the SQL row, then the queue.
    pub async fn submit(&self, agent: &agentq_store::Agent) -> JobId {
        let id = self.submit_row(agent).await;
        assert!(self.enqueue_row(id).await.expect("enqueue"));
        id
    }

    /// The gateway's first step alone: the job's SQL row.
    pub async fn submit_row(&self, agent: &agentq_store::Agent) -> JobId {
        let context = serde_json::json!({"dependencies": [1]});
        self.insert_row(agent, &self.task, context, false).await
    }

    /// The SQL row of a job whose agent requires approval (`awaiting_approval`).
    pub async fn submit_held_row(&self, agent: &agentq_store::Agent) -> JobId {
        let context = serde_json::json!({});
        self.insert_row(agent, &self.task, context, true).await
    }

    /// The SQL row of a job of `task` (in its project) queued with `context`.
    pub async fn insert_row(
        &self,
        agent: &agentq_store::Agent,
        task: &agentq_store::Task,
        context: serde_json::Value,
        held: bool,
    ) -> JobId {
        let id = JobId::new();
        let payload = serde_json::json!({
            "taskId": task.id.get(), "taskCode": task.code, "agentId": agent.id.get(),
            "projectId": task.project.get(), "metadata": null, "context": context,
            "mcpConfigs": [],
        });
        agentq_store::insert_job(
            &self.db,
            NewJobRecord {
                job_id: id,
                queue_name: self.queue.config().name.clone(),
                task: task.id,
                task_code: task.code.clone(),
                agent: agent.id,
                project: task.project,
                priority: Priority::Medium,
                max_attempts: self.queue.config().max_attempts,
                job_data: payload,
                queued_by: None,
                held,
            },
        )
        .await
        .expect("row");
        id
    }

    /// The gateway's second step: the row's job into the queue.
    pub async fn enqueue_row(&self, id: JobId) -> agentq_queue::Result<bool> {
        let row = self.row(&id).await;
        let mut job = NewJob::new(row.job_data.to_string());
        job.id = id;
        job.project = Some(self.project.id);
        job.task = Some(self.task.id);
        self.queue.enqueue(&job).await
    }

    pub async fn row(&self, id: &JobId) -> agentq_store::JobRecord {
        agentq_store::job_by_job_id(&self.db, &Scope::All, id)
            .await
            .expect("sql")
            .expect("row")
    }

    /// Waits until the SQL row reaches `state`.
    pub async fn wait_for_row(
        &self,
        id: &JobId,
        state: JobState,
        within: Duration,
    ) -> agentq_store::JobRecord {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let row = self.row(id).await;
            if row.status == state {
                return row;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job stayed {:?}, expected {state:?}: {row:?}",
                row.status
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn cleanup(self) {
        let _ = std::fs::remove_file(&self.file);
        if let Some(scratch) = self.server_database {
            let _ = self.db.close().await;
            scratch.drop().await;
        }
    }
}

pub use agentq_test_support::OwnRedis;

/// A TCP proxy that holds every chunk of the server's answers for `delay`: a slow database
/// as its clients see it.
pub struct SlowProxy {
    pub port: u16,
    accepting: JoinHandle<()>,
}

impl SlowProxy {
    pub async fn start(upstream: String, delay: Duration) -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy");
        let port = listener.local_addr().expect("addr").port();
        let accepting = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut client_read, &mut server_write).await;
                });
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n) = server_read.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        tokio::time::sleep(delay).await;
                        if client_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        Self { port, accepting }
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

/// A TCP proxy to a database that can be cut (every connection dropped, new ones refused at
/// once) and restored: a database outage as the worker sees it.
pub struct FlakyProxy {
    pub port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connections: std::sync::Arc<std::sync::Mutex<tokio::task::JoinSet<()>>>,
    accepting: JoinHandle<()>,
}

impl FlakyProxy {
    pub async fn start(upstream: String) -> Self {
        use std::sync::atomic::{AtomicBool, Ordering};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("proxy");
        let port = listener.local_addr().expect("addr").port();
        let up = std::sync::Arc::new(AtomicBool::new(true));
        let connections = std::sync::Arc::new(std::sync::Mutex::new(tokio::task::JoinSet::new()));
        let accepting = {
            let (up, connections) = (up.clone(), connections.clone());
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    if !up.load(Ordering::SeqCst) {
                        continue; // dropped: the connection is closed at once
                    }
                    let upstream = upstream.clone();
                    if let Ok(mut set) = connections.lock() {
                        set.spawn(async move {
                            if let Ok(mut server) = tokio::net::TcpStream::connect(upstream).await {
                                let _ =
                                    tokio::io::copy_bidirectional(&mut client, &mut server).await;
                            }
                        });
                    }
                }
            })
        };
        Self {
            port,
            up,
            connections,
            accepting,
        }
    }

    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut set) = self.connections.lock() {
            set.abort_all();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for FlakyProxy {
    fn drop(&mut self) {
        self.accepting.abort();
        if let Ok(mut set) = self.connections.lock() {
            set.abort_all();
        }
    }
}

/// Runs the scenario `$body(harness)` twice: on SQLite, and on MariaDB when its URL is set.
#[macro_export]
macro_rules! on_sqlite_and_mariadb {
    ($name:ident, $extra:expr, $body:ident) => {
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$body($crate::helpers::Harness::new($extra).await).await;
            }

            #[tokio::test]
            async fn mariadb() {
                if let Some(h) = $crate::helpers::Harness::on_mariadb($extra).await {
                    super::$body(h).await;
                }
            }
        }
    };
}
