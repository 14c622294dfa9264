//! SeaORM entities: the rows as the database holds them. They are never request or response
//! types; the repository functions turn them into domain values.

pub mod activity_log;
pub mod agent_jobs;
pub mod agents;
pub mod project_members;
pub mod projects;
pub mod tasks;
pub mod users;
