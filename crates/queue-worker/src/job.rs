//! One job, start to end: read the agent, build its input, run it, say how it ended.

use std::collections::BTreeMap;
use std::time::Duration;

use agentq_queue::{LeasedJob, Outcome, Queue};
use agentq_secrets::SecretBox;
use agentq_store::{AgentKind, Db};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::command::{self, CommandSpec};

/// What a job needs besides itself.
#[derive(Debug)]
pub struct JobContext {
    pub queue: Queue,
    pub db: Db,
    pub secrets: SecretBox,
    pub http: reqwest::Client,
    /// Benchmarks only (`AGENTQ_BENCH_SKIP_AGENTS=1`): complete every job without running its
    /// agent, to measure the pipeline without process spawns.
    pub skip_agents: bool,
}

/// Runs the job's agent and returns its outcome. Whether a failure is retried is decided here
/// by kind: a job that can never run (its agent is gone, its payload unreadable) fails for good.
pub async fn process_one(ctx: &JobContext, job: LeasedJob, stop: CancellationToken) -> Outcome {
    let payload: Value = match serde_json::from_str(&job.payload) {
        Ok(payload) => payload,
        Err(err) => return Outcome::FailedForGood(format!("unreadable job payload: {err}")),
    };
    let Some(agent_id) = payload["agentId"]
        .as_i64()
        .and_then(|id| agentq_domain::AgentId::try_from(id).ok())
    else {
        return Outcome::FailedForGood("the job names no agent".into());
    };
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
    let mcp_configs = open_mcp_configs(&ctx.secrets, &payload["mcpConfigs"]);
    let input = json!({
        "jobId": job.id.to_string(),
        "attempt": attempt,
        "task": {"id": payload["taskId"], "code": payload["taskCode"]},
        "projectId": payload["projectId"],
        "agent": {"id": agent.id.get(), "name": agent.name},
        "metadata": payload["metadata"],
        "context": payload["context"],
    });
    if ctx.skip_agents {
        return Outcome::Completed(json!({"skipped": true}).to_string());
    }
    let timeout = Duration::from_secs(agent.timeout_secs.max(1));
    match agent.kind {
        AgentKind::Command(argv) => {
            let mcp_file = match write_mcp_file(&job.id, &mcp_configs) {
                Ok(file) => file,
                Err(err) => return Outcome::Failed(format!("cannot write the MCP config: {err}")),
            };
            let mut env: BTreeMap<String, String> = agent.env.clone();
            env.insert("AGENTQ_JOB_ID".into(), job.id.to_string());
            env.insert("AGENTQ_ATTEMPT".into(), attempt.to_string());
            env.insert("AGENTQ_TASK_ID".into(), payload["taskId"].to_string());
            env.insert("AGENTQ_PROJECT_ID".into(), payload["projectId"].to_string());
            env.insert("AGENTQ_MCP_CONFIG".into(), mcp_file.display().to_string());
            let spec = CommandSpec {
                argv,
                env,
                stdin: input.to_string().into_bytes(),
                timeout,
            };
            let outcome = command::run(&ctx.queue, job.id, job.token, spec, stop).await;
            let _ = std::fs::remove_file(&mcp_file);
            outcome
        }
        AgentKind::Http(url) => {
            // the endpoint is the agent: it gets its MCP servers in the body
            let mut body = input;
            body["mcpConfigs"] = Value::Array(mcp_configs);
            crate::http::run(&ctx.http, &url, body, timeout, stop).await
        }
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
        loop {
            match ctx.queue.acquire_slot(agent, &job, max, ttl).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(err) => tracing::warn!(%job, error = %err, "cannot take an agent slot"),
            }
            tokio::select! {
                () = tokio::time::sleep(SLOT_POLL) => {}
                () = stop.cancelled() => return None,
            }
        }
        let queue = ctx.queue.clone();
        let renewal = tokio::spawn(async move {
            let mut tick = tokio::time::interval(ttl / 3);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(err) = queue.acquire_slot(agent, &job, max, ttl).await {
                    tracing::warn!(%job, error = %err, "cannot renew the agent slot");
                }
            }
        });
        Some(Self {
            queue: ctx.queue.clone(),
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

/// The MCP configs with their credentials opened, for the agent only.
fn open_mcp_configs(secrets: &SecretBox, configs: &Value) -> Vec<Value> {
    let Some(configs) = configs.as_array() else {
        return Vec::new();
    };
    configs
        .iter()
        .map(|config| {
            let mut config = config.clone();
            if let Some(sealed) = config
                .get("authCredentialsSealed")
                .and_then(Value::as_str)
                .map(str::to_owned)
            {
                let opened = secrets
                    .open(&sealed)
                    .and_then(|plain| serde_json::from_slice::<Value>(&plain).ok());
                if let Some(object) = config.as_object_mut() {
                    object.remove("authCredentialsSealed");
                    if let Some(credentials) = opened {
                        object.insert("authCredentials".into(), credentials);
                    }
                }
            }
            config
        })
        .collect()
}

/// Writes the MCP configs to a file only the worker's user can read; the caller deletes it.
fn write_mcp_file(
    job: &agentq_domain::JobId,
    configs: &[Value],
) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = std::env::temp_dir().join(format!("agentq-mcp-{job}.json"));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    file.write_all(json!({"mcpServers": configs}).to_string().as_bytes())?;
    Ok(path)
}
