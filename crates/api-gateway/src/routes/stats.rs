//! `GET /api/agent-execution/stats`: the caller's jobs per queue and state, and jobs ended per
//! minute over the last hour (the dashboard's overview).

use actix_web::web;
use agentq_api_types::stats::{JobStats, MinuteStat, StateCount};
use agentq_api_types::{Answer, ErrorBody};
use agentq_domain::JobState;

use crate::auth::Caller;
use crate::extract::{Reply, ok};
use crate::state::AppState;
use crate::time::iso;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::routes::resource("/api/agent-execution/stats", "GET").route(web::get().to(stats)),
    );
}

const WINDOW_MINUTES: i64 = 60;

#[utoipa::path(
    get, path = "/api/agent-execution/stats", tag = "jobs",
    responses(
        (status = 200, description = "Jobs per queue and state, and jobs ended per minute over the last hour", body = Answer<JobStats>),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn stats(caller: Caller, state: web::Data<AppState>) -> Reply<JobStats> {
    let now = agentq_store::now();
    let current = now.and_utc().timestamp().div_euclid(60);
    let first = current - (WINDOW_MINUTES - 1);
    let since = chrono::DateTime::from_timestamp(first * 60, 0)
        .unwrap_or_default()
        .naive_utc();
    let counts = agentq_store::state_counts(&state.db, &caller.scope).await?;
    let ended = agentq_store::finished_per_minute(&state.db, &caller.scope, since).await?;
    let mut minutes: Vec<MinuteStat> = (first..=current)
        .map(|minute| MinuteStat {
            minute: iso(chrono::DateTime::from_timestamp(minute * 60, 0)
                .unwrap_or_default()
                .naive_utc()),
            completed: 0,
            failed: 0,
        })
        .collect();
    for count in ended {
        let Some(slot) = usize::try_from(count.minute - first)
            .ok()
            .and_then(|i| minutes.get_mut(i))
        else {
            continue;
        };
        match count.state {
            JobState::Completed => slot.completed += count.count,
            JobState::Failed => slot.failed += count.count,
            _ => {}
        }
    }
    ok(Answer::new(JobStats {
        counts: counts
            .into_iter()
            .map(|c| StateCount {
                queue_name: c.queue_name,
                state: c.state,
                count: c.count,
            })
            .collect(),
        minutes,
    }))
}
