//! Running an `http` agent: POST the job's JSON to its endpoint (rustls), with the agent's
//! timeout. A 2xx answer completes the job with the body as its result; anything else fails the
//! attempt (and is retried with backoff). The body is read with a limit: a larger one becomes
//! a marked stand-in (a result) or is cut (an error), never held whole in memory.

use std::time::Duration;

use std::net::SocketAddr;
use std::sync::Arc;

use agentq_domain::bounded;
use agentq_domain::hosts::HostPolicy;
use agentq_queue::Outcome;
use tokio_util::sync::CancellationToken;

/// The most of an error body kept in the job's error.
const ERROR_BODY_BYTES: usize = 2_000;

/// What calling http agents takes: the client, the host policy, the largest result kept.
#[derive(Debug, Clone)]
pub struct HttpAgents {
    client: reqwest::Client,
    policy: HostPolicy,
    max_result: usize,
}

impl HttpAgents {
    pub fn new(settings: &crate::settings::AgentSettings) -> Self {
        Self {
            client: client(&settings.hosts),
            policy: settings.hosts.clone(),
            max_result: settings.max_result_bytes,
        }
    }
}

/// The client for http agents: names resolve only to addresses the policy allows, and a
/// redirect is followed only to the same host and port (at most five).
fn client(policy: &HostPolicy) -> reqwest::Client {
    let redirects = reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt.previous().first().is_some_and(|first| {
            first.host_str() == attempt.url().host_str()
                && first.port_or_known_default() == attempt.url().port_or_known_default()
                && first.scheme() == attempt.url().scheme()
        });
        if same_origin && attempt.previous().len() < 5 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    reqwest::Client::builder()
        .redirect(redirects)
        .dns_resolver(Arc::new(PolicyResolver(policy.clone())))
        .build()
        .unwrap_or_default()
}

/// The system's resolver, less the addresses the policy refuses for the name.
struct PolicyResolver(HostPolicy);

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.0.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| policy.allows_addr(&host, addr.ip()))
                .collect();
            if allowed.is_empty() {
                let refusal = format!(
                    "{host} resolves to no address agents may call (loopback and link-local ones need AGENTQ_AGENT_HOSTS)"
                );
                return Err(refusal.into());
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

pub async fn run(
    agents: &HttpAgents,
    url: &str,
    body: serde_json::Value,
    timeout: Duration,
    stop: CancellationToken,
) -> Outcome {
    let max_result = agents.max_result;
    if let Err(refused) = agents.policy.check_url(url) {
        // the agent's definition would have to change: no retry can help
        return Outcome::FailedForGood(format!("the agent's endpoint is not allowed: {refused}"));
    }
    let request = agents.client.post(url).timeout(timeout).json(&body).send();
    let response = tokio::select! {
        response = request => response,
        () = stop.cancelled() => return Outcome::Cancelled,
    };
    let response = match response {
        Ok(response) => response,
        Err(err) if err.is_timeout() => {
            return Outcome::Failed(format!("timed out after {} s", timeout.as_secs()));
        }
        Err(err) => {
            use std::error::Error;
            // the cause chain says why (a refused address, a refused connection)
            let mut text = format!("calling the agent failed: {err}");
            let mut cause = err.source();
            while let Some(inner) = cause {
                text.push_str(&format!(": {inner}"));
                cause = inner.source();
            }
            return Outcome::Failed(bounded::error_text(&text));
        }
    };
    let status = response.status();
    let limit = if status.is_success() {
        max_result
    } else {
        ERROR_BODY_BYTES
    };
    let body = tokio::select! {
        body = read_limited(response, limit) => body,
        () = stop.cancelled() => return Outcome::Cancelled,
    };
    let (bytes, total) = match body {
        Ok(body) => body,
        Err(err) => return Outcome::Failed(format!("reading the agent's answer failed: {err}")),
    };
    let text = String::from_utf8_lossy(&bytes);
    if !status.is_success() {
        let cut = if total > bytes.len() {
            " … [cut]"
        } else {
            ""
        };
        let error = format!("HTTP {status}\n{text}{cut}");
        return Outcome::Failed(bounded::error_text(error.trim_end()));
    }
    if total > bytes.len() {
        return Outcome::Completed(bounded::stand_in(&text, total, max_result));
    }
    let result = serde_json::from_str::<serde_json::Value>(&text)
        .unwrap_or_else(|_| serde_json::Value::String(text.into_owned()));
    Outcome::Completed(bounded::result_json(result.to_string(), max_result))
}

/// Reads at most `limit` bytes of the body; answers them and how many bytes the body had as
/// far as read (more than `limit` means it was cut; the rest is not read).
async fn read_limited(
    mut response: reqwest::Response,
    limit: usize,
) -> reqwest::Result<(Vec<u8>, usize)> {
    let mut kept = Vec::new();
    let mut total = 0;
    while let Some(chunk) = response.chunk().await? {
        total += chunk.len();
        let room = limit.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if total > limit {
            break;
        }
    }
    Ok((kept, total))
}
