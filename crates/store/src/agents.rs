//! Agents: what a job runs, a command (argv, no shell) or an HTTP endpoint.

use std::collections::BTreeMap;

use agentq_domain::AgentId;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::entities::agents;
use crate::shapes::padded_to_power_of_two;
use crate::{MAX_PAGE, Result, StoreError, now};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentKind {
    Command(Vec<String>),
    Http(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    pub id: AgentId,
    pub name: String,
    pub kind: AgentKind,
    pub timeout_secs: u64,
    /// Across all workers together; `None` for no limit.
    pub max_concurrency: Option<u32>,
    /// Seconds a command agent may write nothing before it is stopped; `None`: no limit.
    pub idle_timeout_secs: Option<u64>,
    /// Its jobs wait for a project member's approval before they run.
    pub requires_approval: bool,
    /// A command agent that may ask for approval mid-run (its stdin stays open for answers).
    pub asks_approval: bool,
    pub env: AgentEnv,
}

/// An agent's own environment variables as stored. The gateway seals them (they are where an
/// agent's secrets go) and only the worker that runs the agent opens them; agents stored before
/// that have them as the plain JSON object they were written as. The column tells them apart:
/// a sealed environment is a JSON string, a plain one an object.
#[derive(Clone, PartialEq, Eq)]
pub enum AgentEnv {
    /// `SecretBox::seal` of the variables as a JSON object.
    Sealed(String),
    Plain(BTreeMap<String, String>),
}

/// Names only, so that no log or error message ever holds a value.
impl std::fmt::Debug for AgentEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sealed(_) => f.write_str("Sealed(..)"),
            Self::Plain(plain) => f.debug_tuple("Plain").field(&plain.keys()).finish(),
        }
    }
}

impl Default for AgentEnv {
    fn default() -> Self {
        Self::Plain(BTreeMap::new())
    }
}

impl AgentEnv {
    fn from_column(column: Option<serde_json::Value>) -> Option<Self> {
        match column {
            None | Some(serde_json::Value::Null) => Some(Self::default()),
            Some(serde_json::Value::String(sealed)) => Some(Self::Sealed(sealed)),
            Some(plain) => serde_json::from_value(plain).ok().map(Self::Plain),
        }
    }

    fn to_column(&self) -> serde_json::Value {
        match self {
            Self::Sealed(sealed) => serde_json::Value::String(sealed.clone()),
            Self::Plain(plain) => serde_json::json!(plain),
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewAgent {
    pub name: String,
    pub kind: AgentKind,
    pub timeout_secs: u64,
    pub max_concurrency: Option<u32>,
    pub idle_timeout_secs: Option<u64>,
    pub requires_approval: bool,
    pub asks_approval: bool,
    pub env: AgentEnv,
}

impl TryFrom<agents::Model> for Agent {
    type Error = StoreError;

    fn try_from(row: agents::Model) -> Result<Self> {
        let bad = |what: &str| StoreError::InvalidData(format!("agent {}: {what}", row.id));
        let kind = match row.kind.as_str() {
            "command" => AgentKind::Command(
                row.command
                    .clone()
                    .and_then(|c| serde_json::from_value(c).ok())
                    .ok_or_else(|| bad("command"))?,
            ),
            "http" => AgentKind::Http(row.endpoint_url.clone().ok_or_else(|| bad("endpoint"))?),
            _ => return Err(bad("kind")),
        };
        Ok(Self {
            id: AgentId::try_from(row.id).map_err(|_| bad("id"))?,
            kind,
            timeout_secs: u64::try_from(row.timeout_secs).unwrap_or(0),
            max_concurrency: row.max_concurrency.and_then(|m| u32::try_from(m).ok()),
            idle_timeout_secs: row.idle_timeout_secs.and_then(|s| u64::try_from(s).ok()),
            requires_approval: row.requires_approval.unwrap_or(false),
            asks_approval: row.asks_approval.unwrap_or(false),
            env: AgentEnv::from_column(row.env.clone()).ok_or_else(|| bad("env"))?,
            name: row.name,
        })
    }
}

pub async fn create_agent(db: &impl ConnectionTrait, new: NewAgent) -> Result<Agent> {
    let at = now();
    let (kind, command, endpoint) = match new.kind {
        AgentKind::Command(argv) => ("command", Some(serde_json::json!(argv)), None),
        AgentKind::Http(url) => ("http", None, Some(url)),
    };
    agents::ActiveModel {
        name: Set(new.name),
        kind: Set(kind.to_owned()),
        command: Set(command),
        endpoint_url: Set(endpoint),
        timeout_secs: Set(i64::try_from(new.timeout_secs).unwrap_or(i64::MAX)),
        max_concurrency: Set(new.max_concurrency.and_then(|m| i32::try_from(m).ok())),
        idle_timeout_secs: Set(new.idle_timeout_secs.and_then(|s| i64::try_from(s).ok())),
        requires_approval: Set(Some(new.requires_approval)),
        asks_approval: Set(Some(new.asks_approval)),
        env: Set(Some(new.env.to_column())),
        created_at: Set(at),
        updated_at: Set(at),
        ..Default::default()
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::from(e).naming("agent with this name"))?
    .try_into()
}

/// What `update_agent` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct AgentChanges {
    pub timeout_secs: Option<u64>,
    /// `Some(None)` removes the limit.
    pub max_concurrency: Option<Option<u32>>,
    pub requires_approval: Option<bool>,
    pub env: Option<AgentEnv>,
}

/// Applies `changes` to agent `id`; the agent as it is now, `None` if there is none. The
/// worker reads its agent at every attempt, so changes apply from the next attempt on.
pub async fn update_agent(
    db: &impl ConnectionTrait,
    id: AgentId,
    changes: AgentChanges,
) -> Result<Option<Agent>> {
    let Some(row) = agents::Entity::find_by_id(id.get()).one(db).await? else {
        return Ok(None);
    };
    let mut row: agents::ActiveModel = row.into();
    if let Some(timeout) = changes.timeout_secs {
        row.timeout_secs = Set(i64::try_from(timeout).unwrap_or(i64::MAX));
    }
    if let Some(max) = changes.max_concurrency {
        row.max_concurrency = Set(max.and_then(|m| i32::try_from(m).ok()));
    }
    if let Some(requires) = changes.requires_approval {
        row.requires_approval = Set(Some(requires));
    }
    if let Some(env) = changes.env {
        row.env = Set(Some(env.to_column()));
    }
    row.updated_at = Set(now());
    row.update(db).await?.try_into().map(Some)
}

pub async fn agent_by_id(db: &impl ConnectionTrait, id: AgentId) -> Result<Option<Agent>> {
    agents::Entity::find_by_id(id.get())
        .one(db)
        .await?
        .map(Agent::try_from)
        .transpose()
}

/// The agents with these ids, read with one query.
pub async fn agents_by_ids(
    db: &impl ConnectionTrait,
    ids: &[AgentId],
) -> Result<std::collections::HashMap<AgentId, Agent>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    agents::Entity::find()
        .filter(agents::Column::Id.is_in(padded_to_power_of_two(
            ids.iter().map(|id| id.get()).collect(),
        )))
        .all(db)
        .await?
        .into_iter()
        .map(|row| Agent::try_from(row).map(|agent| (agent.id, agent)))
        .collect()
}

/// Agents by id, at most [`MAX_PAGE`].
pub async fn list_agents(db: &impl ConnectionTrait) -> Result<Vec<Agent>> {
    agents::Entity::find()
        .order_by_asc(agents::Column::Id)
        .limit(MAX_PAGE)
        .all(db)
        .await?
        .into_iter()
        .map(Agent::try_from)
        .collect()
}
