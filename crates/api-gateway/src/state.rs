//! What every handler shares.

use std::num::NonZeroU32;

use agentq_queue::Queue;
use agentq_store::Db;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::{Identities, Jwt};
use crate::batched::Batched;
use crate::settings::Settings;
use agentq_secrets::SecretBox;

#[derive(Debug)]
pub struct AppState {
    pub db: Db,
    pub queue: Queue,
    pub jwt: Jwt,
    pub secrets: SecretBox,
    pub settings: Settings,
    pub login_limits: LoginLimits,
    pub identities: Identities,
    /// Task/agent lookups, job inserts and job reads shared by concurrent requests.
    pub batched: Batched,
}

/// Login attempts allowed per client address and per email, so that neither one address
/// trying many emails nor many addresses trying one email get far.
pub struct LoginLimits {
    pub per_ip: DefaultKeyedRateLimiter<String>,
    pub per_email: DefaultKeyedRateLimiter<String>,
}

impl std::fmt::Debug for LoginLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginLimits")
    }
}

impl Default for LoginLimits {
    fn default() -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            per_ip: RateLimiter::keyed(per_minute(30)),
            per_email: RateLimiter::keyed(per_minute(10)),
        }
    }
}

impl LoginLimits {
    pub fn allow(&self, ip: &str, email: &str) -> bool {
        // both are counted, so a blocked email still costs the address an attempt
        let ip_ok = self.per_ip.check_key(&ip.to_owned()).is_ok();
        let email_ok = self.per_email.check_key(&email.to_lowercase()).is_ok();
        ip_ok && email_ok
    }
}
