//! Running an `http` agent: POST the job's JSON to its endpoint (rustls), with the agent's
//! timeout. A 2xx answer completes the job with the body as its result; anything else fails the
//! attempt (and is retried with backoff). The body is read with a limit: a larger one becomes
//! a marked stand-in (a result) or is cut (an error), never held whole in memory.

use std::time::Duration;

use agentq_domain::bounded;
use agentq_queue::Outcome;
use tokio_util::sync::CancellationToken;

/// The most of an error body kept in the job's error.
const ERROR_BODY_BYTES: usize = 2_000;

pub async fn run(
    client: &reqwest::Client,
    url: &str,
    body: serde_json::Value,
    timeout: Duration,
    max_result: usize,
    stop: CancellationToken,
) -> Outcome {
    let request = client.post(url).timeout(timeout).json(&body).send();
    let response = tokio::select! {
        response = request => response,
        () = stop.cancelled() => return Outcome::Cancelled,
    };
    let response = match response {
        Ok(response) => response,
        Err(err) if err.is_timeout() => {
            return Outcome::Failed(format!("timed out after {} s", timeout.as_secs()));
        }
        Err(err) => return Outcome::Failed(format!("calling the agent failed: {err}")),
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
