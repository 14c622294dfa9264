//! The JSON frames of the protocol (DESIGN.md §6, `proto/events.schema.json`).

use agentq_domain::JobEventKind;
use agentq_queue::QueueEvent;
use serde::Deserialize;
use serde_json::{Map, Value, json};

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
    fn code(self) -> &'static str {
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
    let number = |name| event.number(name).map_or(Value::Null, Value::from);
    let text = |name| event.field(name).map_or(Value::Null, Value::from);
    match event.kind {
        JobEventKind::Queued => {
            data.insert("reason".into(), text("reason"));
        }
        JobEventKind::Started => {
            data.insert("attempt".into(), number("attempt"));
        }
        JobEventKind::Progress => {
            data.insert("progress".into(), number("progress"));
        }
        JobEventKind::Completed => {
            let result = event
                .field("result")
                .map_or(Value::Null, agentq_domain::event::result_value);
            data.insert("result".into(), result);
            data.insert("executionTimeMs".into(), number("duration_ms"));
        }
        JobEventKind::Failed => {
            data.insert("error".into(), text("error"));
            data.insert("attemptsMade".into(), number("attempts_made"));
        }
        JobEventKind::Retrying => {
            data.insert("error".into(), text("error"));
            data.insert("attemptsMade".into(), number("attempts_made"));
            data.insert("delayMs".into(), number("delay_ms"));
        }
        JobEventKind::Cancelled => {}
        JobEventKind::Log => {
            let lines: Vec<&str> = event
                .field("lines")
                .map_or(Vec::new(), |l| l.lines().collect());
            data.insert("lines".into(), lines.into());
        }
    }
    if let Some(state) = event.kind.resulting_state() {
        data.insert("status".into(), state.as_str().into());
    }
    // the trace of the request that queued the job, for dashboards that link to traces
    if let Some(trace) = event.field("trace") {
        data.insert("traceparent".into(), trace.into());
    }
    Value::Object(data).to_string()
}

/// `{"event":…,"room":…,"id":…,"data":…}`. Event names, rooms and stream ids are plain ASCII
/// without quotes or backslashes, so they are written as they are.
pub fn event(event: &QueueEvent, room: Room, data: &str) -> String {
    format!(
        r#"{{"event":"{}","room":"{room}","id":"{}","data":{data}}}"#,
        event.kind.as_str(),
        event.id,
    )
}
