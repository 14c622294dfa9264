//! Project budgets at submission: a project whose jobs spent its daily budget (summed over the
//! jobs it queued since the start of the UTC day) gets 429 for new jobs; running jobs finish.
//! The same read gives the project's fair-share weight, which its jobs take to the queue.
//!
//! A submission must not cost a SUM query: what a project may and did spend is kept here for
//! a second, so a burst of submissions reads it once. A job's cost reaches SQL through the
//! recorder anyway, so a second of staleness adds little to how late a spent budget is seen.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use agentq_domain::ProjectId;
use agentq_domain::usage::micros_to_usd;
use agentq_store::{Db, Scope};
use chrono::NaiveDateTime;

use crate::error::ApiError;

/// How long a project's budget and spend are trusted before they are read again.
const FRESH_FOR: Duration = Duration::from_secs(1);
/// Projects remembered at most; past it the memory starts over (a read each, once).
const MAX_PROJECTS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Known {
    read_at: Instant,
    budget_micro_usd: Option<u64>,
    spent_micro_usd: u64,
    weight: u32,
}

#[derive(Debug)]
pub struct Budgets {
    db: Db,
    known: Mutex<HashMap<ProjectId, Known>>,
}

impl Budgets {
    pub fn new(db: &Db) -> Self {
        Self {
            db: db.clone(),
            known: Mutex::default(),
        }
    }

    /// Its fair-share weight when `project` may queue another job; 429 once its budget for
    /// today is spent.
    pub async fn admit(&self, project: ProjectId) -> Result<u32, ApiError> {
        let known = match self.remembered(project) {
            Some(known) => known,
            None => self.read(project).await?,
        };
        match known.budget_micro_usd {
            Some(budget) if known.spent_micro_usd >= budget => Err(ApiError::BudgetSpent {
                project: project.get(),
                cost_usd_per_day: micros_to_usd(budget),
                spent_usd: micros_to_usd(known.spent_micro_usd),
            }),
            _ => Ok(known.weight),
        }
    }

    /// Forgets what was read of `project` (its budget or weight just changed).
    pub fn forget(&self, project: ProjectId) {
        if let Ok(mut known) = self.known.lock() {
            known.remove(&project);
        }
    }

    fn remembered(&self, project: ProjectId) -> Option<Known> {
        let known = self.known.lock().ok()?.get(&project).copied()?;
        (known.read_at.elapsed() < FRESH_FOR).then_some(known)
    }

    async fn read(&self, project: ProjectId) -> Result<Known, ApiError> {
        let row = agentq_store::project_by_id(&self.db, &Scope::All, project).await?;
        let budget = row.as_ref().and_then(|p| p.budget_micro_usd_per_day);
        let weight = row.map_or(1, |p| p.weight);
        // without a budget there is nothing to sum
        let spent = match budget {
            Some(_) => {
                agentq_store::project_usage_since(&self.db, project, start_of_utc_day())
                    .await?
                    .cost_micro_usd
            }
            None => 0,
        };
        let known = Known {
            read_at: Instant::now(),
            budget_micro_usd: budget,
            spent_micro_usd: spent,
            weight,
        };
        if let Ok(mut remembered) = self.known.lock() {
            if remembered.len() >= MAX_PROJECTS {
                remembered.clear();
            }
            remembered.insert(project, known);
        }
        Ok(known)
    }
}

/// Midnight UTC today: a budget's day.
pub fn start_of_utc_day() -> NaiveDateTime {
    chrono::Utc::now()
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
}
