//! The same rooms and events over Socket.IO (Engine.IO v4, Socket.IO protocol v5) at
//! `/socket.io/`, for the seed's dashboard and any `socket.io-client` (DESIGN.md §6).
//! socketioxide speaks the protocol and both transports; what a client may see, in which order,
//! and how fast it must read is decided here, as for `/ws`, by the hub and the membership.
//!
//! - Connect: the JWT from `auth.token`, `Authorization: Bearer` or `?token=`; refused with a
//!   connect error (the client's `connect_error`) that says why.
//! - Every socket is in `notifications` from the start; `auth.lastEventId` replays what it
//!   missed there. `subscribe` (`"project:7"` or `{room, lastEventId}`) and `unsubscribe` are
//!   acknowledged with `{ok: true, room}` or `{ok: false, code, error}`.
//! - Events: the seed's names, its payload fields plus `room` and `eventId`.

mod admission;
mod session;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::service::SocketIoService;
use socketioxide::{SocketIo, TransportType};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::Context;
use crate::frame::Refusal;
use crate::membership::Refused;
use admission::Admission;
use session::Command;

/// The service socketioxide answers `/socket.io/` requests with.
pub type Service = SocketIoService<engineioxide::service::NotFoundService>;

/// Requests one socket may have waiting (subscribe, unsubscribe); more are refused.
const COMMAND_BUFFER: usize = 32;
/// Packets waiting in socketioxide for one socket's transport.
const TRANSPORT_BUFFER: usize = 256;
/// Largest polling body or WebSocket message a client may send (as on `/ws`).
const MAX_PAYLOAD: u64 = 64 * 1024;

/// The Socket.IO service, with its handlers bound to `ctx`'s hub and settings.
pub fn service(ctx: &Arc<Context>) -> (Service, SocketIo) {
    let (service, io) = SocketIo::builder()
        .ping_interval(ctx.settings.ping_every)
        .ping_timeout(ctx.settings.ping_every)
        .connect_timeout(Duration::from_secs(10))
        .max_buffer_size(TRANSPORT_BUFFER)
        .max_payload(MAX_PAYLOAD)
        .transports([TransportType::Polling, TransportType::Websocket])
        .build_svc();
    let admit_ctx = ctx.clone();
    let connect_ctx = ctx.clone();
    io.ns(
        "/",
        (move |socket: SocketRef| on_connect(socket, connect_ctx.clone())).with(
            move |socket: SocketRef, TryData(auth): TryData<Value>| {
                admission::admit(admit_ctx.clone(), socket, auth.ok())
            },
        ),
    );
    (service, io)
}

/// Registers the socket's handlers and starts its session.
async fn on_connect(socket: SocketRef, ctx: Arc<Context>) {
    let Some(admission) = socket.extensions.remove::<Admission>() else {
        // admitted sockets always carry their admission; nothing else reaches here
        let _ = socket.disconnect();
        return;
    };
    let (commands, inbox) = mpsc::channel(COMMAND_BUFFER);
    let to_session = commands.clone();
    socket.on(
        "subscribe",
        move |TryData(args): TryData<Value>, ack: AckSender| {
            let commands = to_session.clone();
            async move {
                match subscribe_args(args.ok()) {
                    Some((room, last_event_id)) => forward(
                        &commands,
                        Command::Subscribe {
                            room,
                            last_event_id,
                            ack,
                        },
                    ),
                    None => refuse(
                        ack,
                        Refusal::BadFrame,
                        "subscribe takes a room name or {room, lastEventId}",
                    ),
                }
            }
        },
    );
    let to_session = commands.clone();
    socket.on(
        "unsubscribe",
        move |TryData(args): TryData<Value>, ack: AckSender| {
            let commands = to_session.clone();
            async move {
                match subscribe_args(args.ok()) {
                    Some((room, _)) => forward(&commands, Command::Unsubscribe { room, ack }),
                    None => refuse(
                        ack,
                        Refusal::BadFrame,
                        "unsubscribe takes a room name or {room}",
                    ),
                }
            }
        },
    );
    socket.on_fallback(async |ack: AckSender| {
        refuse(
            ack,
            Refusal::BadFrame,
            "events a client may send are subscribe and unsubscribe",
        );
    });
    let gone = CancellationToken::new();
    let on_gone = gone.clone();
    socket.on_disconnect(move || {
        on_gone.cancel();
        async {}
    });
    // a socket that left before its handler was registered would never call it
    if !socket.connected() {
        gone.cancel();
    }
    drop(commands);
    let tasks = ctx.connections.clone();
    tasks.spawn(session::serve(socket, ctx, admission, inbox, gone));
}

/// `"project:7"`, `{"room": "project:7", "lastEventId": "…"}`, or (as socket.io-client sends
/// several arguments) either of them first in an array.
fn subscribe_args(args: Option<Value>) -> Option<(String, Option<String>)> {
    match args? {
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
        Value::Array(mut items) if !items.is_empty() => subscribe_args(Some(items.swap_remove(0))),
        _ => None,
    }
}

fn forward(commands: &mpsc::Sender<Command>, command: Command) {
    if let Err(refused) = commands.try_send(command) {
        let ack = match refused.into_inner() {
            Command::Subscribe { ack, .. } | Command::Unsubscribe { ack, .. } => ack,
        };
        refuse(
            ack,
            Refusal::Unavailable,
            "too many requests waiting; wait for their answers",
        );
    }
}

/// Answers a request's acknowledgement with `{ok: false, code, error}` (no-op without one).
fn refuse(ack: AckSender, refusal: Refusal, message: &'static str) {
    let _ = ack.send(&self::refusal(Refused { refusal, message }));
}

/// `{ok: false, code, error}`: the acknowledgement of a refused request.
fn refusal(refused: Refused) -> Value {
    json!({"ok": false, "code": refused.refusal.code(), "error": refused.message})
}
