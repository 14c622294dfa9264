//! One job, start to end: read the agent, build its input, run it, say how it ended.

use std::collections::BTreeMap;
use std::time::Duration;

use agentq_domain::JobPayload;
use agentq_domain::payload::{AgentInput, AgentRef, McpServer, McpServersFile, TaskRef};
use agentq_domain::request::McpConfig;
use agentq_queue::{LeasedJob, Outcome, Partitions, Queue};
use agentq_secrets::SecretBox;
use agentq_store::{AgentEnv, AgentKind, Db};
use tokio_util::sync::CancellationToken;

use crate::command::{self, CommandSpec, RunningJob};
use crate::settings::AgentSettings;
use crate::workdir::JobDir;

/// What a job needs besides itself.
#[derive(Debug)]
pub struct JobContext {
    pub queue: Partitions,
    pub db: Db,
    pub secrets: SecretBox,
    pub http: crate::http::HttpAgents,
    /// The directory this worker claimed for its jobs' directories.
    pub work_dir: std::path::PathBuf,
    pub agents: AgentSettings,
    /// Benchmarks only (`AGENTQ_BENCH_SKIP_AGENTS=1`): complete every job without running its
    /// agent, to measure the pipeline without process spawns.
    pub skip_agents: bool,
}

/// Runs the job's agent and returns its outcome. Whether a failure is retried is decided here
/// by kind: a job that can never run (its agent is gone, its payload unreadable) fails for good.
pub async fn process_one(ctx: &JobContext, job: LeasedJob, stop: CancellationToken) -> Outcome {
    let payload = match JobPayload::parse(&job.payload) {
        Ok(payload) => payload,
        Err(err) => return Outcome::FailedForGood(format!("unreadable job payload: {err}")),
    };
    let agent_id = payload.agent_id;
    let agent = match agentq_store::agent_by_id(&ctx.db, agent_id).await {
        Ok(Some(agent)) => agent,
        Ok(None) => return Outcome::FailedForGood(format!("agent {agent_id} no longer exists")),
        // the database may be back on the next attempt
        Err(err) => return Outcome::Failed(format!("cannot read agent {agent_id}: {err}")),
    };
    let _slot = match agent.max_concurrency {
        Some(max) => match AgentSlot::acquire(ctx, agent.id, job.id, max, &stop).await {
            Some(slot) => Some(slot),
            // stopped while waiting: the runner reports it as cancelled or given back
            None => return Outcome::Released,
        },
        None => None,
    };
    let attempt = job.attempts_made + 1;
    let mcp_configs = open_mcp_configs(&ctx.secrets, &payload.mcp_configs);
    let mut input = AgentInput {
        job_id: job.id.to_string(),
        attempt,
        task: TaskRef {
            id: payload.task_id,
            code: payload.task_code,
        },
        project_id: payload.project_id,
        agent: AgentRef {
            id: agent.id,
            name: agent.name,
        },
        metadata: payload.metadata,
        context: payload.context,
        mcp_configs: None,
    };
    if ctx.skip_agents {
        return Outcome::Completed(r#"{"skipped":true}"#.to_owned());
    }
    let timeout = Duration::from_secs(agent.timeout_secs.max(1));
    match agent.kind {
        AgentKind::Command(argv) => {
            let dir = match JobDir::create(&ctx.work_dir, &job.id, attempt) {
                Ok(dir) => dir,
                Err(err) => {
                    return Outcome::Failed(format!("cannot make the job's directory: {err}"));
                }
            };
            let mcp_config = serde_json::to_string(&McpServersFile {
                mcp_servers: mcp_configs,
            })
            .unwrap_or_default();
            let mcp_file = match dir.write_private("mcp.json", mcp_config.as_bytes()) {
                Ok(file) => file,
                Err(err) => return Outcome::Failed(format!("cannot write the MCP config: {err}")),
            };
            let job_vars = [
                ("AGENTQ_JOB_ID", job.id.to_string()),
                ("AGENTQ_ATTEMPT", attempt.to_string()),
                ("AGENTQ_TASK_ID", payload.task_id.get().to_string()),
                ("AGENTQ_PROJECT_ID", payload.project_id.get().to_string()),
                ("AGENTQ_MCP_CONFIG", mcp_file.display().to_string()),
                ("AGENTQ_WORK_DIR", dir.path().display().to_string()),
                ("TMPDIR", dir.path().display().to_string()),
            ];
            let Some(own) = open_env(&ctx.secrets, agent.env) else {
                // sealed under another key: a worker with the gateway's key may run it
                return Outcome::Failed(format!(
                    "agent {agent_id}'s env does not open with this worker's AGENTQ_SECRET_KEY"
                ));
            };
            let env = agent_env(&ctx.agents, &own, job_vars);
            let spec = CommandSpec {
                argv,
                env,
                stdin: serde_json::to_string(&input).unwrap_or_default(),
                timeout,
                idle_timeout: agent.idle_timeout_secs.map(Duration::from_secs),
                asks_approval: agent.asks_approval,
                dir: dir.path().to_owned(),
            };
            let running = RunningJob {
                queue: ctx.queue.of_job(&job.id),
                id: job.id,
                token: job.token,
                lease: job.lease.clone(),
                stop,
            };
            // `dir` lives until the run is over, whichever way it ends
            command::run(&ctx.agents, running, spec).await
        }
        AgentKind::Http(url) => {
            // the endpoint is the agent: it gets its MCP servers in the body
            input.mcp_configs = Some(mcp_configs);
            let body = serde_json::to_value(&input).unwrap_or_default();
            crate::http::run(&ctx.http, &url, body, timeout, stop).await
        }
    }
}

/// An agent's whole environment: the allowed part of the worker's, then the agent's own,
/// then the job's variables. Nothing else of the worker's environment (its secrets least of
/// all) reaches the agent.
fn agent_env<'a>(
    agents: &AgentSettings,
    own: &BTreeMap<String, String>,
    job_vars: impl IntoIterator<Item = (&'a str, String)>,
) -> BTreeMap<String, String> {
    let mut env = agents.passed_env.clone();
    env.extend(own.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.extend(job_vars.into_iter().map(|(k, v)| (k.to_owned(), v)));
    env
}

/// An agent's own variables, opened; `None` if their seal does not open with this key.
fn open_env(secrets: &SecretBox, env: AgentEnv) -> Option<BTreeMap<String, String>> {
    match env {
        AgentEnv::Plain(plain) => Some(plain),
        AgentEnv::Sealed(sealed) => serde_json::from_slice(&secrets.open(&sealed)?).ok(),
    }
}

/// How often a job waiting for one of its agent's slots looks again.
const SLOT_POLL: Duration = Duration::from_millis(200);

/// One of an agent's run slots, held while the job runs: renewed in the background for as
/// long as it lives, given back when dropped.
struct AgentSlot {
    queue: Queue,
    agent: agentq_domain::AgentId,
    job: agentq_domain::JobId,
    renewal: tokio::task::JoinHandle<()>,
}

impl AgentSlot {
    /// Waits for a slot; `None` if `stop` fires first.
    async fn acquire(
        ctx: &JobContext,
        agent: agentq_domain::AgentId,
        job: agentq_domain::JobId,
        max: u32,
        stop: &CancellationToken,
    ) -> Option<Self> {
        let ttl = ctx.queue.config().lease;
        // the slots are global to the queue: they live in its home partition
        let queue = ctx.queue.home().clone();
        loop {
            match queue.acquire_slot(agent, &job, max, ttl).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(err) => tracing::warn!(%job, error = %err, "cannot take an agent slot"),
            }
            tokio::select! {
                () = tokio::time::sleep(SLOT_POLL) => {}
                () = stop.cancelled() => return None,
            }
        }
        let renewing = queue.clone();
        let renewal = tokio::spawn(async move {
            let mut tick = tokio::time::interval(ttl / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(err) = renewing.acquire_slot(agent, &job, max, ttl).await {
                    tracing::warn!(%job, error = %err, "cannot renew the agent slot");
                }
            }
        });
        Some(Self {
            queue,
            agent,
            job,
            renewal,
        })
    }
}

impl Drop for AgentSlot {
    fn drop(&mut self) {
        self.renewal.abort();
        let (queue, agent, job) = (self.queue.clone(), self.agent, self.job);
        tokio::spawn(async move {
            if let Err(err) = queue.release_slot(agent, &job).await {
                tracing::warn!(%job, error = %err, "cannot give the agent slot back; it expires");
            }
        });
    }
}

/// The MCP configs with their credentials opened, for the agent only (`authCredentials` in
/// place of the sealed form; a seal that does not open leaves them out).
fn open_mcp_configs(secrets: &SecretBox, configs: &[McpServer]) -> Vec<McpConfig> {
    configs
        .iter()
        .map(|config| {
            let opened = config
                .auth_credentials_sealed
                .as_ref()
                .and_then(|sealed| secrets.open(&sealed.0))
                .and_then(|plain| serde_json::from_slice(&plain).ok());
            // the request's own shape, credentials opened: what the member sent
            McpConfig {
                server_name: config.server_name.clone(),
                server_url: config.server_url.clone(),
                auth_type: config.auth_type,
                auth_credentials: opened,
                enabled: config.enabled,
            }
        })
        .collect()
}
