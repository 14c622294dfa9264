//! The JSON frames of the protocol (DESIGN.md §6, `proto/events.schema.json`).

use agentq_queue::{JobEvent, QueueEvent};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::hub::Protocol;
use crate::membership::Replayed;
use crate::room::Room;

/// What a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ClientFrame {
    Subscribe {
        room: String,
        #[serde(rename = "lastEventId")]
        last_event_id: Option<String>,
    },
    Unsubscribe {
        room: String,
    },
    Ping,
}

/// Why a client frame was refused; the `code` of an `error` frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    BadFrame,
    UnknownRoom,
    Forbidden,
    BadEventId,
    Unavailable,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::BadFrame => "bad_frame",
            Self::UnknownRoom => "unknown_room",
            Self::Forbidden => "forbidden",
            Self::BadEventId => "bad_event_id",
            Self::Unavailable => "unavailable",
        }
    }
}

pub fn error(refusal: Refusal, message: &str, room: Option<&str>) -> String {
    let mut frame = json!({"type": "error", "code": refusal.code(), "message": message});
    if let Some(room) = room {
        frame["room"] = room.into();
    }
    frame.to_string()
}

pub fn subscribed(room: Room) -> String {
    json!({"type": "subscribed", "room": room.to_string()}).to_string()
}

pub fn unsubscribed(room: Room) -> String {
    json!({"type": "unsubscribed", "room": room.to_string()}).to_string()
}

pub fn pong() -> String {
    r#"{"type":"pong"}"#.to_owned()
}

/// Events after `last_event_id` were trimmed before this client came back for them.
pub fn gap(room: Room, last_event_id: &str, oldest: Option<String>) -> String {
    json!({
        "type": "gap",
        "room": room.to_string(),
        "lastEventId": last_event_id,
        "oldestEventId": oldest,
    })
    .to_string()
}

/// An event's `data`: the seed's payload fields, camelCase, serialized once per event.
pub fn event_data(event: &QueueEvent) -> String {
    let mut data = Map::new();
    data.insert("jobId".into(), event.job.to_string().into());
    data.insert("taskId".into(), event.task.map(|t| t.get()).into());
    data.insert("projectId".into(), event.project.map(|p| p.get()).into());
    match &event.what {
        JobEvent::Queued { reason } => {
            data.insert("reason".into(), reason.as_str().into());
        }
        JobEvent::Started { attempt, .. } => {
            data.insert("attempt".into(), (*attempt).into());
        }
        JobEvent::Progress { progress } => {
            data.insert("progress".into(), (*progress).into());
        }
        JobEvent::Completed {
            result,
            duration_ms,
            ..
        } => {
            data.insert("result".into(), agentq_domain::event::result_value(result));
            data.insert("executionTimeMs".into(), (*duration_ms).into());
        }
        JobEvent::Failed {
            error,
            attempts_made,
        } => {
            data.insert("error".into(), error.as_str().into());
            data.insert("attemptsMade".into(), (*attempts_made).into());
        }
        JobEvent::Retrying {
            error,
            attempts_made,
            delay_ms,
        } => {
            data.insert("error".into(), error.as_str().into());
            data.insert("attemptsMade".into(), (*attempts_made).into());
            data.insert("delayMs".into(), (*delay_ms).into());
        }
        JobEvent::Cancelled => {}
        JobEvent::Log { lines } => {
            let lines: Vec<&str> = lines.lines().collect();
            data.insert("lines".into(), lines.into());
        }
        JobEvent::AwaitingApproval {
            question,
            timeout_secs,
        } => {
            data.insert("duringRun".into(), question.is_some().into());
            if let Some(question) = question {
                data.insert("question".into(), question.as_str().into());
                data.insert("timeoutSecs".into(), (*timeout_secs).into());
            }
        }
        JobEvent::Approved {
            comment,
            during_run,
        }
        | JobEvent::Rejected {
            comment,
            during_run,
        } => {
            data.insert("comment".into(), comment.as_str().into());
            data.insert("duringRun".into(), (*during_run).into());
        }
        JobEvent::Blocked { pending } => {
            data.insert("pending".into(), (*pending).into());
        }
        JobEvent::Usage(usage) => {
            let usage = agentq_domain::usage::UsageView::from(*usage);
            data.insert("usage".into(), serde_json::json!(usage));
        }
    }
    if let Some(state) = event.what.resulting_state() {
        data.insert("status".into(), state.as_str().into());
    }
    // the trace of the request that queued the job, for dashboards that link to traces
    if let Some(trace) = &event.trace {
        data.insert("traceparent".into(), trace.as_str().into());
    }
    Value::Object(data).to_string()
}

/// The Socket.IO packet of an event, `42["agent_job_started",{…}]`: the seed's payload
/// (`data`) with the room it was sent to and its stream id (the `lastEventId` to resume from).
pub fn socketio_event(event: &QueueEvent, room: Room, data: &str) -> String {
    // `data` is a JSON object; event names, rooms and ids need no escaping
    let fields = data.strip_prefix('{').unwrap_or("}");
    format!(
        r#"42["{}",{{"room":"{room}","eventId":"{}",{fields}]"#,
        event.kind().as_str(),
        event.id,
    )
}

/// A replayed item as a client of `protocol` reads it.
pub fn replayed(item: Replayed, protocol: Protocol) -> String {
    match (item, protocol) {
        (Replayed::Event(event, room), Protocol::Ws) => {
            self::event(&event, room, &event_data(&event))
        }
        (Replayed::Event(event, room), Protocol::SocketIo) => {
            socketio_event(&event, room, &event_data(&event))
        }
        (
            Replayed::Gap {
                room,
                last_event_id,
                oldest,
            },
            Protocol::Ws,
        ) => gap(room, &last_event_id, oldest),
        (
            Replayed::Gap {
                room,
                last_event_id,
                oldest,
            },
            Protocol::SocketIo,
        ) => {
            let data = json!({"room": room.to_string(), "lastEventId": last_event_id, "oldestEventId": oldest});
            format!(r#"42["gap",{data}]"#)
        }
    }
}

/// `{"event":…,"room":…,"id":…,"data":…}`. Event names, rooms and stream ids are plain ASCII
/// without quotes or backslashes, so they are written as they are.
pub fn event(event: &QueueEvent, room: Room, data: &str) -> String {
    format!(
        r#"{{"event":"{}","room":"{room}","id":"{}","data":{data}}}"#,
        event.kind().as_str(),
        event.id,
    )
}
