//! The broadcaster's settings, from the environment (DESIGN.md §8): the core every binary
//! reads (`agentq_settings::Core`), and the broadcaster's own.

use std::net::SocketAddr;
use std::time::Duration;

use agentq_settings::{Core, DevSecrets, Env, Secret, SettingsError};

#[derive(Debug, Clone)]
pub struct Settings {
    pub core: Core,
    /// `AGENTQ_WS_ADDR` (127.0.0.1:8081): `/ws`, `/healthz` and `/metrics`; port 0 picks one.
    pub addr: SocketAddr,
    /// `AGENTQ_JWT_SECRET`, the gateway's; in development `./data/jwt-secret`, which it wrote.
    pub jwt_secret: Secret<Vec<u8>>,
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

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::read(&Env::process())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        Self::read(&Env::from_fn(get))
    }

    pub fn read(env: &Env<'_>) -> Result<Self, SettingsError> {
        let count = |name: &str, default: u64, min: u64| -> Result<usize, SettingsError> {
            let n: u64 = env.number_in(name, default, min..=u64::from(u32::MAX))?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        };
        Ok(Self {
            core: Core::read(env)?,
            addr: env.addr("AGENTQ_WS_ADDR", "127.0.0.1:8081")?,
            jwt_secret: agentq_settings::jwt_secret(env, DevSecrets::Read)?,
            allowed_origins: env
                .list("AGENTQ_ALLOWED_ORIGINS")
                .into_iter()
                .map(|origin| origin.trim_end_matches('/').to_owned())
                .collect(),
            client_buffer: count("AGENTQ_WS_CLIENT_BUFFER", 1024, 1)?,
            ping_every: env.millis("AGENTQ_WS_PING_MS", 20_000, 100)?,
            recheck_every: env.millis("AGENTQ_WS_RECHECK_MS", 10_000, 100)?,
            max_connections: count("AGENTQ_WS_MAX_CONNECTIONS", 20_000, 1)?,
            replay_max: count("AGENTQ_WS_REPLAY_MAX", 100_000, 500)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentq_settings::MIN_JWT_SECRET_BYTES;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
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
