//! Which hosts an agent endpoint (`endpointUrl`) and an MCP server (`serverUrl`) may name, so
//! that whoever defines agents or queues jobs cannot make a worker, or the agent it runs, call
//! the services next to it.
//!
//! `AGENTQ_AGENT_HOSTS` is a comma-separated list of host names (`api.example.com`), name
//! suffixes (`*.example.com`) and IP addresses. Unset, any host is allowed; set, only those
//! listed. Either way loopback, link-local and unspecified addresses (127.0.0.0/8, ::1,
//! 169.254.0.0/16, fe80::/10, 0.0.0.0) are refused unless the host name or the address itself
//! is listed exactly (a `*.` suffix does not open them): a name that resolves to one is
//! refused as well.

use std::net::IpAddr;

/// The rule, as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostPolicy {
    /// `None`: any host (but the local addresses).
    listed: Option<Vec<String>>,
}

/// Why a URL or an address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostRefusal {
    #[error("not an http(s) URL with a host")]
    NotHttp,
    #[error("host {0} is not in AGENTQ_AGENT_HOSTS")]
    NotListed(String),
    #[error("host {0} is a loopback, link-local or unspecified address")]
    Local(String),
}

impl HostPolicy {
    /// From `AGENTQ_AGENT_HOSTS`; unset or empty allows any host.
    pub fn parse(list: Option<&str>) -> Self {
        let listed: Vec<String> = list
            .unwrap_or_default()
            .split(',')
            .map(|entry| entry.trim().trim_matches(['[', ']']).to_ascii_lowercase())
            .filter(|entry| !entry.is_empty())
            .collect();
        Self {
            listed: (!listed.is_empty()).then_some(listed),
        }
    }

    fn is_listed(&self, host: &str) -> bool {
        let host = normal(host);
        self.listed
            .iter()
            .flatten()
            .any(|entry| match entry.strip_prefix("*.") {
                Some(suffix) => host.ends_with(&format!(".{suffix}")),
                None => *entry == host,
            })
    }

    fn is_listed_exactly(&self, host: &str) -> bool {
        let host = normal(host);
        self.listed.iter().flatten().any(|entry| *entry == host)
    }

    /// Whether `url` may be called: http(s), a listed host when there is a list, and no local
    /// address named directly. Names are checked again once resolved ([`Self::allows_addr`]).
    pub fn check_url(&self, url: &str) -> Result<(), HostRefusal> {
        let parsed = url::Url::parse(url).map_err(|_| HostRefusal::NotHttp)?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(HostRefusal::NotHttp);
        }
        self.check_host_of(&parsed)
    }

    /// The host rules alone, for a URL of any scheme (an MCP server's, which the agent calls):
    /// a URL without a host passes.
    pub fn check_host(&self, url: &str) -> Result<(), HostRefusal> {
        match url::Url::parse(url) {
            Ok(parsed) => self.check_host_of(&parsed),
            Err(_) => Ok(()),
        }
    }

    fn check_host_of(&self, parsed: &url::Url) -> Result<(), HostRefusal> {
        let host = match parsed.host() {
            Some(url::Host::Domain(name)) => name.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            None => return Ok(()),
        };
        if self.listed.is_some() && !self.is_listed(&host) {
            return Err(HostRefusal::NotListed(host));
        }
        match host.parse::<IpAddr>() {
            Ok(ip) if !self.allows_addr(&host, ip) => Err(HostRefusal::Local(host)),
            _ => Ok(()),
        }
    }

    /// Whether `host` may be reached at `ip` (one of the addresses it resolved to).
    pub fn allows_addr(&self, host: &str, ip: IpAddr) -> bool {
        !is_local(ip) || self.is_listed_exactly(host) || self.is_listed_exactly(&ip.to_string())
    }
}

fn normal(host: &str) -> String {
    host.trim_matches(['[', ']']).to_ascii_lowercase()
}

fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_link_local() || v4.is_unspecified(),
        IpAddr::V6(v6) => {
            let mapped = v6
                .to_ipv4_mapped()
                .is_some_and(|v4| is_local(IpAddr::V4(v4)));
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || mapped
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_list_any_host_but_local_addresses_is_allowed() {
        let any = HostPolicy::parse(None);
        assert_eq!(any.check_url("https://agents.example.com/run"), Ok(()));
        assert_eq!(any.check_url("http://10.1.2.3:8000/"), Ok(()));
        for local in [
            "http://127.0.0.1:8080/",
            "http://[::1]/",
            "http://169.254.169.254/latest/meta-data",
            "http://0.0.0.0/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fe80::1]/",
        ] {
            assert!(
                matches!(any.check_url(local), Err(HostRefusal::Local(_))),
                "{local}"
            );
        }
        assert_eq!(
            any.check_url("file:///etc/passwd"),
            Err(HostRefusal::NotHttp)
        );
        assert_eq!(any.check_url("not a url"), Err(HostRefusal::NotHttp));
        assert!(!any.allows_addr("evil.example", "127.0.0.1".parse().expect("ip")));
        // an MCP server's URL, whatever its scheme, is held to the host rules only
        assert!(any.check_host("ws://127.0.0.1:6379").is_err());
        assert_eq!(any.check_host("wss://mcp.example.com/"), Ok(()));
    }

    #[test]
    fn with_a_list_only_listed_hosts_pass_and_a_listed_local_address_is_allowed() {
        let listed = HostPolicy::parse(Some("api.example.com, *.agents.example, 127.0.0.1"));
        assert_eq!(listed.check_url("https://API.example.com/x"), Ok(()));
        assert_eq!(listed.check_url("https://a.agents.example/x"), Ok(()));
        assert_eq!(listed.check_url("http://127.0.0.1:9000/"), Ok(()));
        assert!(matches!(
            listed.check_url("https://agents.example/x"),
            Err(HostRefusal::NotListed(_))
        ));
        assert!(matches!(
            listed.check_url("https://other.com/"),
            Err(HostRefusal::NotListed(_))
        ));
        // a listed name that resolves to loopback is the operator's choice
        assert!(listed.allows_addr("api.example.com", "10.0.0.1".parse().expect("ip")));
        assert!(!listed.allows_addr("a.agents.example", "127.0.0.2".parse().expect("ip")));
    }
}
