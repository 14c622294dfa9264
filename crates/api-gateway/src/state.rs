//! What every handler shares.

use std::num::NonZeroU32;

use agentq_queue::Partitions;
use agentq_store::Db;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::{Identities, Jwt};
use crate::batched::Batched;
use crate::budgets::Budgets;
use crate::settings::Settings;
use agentq_secrets::SecretBox;

#[derive(Debug)]
pub struct AppState {
    pub db: Db,
    pub queue: Partitions,
    pub jwt: Jwt,
    pub secrets: SecretBox,
    pub settings: Settings,
    pub login_limits: LoginLimits,
    pub identities: Identities,
    /// Task/agent lookups, job inserts and job reads shared by concurrent requests.
    pub batched: Batched,
    /// Projects' daily budgets and spend, checked at submission.
    pub budgets: Budgets,
}

/// Login attempts allowed per client address and per email, so that neither one address
/// trying many emails nor many addresses trying one email get far. Memory is bounded: past
/// [`LoginLimits::MAX_KEYS`] keys of one kind, keys at rest are dropped, and if that is not
/// enough (a flood of fresh keys) that kind is not checked until it shrinks, the other still
/// is.
pub struct LoginLimits {
    per_ip: DefaultKeyedRateLimiter<String>,
    per_email: DefaultKeyedRateLimiter<String>,
    max_keys: usize,
}

impl std::fmt::Debug for LoginLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginLimits")
    }
}

impl Default for LoginLimits {
    fn default() -> Self {
        Self::with_max_keys(Self::MAX_KEYS)
    }
}

impl LoginLimits {
    /// Keys of one kind (addresses, emails) kept at most.
    pub const MAX_KEYS: usize = 100_000;

    pub fn with_max_keys(max_keys: usize) -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            per_ip: RateLimiter::keyed(per_minute(30)),
            per_email: RateLimiter::keyed(per_minute(10)),
            max_keys,
        }
    }

    /// Whether a login attempt from `client` (see `client_addr::limit_key`) for `email` may go
    /// on; counts it.
    pub fn allow(&self, client: &str, email: &str) -> bool {
        // both are counted, so a blocked email still costs the address an attempt
        let ip_ok = within(&self.per_ip, client.to_owned(), self.max_keys);
        let email_ok = within(&self.per_email, email.to_lowercase(), self.max_keys);
        ip_ok && email_ok
    }

    /// Keys held now: (addresses, emails).
    pub fn tracked(&self) -> (usize, usize) {
        (self.per_ip.len(), self.per_email.len())
    }
}

fn within(limiter: &DefaultKeyedRateLimiter<String>, key: String, max_keys: usize) -> bool {
    if limiter.len() >= max_keys {
        limiter.retain_recent();
        limiter.shrink_to_fit();
        if limiter.len() >= max_keys {
            tracing::warn!(
                max_keys,
                "login limiter full; this kind of key is not checked for now"
            );
            return true;
        }
    }
    limiter.check_key(&key).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_fresh_emails_keeps_memory_bounded_and_the_address_limit_working() {
        let limits = LoginLimits::with_max_keys(100);
        let mut allowed = 0;
        for i in 0..10_000 {
            // many addresses (behind a botnet), each email new
            if limits.allow(&format!("10.0.{}.{}", i / 250, i % 250), &format!("u{i}@x")) {
                allowed += 1;
            }
        }
        let (ips, emails) = limits.tracked();
        assert!(ips <= 100 && emails <= 100, "{ips} {emails}");
        assert!(allowed > 0);
        // one address is still held to its limit
        let one = LoginLimits::with_max_keys(100);
        let tries = (0..100)
            .filter(|i| one.allow("192.0.2.1", &format!("e{i}@x")))
            .count();
        assert_eq!(tries, 30);
    }
}
