//! The broadcaster's settings, from the environment (DESIGN.md §8).

use std::net::SocketAddr;
use std::time::Duration;

use agentq_auth::MIN_JWT_SECRET_BYTES;

#[derive(Clone)]
pub struct Settings {
    /// `AGENTQ_WS_ADDR` (127.0.0.1:8081): `/ws`, `/healthz` and `/metrics`.
    pub addr: SocketAddr,
    pub redis_url: String,
    pub database_url: String,
    pub queue: String,
    /// `AGENTQ_JWT_SECRET`, the gateway's; in development `./data/jwt-secret`, which it wrote.
    pub jwt_secret: Vec<u8>,
    /// `AGENTQ_ALLOWED_ORIGINS`: comma-separated origins a browser may connect from.
    pub allowed_origins: Vec<String>,
    /// `AGENTQ_WS_CLIENT_BUFFER` (1024): frames waiting for one client before it is dropped.
    pub client_buffer: usize,
    /// `AGENTQ_WS_PING_MS` (20000): keepalive; a peer silent for two of these is dropped.
    pub ping_every: Duration,
    /// `AGENTQ_WS_RECHECK_MS` (10000): how often a connection re-reads what its user may see.
    pub recheck_every: Duration,
    /// `AGENTQ_WS_MAX_CONNECTIONS` (20000): WebSocket connections at once; more get 503.
    pub max_connections: usize,
    /// `AGENTQ_WS_REPLAY_MAX` (100000): stream entries one resume may scan; a client further
    /// behind gets a `gap` frame for the rest and goes on live.
    pub replay_max: usize,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("addr", &self.addr)
            .field("queue", &self.queue)
            .field("allowed_origins", &self.allowed_origins)
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let number = |name: &str, default: u64| -> anyhow::Result<u64> {
            get(name).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| anyhow::anyhow!("{name}: expected a whole number"))
            })
        };
        let development = get("AGENTQ_ENV").as_deref() == Some("development");
        let jwt_secret = match get("AGENTQ_JWT_SECRET") {
            Some(secret) if secret.len() >= MIN_JWT_SECRET_BYTES => secret.into_bytes(),
            Some(_) if !development => anyhow::bail!(
                "AGENTQ_JWT_SECRET: too weak: use at least {MIN_JWT_SECRET_BYTES} random bytes"
            ),
            None if !development => {
                anyhow::bail!("AGENTQ_JWT_SECRET: missing (required outside development)")
            }
            _ => std::fs::read("./data/jwt-secret").map_err(|_| {
                anyhow::anyhow!(
                    "AGENTQ_JWT_SECRET: missing, and no ./data/jwt-secret from the gateway"
                )
            })?,
        };
        Ok(Self {
            addr: get("AGENTQ_WS_ADDR")
                .unwrap_or_else(|| "127.0.0.1:8081".into())
                .parse()
                .map_err(|_| anyhow::anyhow!("AGENTQ_WS_ADDR: expected host:port"))?,
            redis_url: get("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
            database_url: get("DATABASE_URL")
                .unwrap_or_else(|| "sqlite://./data/agentq.db?mode=rwc".into()),
            queue: get("AGENTQ_QUEUE").unwrap_or_else(|| "agent-execution".into()),
            jwt_secret,
            allowed_origins: get("AGENTQ_ALLOWED_ORIGINS")
                .map(|list| {
                    list.split(',')
                        .map(|o| o.trim().trim_end_matches('/').to_owned())
                        .filter(|o| !o.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            client_buffer: usize::try_from(number("AGENTQ_WS_CLIENT_BUFFER", 1024)?.max(1))?,
            ping_every: Duration::from_millis(number("AGENTQ_WS_PING_MS", 20_000)?.max(100)),
            recheck_every: Duration::from_millis(number("AGENTQ_WS_RECHECK_MS", 10_000)?.max(100)),
            max_connections: match number("AGENTQ_WS_MAX_CONNECTIONS", 20_000)? {
                0 => anyhow::bail!("AGENTQ_WS_MAX_CONNECTIONS: expected at least 1"),
                n => usize::try_from(n)?,
            },
            replay_max: match number("AGENTQ_WS_REPLAY_MAX", 100_000)? {
                n if n < 500 => anyhow::bail!("AGENTQ_WS_REPLAY_MAX: expected at least 500"),
                n => usize::try_from(n)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn refuses_a_missing_or_weak_secret_and_reads_the_origin_list() {
        assert!(settings(&[]).is_err());
        assert!(settings(&[("AGENTQ_JWT_SECRET", "short")]).is_err());
        let strong = "k".repeat(MIN_JWT_SECRET_BYTES);
        let s = settings(&[
            ("AGENTQ_JWT_SECRET", &strong),
            (
                "AGENTQ_ALLOWED_ORIGINS",
                "https://a.example, https://b.example/,",
            ),
        ])
        .expect("valid");
        assert_eq!(
            s.allowed_origins,
            ["https://a.example", "https://b.example"]
        );
        assert!(!format!("{s:?}").contains(&strong));
    }
}
