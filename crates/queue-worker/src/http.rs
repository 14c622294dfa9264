//! Running an `http` agent: POST the job's JSON to its endpoint (rustls), with the agent's
//! timeout. A 2xx answer completes the job with the body as its result; anything else fails the
//! attempt (and is retried with backoff).

use std::time::Duration;

use agentq_queue::Outcome;
use tokio_util::sync::CancellationToken;

/// The most of an error body kept in the job's error.
const ERROR_BODY_BYTES: usize = 2_000;

pub async fn run(
    client: &reqwest::Client,
    url: &str,
    body: serde_json::Value,
    timeout: Duration,
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
    let text = tokio::select! {
        text = response.text() => text.unwrap_or_default(),
        () = stop.cancelled() => return Outcome::Cancelled,
    };
    if status.is_success() {
        let result = serde_json::from_str::<serde_json::Value>(&text)
            .unwrap_or(serde_json::Value::String(text));
        Outcome::Completed(result.to_string())
    } else {
        let mut tail = text;
        if tail.len() > ERROR_BODY_BYTES {
            let cut = tail.floor_char_boundary(tail.len() - ERROR_BODY_BYTES);
            tail = tail.split_off(cut);
        }
        Outcome::Failed(format!("HTTP {status}\n{tail}").trim_end().to_owned())
    }
}
