use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub job_id: String,
    pub queue_name: String,
    pub task_id: i64,
    pub task_code: String,
    pub agent_id: i64,
    pub project_id: i64,
    pub status: String,
    pub progress: i16,
    pub job_data: Json,
    pub job_result: Option<Json>,
    pub priority: i16,
    pub queued_at: DateTime,
    pub started_at: Option<DateTime>,
    pub completed_at: Option<DateTime>,
    pub last_error: Option<String>,
    pub error_stack: Option<String>,
    pub execution_time_ms: Option<i64>,
    pub attempts_made: i16,
    pub max_attempts: i16,
    pub last_event_ms: i64,
    pub last_event_seq: i64,
    /// What the agent spent, summed over its reports; `None` until it reports any.
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cost_micro_usd: Option<i64>,
    pub created_at: DateTime,
    pub updated_at: DateTime,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
