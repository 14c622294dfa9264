//! The gateway's settings, from the environment (DESIGN.md §8). Secrets stay out of `Debug`.

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

/// A value that must never reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `AGENTQ_ENV`: `development` relaxes secret checks and shows 500 details.
    pub development: bool,
    /// `AGENTQ_API_ADDR` (127.0.0.1:8080).
    pub addr: SocketAddr,
    /// `REDIS_URL` (redis://127.0.0.1:6379).
    pub redis_url: Secret<String>,
    /// `DATABASE_URL` (sqlite://./data/agentq.db?mode=rwc).
    pub database_url: Secret<String>,
    /// `AGENTQ_QUEUE` (agent-execution).
    pub queue: String,
    /// `AGENTQ_ATTEMPTS` (3).
    pub attempts: u32,
    /// `AGENTQ_CONCURRENCY` (5) and `AGENTQ_LOCK_DURATION_MS` (30000): shown by the workers
    /// route as the worker configuration.
    pub concurrency: u32,
    pub lock_duration_ms: u64,
    /// `AGENTQ_BACKOFF_BASE_MS` (5000).
    pub backoff_base_ms: u64,
    /// `AGENTQ_JWT_SECRET`: at least 32 bytes outside development.
    pub jwt_secret: Secret<Vec<u8>>,
    /// `AGENTQ_TOKEN_TTL_SECS` (3600): how long a login token lasts.
    pub token_ttl_secs: u64,
    /// `AGENTQ_SECRET_KEY`: 32 bytes, base64; encrypts MCP credentials at rest.
    pub secret_key: Secret<[u8; 32]>,
    /// `AGENTQ_BODY_LIMIT_BYTES` (1 MiB).
    pub body_limit: usize,
    /// `AGENTQ_ADMIN_EMAIL` / `AGENTQ_ADMIN_PASSWORD`: created at start when absent.
    pub admin: Option<(String, Secret<String>)>,
    /// `AGENTQ_TRUSTED_PROXIES` (none): comma-separated addresses or networks (CIDR) of the
    /// proxies in front of the gateway, whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `AGENTQ_AGENT_HOSTS` (any host but loopback and link-local addresses): which hosts an
    /// agent's `endpointUrl` and a job's MCP `serverUrl` may name.
    pub agent_hosts: agentq_domain::hosts::HostPolicy,
}

/// A setting that is missing or malformed, named.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct SettingsError {
    pub name: &'static str,
    pub problem: String,
}

fn bad(name: &'static str, problem: impl Into<String>) -> SettingsError {
    SettingsError {
        name,
        problem: problem.into(),
    }
}

pub use agentq_auth::MIN_JWT_SECRET_BYTES;
const DATA_DIR: &str = "./data";

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// Reads settings through `get` (the environment, or a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let development = get("AGENTQ_ENV").as_deref() == Some("development");
        let parse = |name: &'static str, default: &str| -> Result<String, SettingsError> {
            Ok(get(name).unwrap_or_else(|| default.to_owned()))
        };
        let number = |name: &'static str, default: u64| -> Result<u64, SettingsError> {
            match get(name) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| bad(name, "expected a whole number")),
            }
        };
        let addr = parse("AGENTQ_API_ADDR", "127.0.0.1:8080")?
            .parse()
            .map_err(|_| bad("AGENTQ_API_ADDR", "expected host:port"))?;
        let jwt_secret = match get("AGENTQ_JWT_SECRET") {
            Some(secret) if secret.len() >= MIN_JWT_SECRET_BYTES => secret.into_bytes(),
            Some(_) if !development => {
                return Err(bad(
                    "AGENTQ_JWT_SECRET",
                    format!("too weak: use at least {MIN_JWT_SECRET_BYTES} random bytes"),
                ));
            }
            None if !development => {
                return Err(bad(
                    "AGENTQ_JWT_SECRET",
                    "missing (required outside development)",
                ));
            }
            _ => dev_secret("jwt-secret")?.to_vec(),
        };
        let secret_key = match get("AGENTQ_SECRET_KEY") {
            Some(encoded) => BASE64
                .decode(encoded.trim())
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
                .ok_or_else(|| bad("AGENTQ_SECRET_KEY", "expected 32 bytes in base64"))?,
            None if development => dev_secret("secret.key")?,
            None => {
                return Err(bad(
                    "AGENTQ_SECRET_KEY",
                    "missing (required outside development)",
                ));
            }
        };
        let admin = match (get("AGENTQ_ADMIN_EMAIL"), get("AGENTQ_ADMIN_PASSWORD")) {
            (Some(email), Some(password)) => Some((email, Secret::new(password))),
            (None, None) => None,
            _ => {
                return Err(bad(
                    "AGENTQ_ADMIN_EMAIL",
                    "set both AGENTQ_ADMIN_EMAIL and AGENTQ_ADMIN_PASSWORD, or neither",
                ));
            }
        };
        Ok(Self {
            development,
            addr,
            redis_url: Secret::new(parse("REDIS_URL", "redis://127.0.0.1:6379")?),
            database_url: Secret::new(parse("DATABASE_URL", "sqlite://./data/agentq.db?mode=rwc")?),
            queue: parse("AGENTQ_QUEUE", "agent-execution")?,
            attempts: u32::try_from(number("AGENTQ_ATTEMPTS", 3)?)
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| bad("AGENTQ_ATTEMPTS", "expected 1 to 1000"))?,
            concurrency: u32::try_from(number("AGENTQ_CONCURRENCY", 5)?)
                .map_err(|_| bad("AGENTQ_CONCURRENCY", "too large"))?,
            lock_duration_ms: number("AGENTQ_LOCK_DURATION_MS", 30_000)?,
            backoff_base_ms: number("AGENTQ_BACKOFF_BASE_MS", 5_000)?,
            jwt_secret: Secret::new(jwt_secret),
            token_ttl_secs: number("AGENTQ_TOKEN_TTL_SECS", 3_600)?,
            secret_key: Secret::new(secret_key),
            body_limit: usize::try_from(number("AGENTQ_BODY_LIMIT_BYTES", 1024 * 1024)?)
                .map_err(|_| bad("AGENTQ_BODY_LIMIT_BYTES", "too large"))?,
            admin,
            agent_hosts: agentq_domain::hosts::HostPolicy::parse(
                get("AGENTQ_AGENT_HOSTS").as_deref(),
            ),
            trusted_proxies: match get("AGENTQ_TRUSTED_PROXIES") {
                None => Vec::new(),
                Some(list) => crate::client_addr::parse_networks(&list).map_err(|entry| {
                    bad(
                        "AGENTQ_TRUSTED_PROXIES",
                        format!("not an address or network: {entry:?}"),
                    )
                })?,
            },
        })
    }
}

/// A random 32-byte secret kept under `./data/` so that development restarts keep tokens and
/// encrypted credentials valid. Development only.
fn dev_secret(file: &str) -> Result<[u8; 32], SettingsError> {
    let path = Path::new(DATA_DIR).join(file);
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(secret) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Ok(secret);
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).map_err(|e| bad("AGENTQ_ENV", format!("no randomness: {e}")))?;
    std::fs::create_dir_all(DATA_DIR)
        .and_then(|()| write_private(&path, &secret))
        .map_err(|e| {
            bad(
                "AGENTQ_ENV",
                format!("cannot write {}: {e}", path.display()),
            )
        })?;
    Ok(secret)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn refuses_a_missing_or_weak_jwt_secret_outside_development() {
        let err = settings(&[("AGENTQ_SECRET_KEY", KEY)]).expect_err("missing");
        assert_eq!(err.name, "AGENTQ_JWT_SECRET");
        let err = settings(&[("AGENTQ_JWT_SECRET", "short"), ("AGENTQ_SECRET_KEY", KEY)])
            .expect_err("weak");
        assert_eq!(err.name, "AGENTQ_JWT_SECRET");
        let strong = "x".repeat(MIN_JWT_SECRET_BYTES);
        assert!(settings(&[("AGENTQ_JWT_SECRET", &strong), ("AGENTQ_SECRET_KEY", KEY)]).is_ok());
    }

    #[test]
    fn names_the_bad_variable() {
        let strong = "x".repeat(MIN_JWT_SECRET_BYTES);
        let base = [
            ("AGENTQ_JWT_SECRET", strong.as_str()),
            ("AGENTQ_SECRET_KEY", KEY),
        ];
        let with = |extra: (&'static str, &'static str)| {
            let mut vars = base.to_vec();
            vars.push(extra);
            settings(&vars).expect_err("bad").name
        };
        assert_eq!(with(("AGENTQ_API_ADDR", "nowhere")), "AGENTQ_API_ADDR");
        assert_eq!(with(("AGENTQ_ATTEMPTS", "-1")), "AGENTQ_ATTEMPTS");
        assert_eq!(with(("AGENTQ_ATTEMPTS", "0")), "AGENTQ_ATTEMPTS");
        assert_eq!(with(("AGENTQ_SECRET_KEY", "c2hvcnQ=")), "AGENTQ_SECRET_KEY");
        assert_eq!(with(("AGENTQ_ADMIN_EMAIL", "a@b.c")), "AGENTQ_ADMIN_EMAIL");
    }

    #[test]
    fn keeps_secrets_out_of_debug() {
        let secret = "s3cret-s3cret-s3cret-s3cret-s3cret-!";
        let s =
            settings(&[("AGENTQ_JWT_SECRET", secret), ("AGENTQ_SECRET_KEY", KEY)]).expect("valid");
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cret"));
        assert!(shown.contains("[redacted]"));
    }
}
