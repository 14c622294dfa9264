//! `context.dependencies` at submission: the tasks a job waits for, resolved to the latest job
//! of each (in the job's project), or a 400 in zod's format naming the dependency that cannot
//! be waited for (its own task, a task with no job, too many). A task that is not in the job's
//! project is "not found" (404), as an unknown `taskId` is: another project's tasks must not
//! be told apart from tasks that do not exist.

use agentq_domain::request::OnDependencyFailure;
use agentq_domain::validation::{Issue, PathSegment};
use agentq_domain::{JobId, JobRequest, JobState, ValidationErrors};
use agentq_store::{Agent, DependencyRefusal, Task};

use crate::error::ApiError;
use crate::state::AppState;

/// What the job waits for, and whether it runs even when one of them fails.
#[derive(Debug, Default)]
pub struct Dependencies {
    pub jobs: Vec<(JobId, JobState)>,
    pub run_if_one_fails: bool,
}

pub async fn resolve(
    state: &AppState,
    request: &JobRequest,
    task: &Task,
    agent: &Agent,
) -> Result<Dependencies, ApiError> {
    let context = request.context.as_ref();
    let named = context
        .and_then(|c| c.dependencies.as_deref())
        .unwrap_or_default();
    if named.is_empty() {
        return Ok(Dependencies::default());
    }
    if agent.requires_approval {
        return Err(refused(
            None,
            "jobs of an agent that requires approval cannot have dependencies",
        ));
    }
    let resolved = agentq_store::dependency_jobs(&state.db, task.project, task.id, named).await?;
    let jobs = resolved.map_err(|refusal| match refusal {
        DependencyRefusal::NoSuchTask(..) => ApiError::NotFound {
            message: "Task not found",
            details: Some("context.dependencies names a task that is not in the job's project"),
        },
        DependencyRefusal::OwnTask(i) | DependencyRefusal::NoJob(i, _) => {
            refused(Some(i), &refusal.to_string())
        }
        DependencyRefusal::TooMany => refused(None, &refusal.to_string()),
    })?;
    Ok(Dependencies {
        jobs,
        run_if_one_fails: context.and_then(|c| c.on_dependency_failure)
            == Some(OnDependencyFailure::Run),
    })
}

fn refused(index: Option<usize>, message: &str) -> ApiError {
    let mut path = vec![
        PathSegment::Key("context".into()),
        PathSegment::Key("dependencies".into()),
    ];
    path.extend(index.map(PathSegment::Index));
    ApiError::Validation(ValidationErrors::new(vec![Issue {
        path,
        message: message.to_owned(),
    }]))
}
