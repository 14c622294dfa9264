//! What the test suites share. Tests that run on MariaDB or PostgreSQL each get a database of
//! their own on the server CI provides, so that runs in parallel cannot collide; services a
//! test starts listen on port 0 and say which port they got ([`spawn_listening`]).

mod cluster;
pub mod socketio;

pub use cluster::OwnCluster;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use agentq_domain::JobId;
use sea_orm::{ConnectionTrait, Database};

/// A database made for one test on the server at the URL in an environment variable
/// (`AGENTQ_TEST_MYSQL_URL`, `AGENTQ_TEST_POSTGRES_URL`); dropped by [`ScratchDatabase::drop`].
#[derive(Debug)]
pub struct ScratchDatabase {
    /// The connection URL of the new database.
    pub url: String,
    admin_url: String,
    name: String,
}

impl ScratchDatabase {
    /// A fresh database named `<prefix>_<unique>`, or `None` when `var` is unset or empty.
    pub async fn create(var: &str, prefix: &str) -> Option<Self> {
        let admin_url = std::env::var(var).ok().filter(|u| !u.is_empty())?;
        let name = format!("{prefix}_{}", JobId::new().as_uuid().simple());
        let admin = Database::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("{var}: {e}"));
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create database");
        let (base, _) = admin_url.rsplit_once('/').expect("url has a database");
        Some(Self {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        })
    }

    /// Drops the database, best effort (close its connections first).
    pub async fn drop(self) {
        if let Ok(admin) = Database::connect(&self.admin_url).await {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {}", self.name))
                .await;
        }
    }
}

/// Starts `command` (a service with its address setting on port 0) with its stdout piped, and
/// waits for the line the service prints once it listens (`<service> listening on <addr>`,
/// `agentq_telemetry::announce`): the child and the address the OS gave it. A thread drains the
/// rest of its stdout, so that the service never blocks on a full pipe.
pub fn spawn_listening(mut command: Command) -> (Child, SocketAddr) {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some((_, addr)) = line.split_once(" listening on ")
                    && let Ok(addr) = addr.trim().parse()
                {
                    break addr;
                }
            }
            _ => {
                let status = child.wait();
                panic!("{command:?} ended before it listened: {status:?}");
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

/// A `redis-server` of the test's own, for tests that kill its connections, lose its data or
/// change its configuration. It listens on a Unix socket of its own (no port to pick), keeps
/// nothing on disk, and stops when dropped.
#[derive(Debug)]
pub struct OwnRedis {
    child: Child,
    socket: std::path::PathBuf,
}

impl OwnRedis {
    pub fn start() -> Self {
        let socket = std::env::temp_dir().join(format!(
            "agentq-redis-{}.sock",
            JobId::new().as_uuid().simple()
        ));
        Self::start_at(socket)
    }

    /// Stops the server and starts a new one at the same address, with none of the old data.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
        self.child = Self::spawn(&self.socket);
        self.wait_until_up();
    }

    fn start_at(socket: std::path::PathBuf) -> Self {
        let own = Self {
            child: Self::spawn(&socket),
            socket,
        };
        own.wait_until_up();
        own
    }

    fn spawn(socket: &std::path::Path) -> Child {
        Command::new("redis-server")
            .args(["--port", "0", "--unixsocket"])
            .arg(socket)
            .args([
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed")
    }

    fn wait_until_up(&self) {
        for _ in 0..500 {
            if self.cli(&["PING"]) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("redis-server at {} did not start", self.socket.display());
    }

    pub fn url(&self) -> String {
        format!("redis+unix://{}", self.socket.display())
    }

    /// Runs a command with redis-cli; its output, if it succeeded.
    pub fn cmd(&self, args: &[&str]) -> Option<String> {
        let out = Command::new("redis-cli")
            .arg("-s")
            .arg(&self.socket)
            .args(args)
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
            .filter(|s| !s.starts_with("Could not connect"))
    }

    /// Whether a command with redis-cli succeeded.
    pub fn cli(&self, args: &[&str]) -> bool {
        self.cmd(args).is_some()
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}
