use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "projects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub name: String,
    pub created_at: DateTime,
    /// What the project's jobs may spend in one UTC day, in micro-dollars; `None`: no limit.
    pub budget_micro_usd_per_day: Option<i64>,
    /// Its fair-share weight; `None`: 1.
    pub fair_share_weight: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
