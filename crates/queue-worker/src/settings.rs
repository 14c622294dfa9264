//! The worker's settings, from the environment (DESIGN.md §8).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

#[derive(Clone)]
pub struct Settings {
    pub redis_url: String,
    pub database_url: String,
    pub queue: String,
    /// `AGENTQ_WORKER_ID`: unique per process; defaults to host and pid.
    pub worker_id: String,
    pub concurrency: usize,
    pub lease: Duration,
    pub attempts: u32,
    pub backoff_base: Duration,
    /// `AGENTQ_SHUTDOWN_GRACE_MS` (30000): how long running jobs may finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// `AGENTQ_SECRET_KEY`: opens the MCP credentials sealed by the gateway.
    pub secret_key: [u8; 32],
    /// `AGENTQ_BENCH_SKIP_AGENTS=1`: benchmarks only; jobs complete without running their agent.
    pub skip_agents: bool,
    /// `AGENTQ_WORKER_METRICS_ADDR` (127.0.0.1:9091; `off` for none): `/healthz` and `/metrics`.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `AGENTQ_RECONCILE_EVERY_MS` (30000) and `AGENTQ_RECONCILE_GRACE_MS` (60000).
    pub reconcile: crate::reconciler::ReconcileOptions,
    /// `AGENTQ_RETENTION_DAYS` (30; `off` keeps every row) and `AGENTQ_RETENTION_EVERY_MS`
    /// (3600000): finished jobs older than that leave SQL.
    pub retention: crate::retention::RetentionOptions,
    /// How agents are run and what they may produce.
    pub agents: AgentSettings,
}

/// Variables an agent gets from the worker's environment, when set there. Nothing else of
/// the worker's environment reaches an agent (its secrets least of all).
pub const AGENT_ENV_ALLOWED: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "LC_MESSAGES",
    "TZ",
    "TERM",
];

/// How agents are run and bounded.
#[derive(Clone)]
pub struct AgentSettings {
    /// `AGENTQ_AGENT_GUARD` (this executable): the program run as `<it> agent-guard -- argv`.
    pub guard: PathBuf,
    /// `AGENTQ_MAX_RESULT_BYTES` (262144): a larger result is replaced by a marked stand-in.
    pub max_result_bytes: usize,
    /// `AGENTQ_OUTPUT_TAIL_BYTES` (65536): how much of the output is kept to stand for the
    /// result of an agent that writes no `result` line.
    pub output_tail_bytes: usize,
    /// `AGENTQ_WORK_DIR` (`$TMPDIR/agentq-jobs`): each job runs in a private directory below.
    pub work_root: PathBuf,
    /// `AGENTQ_AGENT_HOSTS`: which hosts http agents may be called at (see
    /// `agentq_domain::hosts`).
    pub hosts: agentq_domain::hosts::HostPolicy,
    /// The allowed variables' values ([`AGENT_ENV_ALLOWED`], plus the names listed in
    /// `AGENTQ_AGENT_ENV`), as the worker found them at start.
    pub passed_env: BTreeMap<String, String>,
}

impl std::fmt::Debug for AgentSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the passed values are the operator's choice, but still no business of a log
        f.debug_struct("AgentSettings")
            .field("guard", &self.guard)
            .field("max_result_bytes", &self.max_result_bytes)
            .field("output_tail_bytes", &self.output_tail_bytes)
            .field("work_root", &self.work_root)
            .field("hosts", &self.hosts)
            .field("passed_env", &self.passed_env.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Names no agent may be handed, whatever `AGENTQ_AGENT_ENV` says: the services' secrets.
fn is_service_variable(name: &str) -> bool {
    name.starts_with("AGENTQ_") || name == "DATABASE_URL" || name == "REDIS_URL"
}

impl AgentSettings {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        // the store refuses a result over 1 MiB; half of it leaves room for the JSON around it
        let most = agentq_store::MAX_JOB_DATA_BYTES / 2;
        let bytes = |name: &str, default: usize| -> anyhow::Result<usize> {
            match get(name) {
                None => Ok(default),
                Some(v) => v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1024..=most).contains(n))
                    .ok_or_else(|| anyhow::anyhow!("{name}: expected bytes from 1024 to {most}")),
            }
        };
        let extra: Vec<String> = get("AGENTQ_AGENT_ENV")
            .map(|list| {
                list.split(',')
                    .map(|n| n.trim().to_owned())
                    .filter(|n| !n.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if let Some(secret) = extra.iter().find(|name| is_service_variable(name)) {
            anyhow::bail!(
                "AGENTQ_AGENT_ENV: {secret} belongs to the services and is never passed to agents"
            );
        }
        let passed_env = AGENT_ENV_ALLOWED
            .iter()
            .map(|name| (*name).to_owned())
            .chain(extra)
            .filter_map(|name| get(&name).map(|value| (name, value)))
            .collect();
        let guard = match get("AGENTQ_AGENT_GUARD") {
            Some(path) => PathBuf::from(path),
            None => std::env::current_exe().map_err(|err| {
                anyhow::anyhow!(
                    "AGENTQ_AGENT_GUARD: unset, and this executable's path is unknown: {err}"
                )
            })?,
        };
        Ok(Self {
            guard,
            max_result_bytes: bytes(
                "AGENTQ_MAX_RESULT_BYTES",
                agentq_domain::bounded::DEFAULT_MAX_RESULT_BYTES,
            )?,
            output_tail_bytes: bytes("AGENTQ_OUTPUT_TAIL_BYTES", 64 * 1024)?,
            work_root: get("AGENTQ_WORK_DIR")
                .map_or_else(|| std::env::temp_dir().join("agentq-jobs"), PathBuf::from),
            passed_env,
            hosts: agentq_domain::hosts::HostPolicy::parse(get("AGENTQ_AGENT_HOSTS").as_deref()),
        })
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("queue", &self.queue)
            .field("worker_id", &self.worker_id)
            .field("concurrency", &self.concurrency)
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
        let secret_key = match get("AGENTQ_SECRET_KEY") {
            Some(encoded) => BASE64
                .decode(encoded.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| anyhow::anyhow!("AGENTQ_SECRET_KEY: expected 32 bytes in base64"))?,
            None if development => std::fs::read("./data/secret.key")
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "AGENTQ_SECRET_KEY: missing, and no ./data/secret.key from the gateway"
                    )
                })?,
            None => anyhow::bail!("AGENTQ_SECRET_KEY: missing (required outside development)"),
        };
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "worker".into());
        Ok(Self {
            redis_url: get("REDIS_URL").unwrap_or_else(|| "redis://127.0.0.1:6379".into()),
            database_url: get("DATABASE_URL")
                .unwrap_or_else(|| "sqlite://./data/agentq.db?mode=rwc".into()),
            queue: get("AGENTQ_QUEUE").unwrap_or_else(|| "agent-execution".into()),
            worker_id: get("AGENTQ_WORKER_ID")
                .unwrap_or_else(|| format!("{host}-{}", std::process::id())),
            concurrency: usize::try_from(number("AGENTQ_CONCURRENCY", 5)?.max(1))?,
            lease: Duration::from_millis(number("AGENTQ_LOCK_DURATION_MS", 30_000)?.max(100)),
            // the gateway's rule, so that both read the same value the same way
            attempts: u32::try_from(number("AGENTQ_ATTEMPTS", 3)?)
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| anyhow::anyhow!("AGENTQ_ATTEMPTS: expected 1 to 1000"))?,
            backoff_base: Duration::from_millis(number("AGENTQ_BACKOFF_BASE_MS", 5_000)?),
            shutdown_grace: Duration::from_millis(number("AGENTQ_SHUTDOWN_GRACE_MS", 30_000)?),
            secret_key,
            skip_agents: get("AGENTQ_BENCH_SKIP_AGENTS").as_deref() == Some("1"),
            metrics_addr: match get("AGENTQ_WORKER_METRICS_ADDR").as_deref() {
                Some("off") => None,
                Some(addr) => Some(addr.parse().map_err(|_| {
                    anyhow::anyhow!("AGENTQ_WORKER_METRICS_ADDR: expected host:port or off")
                })?),
                None => Some(std::net::SocketAddr::from(([127, 0, 0, 1], 9091))),
            },
            reconcile: crate::reconciler::ReconcileOptions {
                every: Duration::from_millis(number("AGENTQ_RECONCILE_EVERY_MS", 30_000)?.max(100)),
                grace: Duration::from_millis(number("AGENTQ_RECONCILE_GRACE_MS", 60_000)?),
            },
            retention: crate::retention::RetentionOptions {
                days: match get("AGENTQ_RETENTION_DAYS").as_deref() {
                    Some("off") => None,
                    Some(days) => {
                        Some(days.parse::<u32>().ok().filter(|d| *d > 0).ok_or_else(|| {
                            anyhow::anyhow!(
                                "AGENTQ_RETENTION_DAYS: expected whole days ≥ 1, or off"
                            )
                        })?)
                    }
                    None => Some(30),
                },
                every: Duration::from_millis(
                    number("AGENTQ_RETENTION_EVERY_MS", 3_600_000)?.max(100),
                ),
            },
            agents: AgentSettings::from_lookup(&get)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let mut all: std::collections::HashMap<String, String> = [
            (
                "AGENTQ_SECRET_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
            ("AGENTQ_AGENT_GUARD", "/bin/true"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        all.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Settings::from_lookup(|name| all.get(name).cloned())
    }

    #[test]
    fn zero_attempts_is_refused_by_name_as_the_gateway_does() {
        let err = settings(&[("AGENTQ_ATTEMPTS", "0")]).expect_err("refused");
        assert!(err.to_string().starts_with("AGENTQ_ATTEMPTS"), "{err}");
        assert_eq!(settings(&[]).expect("defaults").attempts, 3);
    }

    #[test]
    fn agents_get_the_allow_list_and_never_a_service_variable() {
        let agents = settings(&[
            ("PATH", "/usr/bin"),
            ("DATABASE_URL", "mysql://secret"),
            ("AGENTQ_JWT_SECRET", "secret"),
            ("LANG", "C.UTF-8"),
            ("EXTRA_TOOL_HOME", "/opt/tool"),
            ("AGENTQ_AGENT_ENV", "EXTRA_TOOL_HOME"),
        ])
        .expect("settings")
        .agents;
        let names: Vec<&str> = agents.passed_env.keys().map(String::as_str).collect();
        assert_eq!(names, ["EXTRA_TOOL_HOME", "LANG", "PATH"]);
        for secret in ["DATABASE_URL", "REDIS_URL", "AGENTQ_SECRET_KEY"] {
            let err = settings(&[("AGENTQ_AGENT_ENV", secret)]).expect_err("refused");
            assert!(err.to_string().contains("AGENTQ_AGENT_ENV"), "{err}");
        }
    }
}
