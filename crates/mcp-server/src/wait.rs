//! `wait_for_agent_job`: follows a job on the events-broadcaster's `job:{id}` room until it
//! finishes or the wait times out, turning its progress events into MCP progress
//! notifications. Without the broadcaster it falls back to asking the API twice a second. The
//! API stays the authority: the caller must see the job there, and the answer is the job as
//! the API shows it at the end.

use std::time::Duration;

use agentq_api_types::JobState;
use agentq_api_types::jobs::Job;
use futures_util::{SinkExt, StreamExt};
use rmcp::RoleServer;
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use serde::Serialize;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::api::{Api, ApiFailure};

/// How often the fallback asks the API.
const POLL: Duration = Duration::from_millis(500);
/// The largest event frame taken from the broadcaster (a result is at most 512 KiB); a larger
/// one ends the subscription and the wait goes on by polling the API.
const MAX_FRAME: usize = 1024 * 1024;
/// How long connecting to the broadcaster may take before the fallback is used.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Waited {
    /// The job reached completed, failed or cancelled.
    pub finished: bool,
    /// The wait ended before the job did; `job` is its state at that moment.
    pub timed_out: bool,
    pub job: Job,
}

fn is_final(state: JobState) -> bool {
    matches!(
        state,
        JobState::Completed | JobState::Failed | JobState::Cancelled
    )
}

type Events = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The job's room on the broadcaster, subscribed; `None` when that is not possible (no token,
/// broadcaster down): the caller then polls.
async fn subscribe(ws_url: &url::Url, token: Option<&str>, job_id: &str) -> Option<Events> {
    let mut url = ws_url.clone();
    url.query_pairs_mut().append_pair("token", token?);
    // the broadcaster's frames are small; anything larger is not one of them
    let config = WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME));
    let connect = tokio_tungstenite::connect_async_with_config(url.as_str(), Some(config), false);
    let (mut events, _) = tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .ok()?
        .ok()?;
    let frame = serde_json::json!({"type": "subscribe", "room": format!("job:{job_id}")});
    events
        .send(Message::Text(frame.to_string().into()))
        .await
        .ok()?;
    // the first frame answers the subscription
    let reply = tokio::time::timeout(CONNECT_TIMEOUT, events.next())
        .await
        .ok()??
        .ok()?;
    let reply: serde_json::Value = serde_json::from_str(reply.to_text().ok()?).ok()?;
    (reply["type"] == "subscribed").then_some(events)
}

/// What one event frame says of the job: its progress, or that it finished.
enum Step {
    Progress(u64),
    Finished,
    Other,
}

fn step(frame: &str) -> Step {
    let Ok(frame) = serde_json::from_str::<serde_json::Value>(frame) else {
        return Step::Other;
    };
    match frame["event"].as_str() {
        Some("agent_job_progress") => frame["data"]["progress"]
            .as_u64()
            .map_or(Step::Other, Step::Progress),
        Some("agent_job_completed" | "agent_job_failed" | "agent_job_cancelled") => Step::Finished,
        _ => Step::Other,
    }
}

/// Sends progress notifications, when the caller asked for them, each one only once.
struct Progress<'a> {
    ctx: &'a RequestContext<RoleServer>,
    token: Option<ProgressToken>,
    last: Option<u64>,
}

impl Progress<'_> {
    async fn report(&mut self, progress: u64, state: JobState) {
        let Some(token) = self.token.clone() else {
            return;
        };
        if self.last.is_some_and(|last| last >= progress) {
            return;
        }
        self.last = Some(progress);
        let param = ProgressNotificationParam::new(token, progress as f64)
            .with_total(100.0)
            .with_message(format!("{} at {progress}%", state.as_str()));
        if let Err(err) = self.ctx.peer.notify_progress(param).await {
            tracing::debug!(error = %err, "progress notification not sent");
        }
    }
}

pub async fn wait_for_job(
    api: &Api,
    ws_url: &url::Url,
    token: Option<&str>,
    job_id: &str,
    timeout: Duration,
    ctx: &RequestContext<RoleServer>,
) -> Result<Waited, ApiFailure> {
    let deadline = Instant::now() + timeout;
    // subscribed before the first look, so that an end between the two is not missed
    let mut events = subscribe(ws_url, token, job_id).await;
    let mut job = api.job(token, job_id).await?;
    let mut progress = Progress {
        ctx,
        token: ctx.meta.get_progress_token(),
        last: None,
    };
    progress.report(u64::from(job.progress), job.status).await;
    while !is_final(job.status) {
        let step = match events.as_mut() {
            Some(stream) => tokio::select! {
                frame = stream.next() => match frame {
                    Some(Ok(Message::Text(text))) => step(&text),
                    Some(Ok(_)) => Step::Other,
                    // the broadcaster went away: poll from here on
                    _ => {
                        events = None;
                        Step::Finished
                    }
                },
                () = tokio::time::sleep_until(deadline) => break,
                () = ctx.ct.cancelled() => break,
            },
            None => tokio::select! {
                () = tokio::time::sleep(POLL) => Step::Finished,
                () = tokio::time::sleep_until(deadline) => break,
                () = ctx.ct.cancelled() => break,
            },
        };
        match step {
            Step::Progress(p) => progress.report(p, JobState::Active).await,
            // a finish (or a poll) is checked against the API, the authority
            Step::Finished => {
                job = api.job(token, job_id).await?;
                progress.report(u64::from(job.progress), job.status).await;
            }
            Step::Other => {}
        }
    }
    if !is_final(job.status) {
        job = api.job(token, job_id).await?;
    }
    let finished = is_final(job.status);
    Ok(Waited {
        finished,
        timed_out: !finished,
        job,
    })
}
