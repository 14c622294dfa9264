//! The caller behind a verified token, with the projects they may see, read from the database
//! at most once per [`Identities::TTL`]: that saves two queries on almost every request, and a
//! removed member or a demoted admin loses access within that time.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use agentq_domain::UserId;
use agentq_store::{Db, Role, Scope, User};

#[derive(Debug, Clone)]
pub struct Identity {
    pub user: User,
    pub scope: Scope,
}

impl Identity {
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }
}

#[derive(Debug, Default)]
pub struct Identities {
    entries: Mutex<HashMap<UserId, (Instant, Identity)>>,
}

impl Identities {
    pub const TTL: Duration = Duration::from_secs(5);
    /// Past this many users the cache starts over rather than grow without bound.
    const MAX_ENTRIES: usize = 10_000;

    /// Who `user` is now; `None` when the user no longer exists.
    pub async fn resolve(&self, db: &Db, user: UserId) -> agentq_store::Result<Option<Identity>> {
        if let Some(identity) = self.cached(user) {
            return Ok(Some(identity));
        }
        let Some(found) = agentq_store::user_by_id(db, user).await? else {
            return Ok(None);
        };
        let scope = agentq_store::scope_for(db, &found).await?;
        let identity = Identity { user: found, scope };
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(user, (Instant::now(), identity.clone()));
        }
        Ok(Some(identity))
    }

    fn cached(&self, user: UserId) -> Option<Identity> {
        let entries = self.entries.lock().ok()?;
        let (at, identity) = entries.get(&user)?;
        (at.elapsed() < Self::TTL).then(|| identity.clone())
    }
}
