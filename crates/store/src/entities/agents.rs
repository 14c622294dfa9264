use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agents")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub name: String,
    /// `command` or `http`.
    pub kind: String,
    /// argv, a JSON array of strings.
    pub command: Option<Json>,
    pub endpoint_url: Option<String>,
    pub timeout_secs: i64,
    pub max_concurrency: Option<i32>,
    /// The agent's own variables: a sealed JSON string (`AgentEnv::Sealed`), or the plain
    /// JSON object of strings that agents made before sealing have.
    pub env: Option<Json>,
    /// Seconds an agent may print nothing before it is stopped; `None` for no limit.
    pub idle_timeout_secs: Option<i64>,
    /// Its jobs wait for a project member's approval before they run.
    pub requires_approval: Option<bool>,
    /// It may ask for approval mid-run: its stdin stays open for the answers.
    pub asks_approval: Option<bool>,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
