//! What the test suites share. Tests that run on MariaDB or PostgreSQL each get a database of
//! their own on the server CI provides, so that runs in parallel cannot collide; services a
//! test starts listen on ports from [`free_port`].

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

/// A port for a process a test starts to listen on. Not from the OS's ephemeral range: a port
/// found free there can be handed to another process (any outgoing connection) before the
/// service binds it, and two tests once shared one. These come from a counter below that
/// range, offset per test process, each checked free.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = 20_000 + u16::try_from(std::process::id() % 500).unwrap_or(0) * 20;
    loop {
        let port = base + NEXT.fetch_add(1, Ordering::Relaxed) % 10_000;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}
