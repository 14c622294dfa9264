//! Who may join which room: admins any; a member `notifications` (filtered to their projects)
//! and the rooms of their projects and of those projects' jobs.

use agentq_auth::Identity;
use agentq_domain::ProjectId;
use agentq_store::{Db, Scope};

use crate::room::Room;

/// A room a client joined, and what allowed it, so that the permission can be checked again
/// when the user's projects change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The project whose room (or whose job's room) this is.
    pub project: Option<ProjectId>,
    /// For `notifications`: the projects whose events the member may see; `None` for all.
    pub only: Option<Scope>,
}

/// Whether `identity` may join `room`; `Ok(None)` when not (or when the job does not exist,
/// which a member must not be able to tell apart).
pub async fn grant(
    db: &Db,
    identity: &Identity,
    room: Room,
) -> agentq_store::Result<Option<Grant>> {
    let project = match room {
        Room::Notifications => None,
        Room::Project(project) => Some(project),
        Room::Job(job) => match agentq_store::job_by_job_id(db, &identity.scope, &job).await? {
            Some(record) => Some(record.project),
            None => return Ok(None),
        },
    };
    Ok(regrant(identity, room, project))
}

/// The same decision from what was learned at join time, without the database.
pub fn regrant(identity: &Identity, room: Room, project: Option<ProjectId>) -> Option<Grant> {
    match (room, project) {
        (Room::Notifications, _) => Some(Grant {
            project: None,
            only: (identity.scope != Scope::All).then(|| identity.scope.clone()),
        }),
        (_, Some(project)) if identity.scope.allows(project) => Some(Grant {
            project: Some(project),
            only: None,
        }),
        _ => None,
    }
}
