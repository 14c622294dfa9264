//! The worker's settings, from the environment (DESIGN.md §8): the core every binary reads
//! (`agentq_settings::Core`), and the worker's own.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use agentq_settings::{Core, DevSecrets, Env, Secret, SettingsError};

#[derive(Clone)]
pub struct Settings {
    pub core: Core,
    /// `AGENTQ_WORKER_ID`: unique per process; defaults to host and pid.
    pub worker_id: String,
    /// `AGENTQ_SHUTDOWN_GRACE_MS` (30000): how long running jobs may finish after SIGTERM.
    pub shutdown_grace: Duration,
    /// `AGENTQ_SECRET_KEY`: opens what the gateway sealed (MCP credentials, agents' env).
    pub secret_key: Secret<[u8; 32]>,
    /// `AGENTQ_BENCH_SKIP_AGENTS=1`: benchmarks only; jobs complete without running their agent.
    pub skip_agents: bool,
    /// `AGENTQ_WORKER_METRICS_ADDR` (127.0.0.1:9091; `off` for none; port 0 picks one):
    /// `/healthz` and `/metrics`.
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
    fn read(env: &Env<'_>) -> Result<Self, SettingsError> {
        // the store refuses a result over 1 MiB; half of it leaves room for the JSON around it
        let most = (agentq_store::MAX_JOB_DATA_BYTES / 2) as u64;
        let bytes = |name: &str, default: usize| -> Result<usize, SettingsError> {
            let n = env.number_in(name, default as u64, 1024..=most)?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        };
        let extra = env.list("AGENTQ_AGENT_ENV");
        if let Some(secret) = extra.iter().find(|name| is_service_variable(name)) {
            return Err(SettingsError::new(
                "AGENTQ_AGENT_ENV",
                format!("{secret} belongs to the services and is never passed to agents"),
            ));
        }
        let passed_env = AGENT_ENV_ALLOWED
            .iter()
            .map(|name| (*name).to_owned())
            .chain(extra)
            .filter_map(|name| env.get(&name).map(|value| (name, value)))
            .collect();
        let guard = match env.get("AGENTQ_AGENT_GUARD") {
            Some(path) => PathBuf::from(path),
            None => std::env::current_exe().map_err(|err| {
                SettingsError::new(
                    "AGENTQ_AGENT_GUARD",
                    format!("unset, and this executable's path is unknown: {err}"),
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
            work_root: env
                .get("AGENTQ_WORK_DIR")
                .map_or_else(|| std::env::temp_dir().join("agentq-jobs"), PathBuf::from),
            passed_env,
            hosts: agentq_domain::hosts::HostPolicy::parse(
                env.get("AGENTQ_AGENT_HOSTS").as_deref(),
            ),
        })
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("core", &self.core)
            .field("worker_id", &self.worker_id)
            .finish_non_exhaustive()
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::read(&Env::process())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        Self::read(&Env::from_fn(get))
    }

    pub fn read(env: &Env<'_>) -> Result<Self, SettingsError> {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "worker".into());
        let retention_days = match env.get("AGENTQ_RETENTION_DAYS").as_deref() {
            Some("off") => None,
            _ => Some(env.number_in("AGENTQ_RETENTION_DAYS", 30u32, 1..=u32::MAX)?),
        };
        Ok(Self {
            core: Core::read(env)?,
            worker_id: env.text(
                "AGENTQ_WORKER_ID",
                &format!("{host}-{}", std::process::id()),
            ),
            shutdown_grace: env.millis("AGENTQ_SHUTDOWN_GRACE_MS", 30_000, 0)?,
            secret_key: agentq_settings::secret_key(env, DevSecrets::Read)?,
            skip_agents: env.get("AGENTQ_BENCH_SKIP_AGENTS").as_deref() == Some("1"),
            metrics_addr: env.addr_or_off("AGENTQ_WORKER_METRICS_ADDR", "127.0.0.1:9091")?,
            reconcile: crate::reconciler::ReconcileOptions {
                every: env.millis("AGENTQ_RECONCILE_EVERY_MS", 30_000, 100)?,
                grace: env.millis("AGENTQ_RECONCILE_GRACE_MS", 60_000, 0)?,
            },
            retention: crate::retention::RetentionOptions {
                days: retention_days,
                every: env.millis("AGENTQ_RETENTION_EVERY_MS", 3_600_000, 100)?,
            },
            agents: AgentSettings::read(env)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
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
        assert_eq!(settings(&[]).expect("defaults").core.attempts, 3);
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
