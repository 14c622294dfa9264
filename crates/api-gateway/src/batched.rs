//! The database work of the hot routes, shared by concurrent requests. Submitting a job reads
//! its task and agent and writes its row; reading a job reads its row. Each is a round trip
//! (several, for a write: begin, two inserts, commit) that costs the database and this
//! process about as much for one row as for fifty, so requests that arrive while one is under
//! way go together in the next (see [`agentq_coalesce`]). An idle server still makes every
//! call at once, alone.

use std::collections::HashMap;
use std::sync::Arc;

use agentq_coalesce::Coalescer;
use agentq_domain::{AgentId, JobId, TaskId};
use agentq_store::{Agent, Db, JobRecord, NewJobRecord, Scope, StoreError, Task};
use chrono::NaiveDateTime;

use crate::error::ApiError;

/// Rows one shared statement carries at most.
const MAX_BATCH: usize = 64;
/// Shared statements under way at once, per kind.
const IN_FLIGHT: usize = 2;

/// A read failed for every request that shared it.
type Shared<T> = Result<T, Arc<StoreError>>;
/// What submitting a job needs: its task and agent, each if it exists.
type Targets = (Option<Task>, Option<Agent>);

#[derive(Debug, Clone)]
pub struct Batched {
    targets: Coalescer<(TaskId, AgentId), Shared<Targets>>,
    inserts: Coalescer<NewJobRecord, Result<NaiveDateTime, StoreError>>,
    jobs: Coalescer<JobId, Shared<Option<JobRecord>>>,
}

impl Batched {
    /// Needs a Tokio runtime: each kind has a task that gathers waiting requests.
    pub fn new(db: &Db) -> Self {
        let targets = {
            let db = db.clone();
            Coalescer::spawn(MAX_BATCH, IN_FLIGHT, move |wanted| {
                let db = db.clone();
                async move { read_targets(&db, wanted).await }
            })
        };
        let inserts = {
            let db = db.clone();
            // SQLite has one writer: a second batch would only sleep in SQLite's busy handler,
            // which put the POST p99 at 110-240 ms against 25 ms with one (BENCHMARKS.md)
            let writers = if agentq_store::has_single_writer(&db) {
                1
            } else {
                IN_FLIGHT
            };
            Coalescer::spawn(MAX_BATCH, writers, move |jobs: Vec<NewJobRecord>| {
                let db = db.clone();
                async move { agentq_store::insert_jobs_each(&db, &jobs).await }
            })
        };
        let jobs = {
            let db = db.clone();
            Coalescer::spawn(MAX_BATCH, IN_FLIGHT, move |ids: Vec<JobId>| {
                let db = db.clone();
                async move {
                    match agentq_store::jobs_by_job_ids(&db, &Scope::All, &ids).await {
                        Ok(rows) => rows.into_iter().map(Ok).collect(),
                        Err(err) => shared_failure(err, ids.len()),
                    }
                }
            })
        };
        Self {
            targets,
            inserts,
            jobs,
        }
    }

    /// The task, if it exists and `scope` allows its project, and the agent, if it exists.
    pub async fn task_and_agent(
        &self,
        scope: &Scope,
        task: TaskId,
        agent: AgentId,
    ) -> Result<Targets, ApiError> {
        let (task, agent) = self
            .targets
            .call((task, agent))
            .await
            .map_err(database_error)?
            .map_err(database_error)?;
        Ok((task.filter(|t| scope.allows(t.project)), agent))
    }

    /// Writes the job's row and activity entry; returns when it was queued.
    pub async fn insert_job(&self, job: NewJobRecord) -> Result<NaiveDateTime, ApiError> {
        let failed =
            |cause: &dyn std::fmt::Display| ApiError::internal("Failed to queue job", cause);
        self.inserts
            .call(job)
            .await
            .map_err(|lost| failed(&lost))?
            .map_err(|err| failed(&err))
    }

    /// The job, if it exists and `scope` allows its project.
    pub async fn job(&self, scope: &Scope, id: JobId) -> Result<Option<JobRecord>, ApiError> {
        let job = self
            .jobs
            .call(id)
            .await
            .map_err(database_error)?
            .map_err(database_error)?;
        Ok(job.filter(|j| scope.allows(j.project)))
    }
}

async fn read_targets(db: &Db, wanted: Vec<(TaskId, AgentId)>) -> Vec<Shared<Targets>> {
    let task_ids: Vec<TaskId> = wanted.iter().map(|(task, _)| *task).collect();
    let agent_ids: Vec<AgentId> = wanted.iter().map(|(_, agent)| *agent).collect();
    let found: Result<(HashMap<_, _>, HashMap<_, _>), StoreError> = async {
        Ok((
            agentq_store::tasks_by_ids(db, &task_ids).await?,
            agentq_store::agents_by_ids(db, &agent_ids).await?,
        ))
    }
    .await;
    match found {
        Ok((tasks, agents)) => wanted
            .iter()
            .map(|(task, agent)| Ok((tasks.get(task).cloned(), agents.get(agent).cloned())))
            .collect(),
        Err(err) => shared_failure(err, wanted.len()),
    }
}

fn shared_failure<T>(err: StoreError, n: usize) -> Vec<Shared<T>> {
    let err = Arc::new(err);
    (0..n).map(|_| Err(err.clone())).collect()
}

fn database_error(err: impl std::fmt::Display) -> ApiError {
    ApiError::internal("Database error", err)
}
