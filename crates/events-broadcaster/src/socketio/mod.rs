//! The same rooms and events over Socket.IO (Engine.IO v4, Socket.IO protocol v5) at
//! `/socket.io/`, for the seed's dashboard and any `socket.io-client` (DESIGN.md §6).
//!
//! - Connect: the JWT from `auth.token`, `Authorization: Bearer` or `?token=`; refused with a
//!   connect error (the client's `connect_error`) that says why.
//! - Every socket is in `notifications` from the start; `auth.lastEventId` replays what it
//!   missed there. `subscribe` (`"project:7"` or `{room, lastEventId}`) and `unsubscribe` are
//!   acknowledged with `{ok: true, room}` or `{ok: false, code, error}`.
//! - Events: the seed's names, its payload fields plus `room` and `eventId`.
//!
//! The protocol is written here rather than taken from socketioxide, which serves it well but
//! holds about 28 KiB per idle connection (three tasks and their buffers, measured with 3,000
//! sockets), above the memory target of `just bench ws` (a third of the Node server's ~20 KiB).
//! A connection here is one task, like a `/ws` one, and the hub encodes each event once for
//! all of a room's Socket.IO clients. Both transports are served: long-polling (`polling.rs`)
//! and WebSocket, and the upgrade from one to the other; binary packets are refused.

mod admission;
mod engine;
mod packet;
mod polling;
mod session;

use base64::Engine as _;
use serde_json::Value;

pub use engine::handle;
pub use polling::Links;

/// The largest polling body or WebSocket message a client may send, and the largest polling
/// answer the server sends (as on `/ws`).
const MAX_PAYLOAD: usize = 64 * 1024;

/// A session or socket id: 128 random bits. A polling request is authenticated by its session
/// id alone, so it must not be guessable.
fn new_sid() -> String {
    let mut bytes = [0u8; 16];
    // the system's randomness failing leaves no safe id to give: refuse the connection
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The argument of `subscribe`/`unsubscribe`: `"project:7"` or
/// `{"room": "project:7", "lastEventId": "…"}`.
fn room_args(arg: Option<Value>) -> Option<(String, Option<String>)> {
    match arg? {
        Value::String(room) => Some((room, None)),
        Value::Object(mut fields) => {
            let Some(Value::String(room)) = fields.remove("room") else {
                return None;
            };
            match fields.remove("lastEventId") {
                None | Some(Value::Null) => Some((room, None)),
                Some(Value::String(id)) => Some((room, Some(id))),
                Some(_) => None,
            }
        }
        _ => None,
    }
}
