//! The gateway's settings, from the environment (DESIGN.md §8): the core every binary reads
//! (`agentq_settings::Core`), and the gateway's own. Secrets stay out of `Debug`.

use std::net::SocketAddr;

use agentq_settings::DevSecrets;
pub use agentq_settings::{Core, Env, MIN_JWT_SECRET_BYTES, Secret, SettingsError};

#[derive(Debug, Clone)]
pub struct Settings {
    pub core: Core,
    /// `AGENTQ_API_ADDR` (127.0.0.1:8080).
    pub addr: SocketAddr,
    /// `AGENTQ_JWT_SECRET`: at least 32 bytes outside development.
    pub jwt_secret: Secret<Vec<u8>>,
    /// `AGENTQ_TOKEN_TTL_SECS` (3600): how long a login token lasts.
    pub token_ttl_secs: u64,
    /// `AGENTQ_SECRET_KEY`: 32 bytes, base64; encrypts MCP credentials and agents' env at rest.
    pub secret_key: Secret<[u8; 32]>,
    /// `AGENTQ_BODY_LIMIT_BYTES` (1 MiB).
    pub body_limit: usize,
    /// `AGENTQ_ADMIN_EMAIL` / `AGENTQ_ADMIN_PASSWORD`: created at start when absent.
    pub admin: Option<(String, Secret<String>)>,
    /// `AGENTQ_TRUSTED_PROXIES` (none): comma-separated addresses or networks (CIDR) of the
    /// proxies in front of the gateway, whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// `AGENTQ_AGENT_HOSTS` (any host but loopback and link-local addresses): which hosts an
    /// agent's `endpointUrl` and a job's MCP `serverUrl` may name.
    pub agent_hosts: agentq_domain::hosts::HostPolicy,
    /// `AGENTQ_EVENTS_URL` (none): the events-broadcaster's `/ws` as a browser reaches it
    /// (`ws://host:port/ws` or `wss://…`), for the dashboard's live updates. Unset: the
    /// dashboard works without them.
    pub events_url: Option<EventsUrl>,
}

/// A `ws://` or `wss://` URL, and its origin (for the dashboard's Content-Security-Policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsUrl {
    pub url: String,
    pub origin: String,
}

impl EventsUrl {
    /// `None` unless `ws://` or `wss://`, then a host, with nothing a header or an HTML
    /// attribute would need escaped.
    pub fn parse(url: &str) -> Option<Self> {
        let rest = url
            .strip_prefix("ws://")
            .or_else(|| url.strip_prefix("wss://"))?;
        let host = rest.split('/').next()?;
        // the origin goes into the Content-Security-Policy: a host name or address and a port
        // only (no `;`, no user info), so it cannot add a directive
        let host_char = |c: char| c.is_ascii_alphanumeric() || ".-:[]".contains(c);
        let plain = |c: char| c.is_ascii_alphanumeric() || "-._~:/[]%!$()*+,;=?".contains(c);
        if host.is_empty() || !host.chars().all(host_char) || !url.chars().all(plain) {
            return None;
        }
        let scheme_len = url.len() - rest.len();
        Some(Self {
            url: url.to_owned(),
            origin: format!("{}{host}", &url[..scheme_len]),
        })
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::read(&Env::process())
    }

    /// Reads settings through `get` (a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        Self::read(&Env::from_fn(get))
    }

    pub fn read(env: &Env<'_>) -> Result<Self, SettingsError> {
        let admin = match (
            env.get("AGENTQ_ADMIN_EMAIL"),
            env.get("AGENTQ_ADMIN_PASSWORD"),
        ) {
            (Some(email), Some(password)) => Some((email, Secret::new(password))),
            (None, None) => None,
            _ => {
                return Err(SettingsError::new(
                    "AGENTQ_ADMIN_EMAIL",
                    "set both AGENTQ_ADMIN_EMAIL and AGENTQ_ADMIN_PASSWORD, or neither",
                ));
            }
        };
        let trusted_proxies = crate::client_addr::parse_networks(
            &env.get("AGENTQ_TRUSTED_PROXIES").unwrap_or_default(),
        )
        .map_err(|entry| {
            SettingsError::new(
                "AGENTQ_TRUSTED_PROXIES",
                format!("not an address or network: {entry:?}"),
            )
        })?;
        Ok(Self {
            core: Core::read(env)?,
            addr: env.addr("AGENTQ_API_ADDR", "127.0.0.1:8080")?,
            jwt_secret: agentq_settings::jwt_secret(env, DevSecrets::Make)?,
            token_ttl_secs: env.number("AGENTQ_TOKEN_TTL_SECS", 3_600)?,
            secret_key: agentq_settings::secret_key(env, DevSecrets::Make)?,
            body_limit: env.number_in(
                "AGENTQ_BODY_LIMIT_BYTES",
                1024 * 1024_u64,
                1024..=64 * 1024 * 1024,
            )? as usize,
            admin,
            trusted_proxies,
            agent_hosts: agentq_domain::hosts::HostPolicy::parse(
                env.get("AGENTQ_AGENT_HOSTS").as_deref(),
            ),
            events_url: match env.get("AGENTQ_EVENTS_URL") {
                None => None,
                Some(url) => Some(EventsUrl::parse(&url).ok_or_else(|| {
                    SettingsError::new(
                        "AGENTQ_EVENTS_URL",
                        format!("not a ws:// or wss:// URL: {url:?}"),
                    )
                })?),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn refuses_a_missing_or_weak_jwt_secret_outside_development() {
        let err = settings(&[("AGENTQ_SECRET_KEY", KEY)]).expect_err("missing");
        assert_eq!(err.name, "AGENTQ_JWT_SECRET");
        let err = settings(&[("AGENTQ_JWT_SECRET", "short"), ("AGENTQ_SECRET_KEY", KEY)])
            .expect_err("weak");
        assert_eq!(err.name, "AGENTQ_JWT_SECRET");
        let strong = "x".repeat(MIN_JWT_SECRET_BYTES);
        assert!(settings(&[("AGENTQ_JWT_SECRET", &strong), ("AGENTQ_SECRET_KEY", KEY)]).is_ok());
    }

    #[test]
    fn reads_the_events_url_and_its_origin() {
        let url = EventsUrl::parse("ws://127.0.0.1:8081/ws").expect("valid");
        assert_eq!(url.origin, "ws://127.0.0.1:8081");
        let url = EventsUrl::parse("wss://events.example.com/ws?x=1").expect("valid");
        assert_eq!(url.origin, "wss://events.example.com");
        for bad in [
            "http://a/ws",
            "ws://",
            "ws:///ws",
            "ws://a/\"x",
            "ws://a/<script>",
            "ws://a/ws b",
            "ws://a/?a=1&b=2",
            "ws://a;sandbox/ws",
            "ws://user@a/ws",
            "ws://a?x=1",
        ] {
            assert!(EventsUrl::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn names_the_bad_variable() {
        let strong = "x".repeat(MIN_JWT_SECRET_BYTES);
        let base = [
            ("AGENTQ_JWT_SECRET", strong.as_str()),
            ("AGENTQ_SECRET_KEY", KEY),
        ];
        let with = |extra: (&'static str, &'static str)| {
            let mut vars = base.to_vec();
            vars.push(extra);
            settings(&vars).expect_err("bad").name
        };
        assert_eq!(with(("AGENTQ_API_ADDR", "nowhere")), "AGENTQ_API_ADDR");
        assert_eq!(with(("AGENTQ_ATTEMPTS", "-1")), "AGENTQ_ATTEMPTS");
        assert_eq!(with(("AGENTQ_ATTEMPTS", "0")), "AGENTQ_ATTEMPTS");
        assert_eq!(with(("AGENTQ_SECRET_KEY", "c2hvcnQ=")), "AGENTQ_SECRET_KEY");
        assert_eq!(with(("AGENTQ_ADMIN_EMAIL", "a@b.c")), "AGENTQ_ADMIN_EMAIL");
    }

    #[test]
    fn keeps_secrets_out_of_debug() {
        let secret = "s3cret-s3cret-s3cret-s3cret-s3cret-!";
        let s =
            settings(&[("AGENTQ_JWT_SECRET", secret), ("AGENTQ_SECRET_KEY", KEY)]).expect("valid");
        let shown = format!("{s:?}");
        assert!(!shown.contains("s3cret"));
        assert!(shown.contains("[redacted]"));
    }
}
