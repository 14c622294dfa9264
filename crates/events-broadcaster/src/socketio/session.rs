//! One Socket.IO connection (one Engine.IO session), as one task: the client's packets in
//! (over long-polling or WebSocket, and the upgrade from one to the other), its rooms' events
//! out, heartbeat, the re-check of what its user may see, and its end. As a `/ws` session: the
//! hub never waits for it (events wait in its bounded outbox; a full outbox ends it), and a
//! client that stops reading is dropped.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

use super::admission;
use super::packet::{self, Engine, Socket};
use super::polling::{Link, SessionEnd};
use crate::Context;
use crate::frame::{self, Refusal};
use crate::http::WebSocket;
use crate::hub::{Outbox, Protocol};
use crate::membership::{Membership, Refused, UserGone};

/// A write that takes longer than this means the peer stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Packets written before one flush.
const WRITE_BATCH: usize = 64;
/// How long a new connection has to send its `CONNECT`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub enum Transport {
    Polling { link: Arc<Link>, end: SessionEnd },
    WebSocket(Box<WebSocket>),
}

/// What a connection starts with.
pub struct Start {
    pub sid: String,
    pub transport: Transport,
    /// The token of the connection's first request (`Authorization` or `?token=`), for a
    /// `CONNECT` without `auth.token`.
    pub request_token: Option<String>,
    /// Its place under `AGENTQ_WS_MAX_CONNECTIONS`, given back when it ends.
    pub slot: OwnedSemaphorePermit,
}

/// Why a session ended.
enum End {
    /// Tell the client why (a `closing` event), then end the Socket.IO session (`41`): the
    /// client does not come back by itself.
    Close(&'static str),
    /// The server stops: tell the client, then close the transport, so that it reconnects (to
    /// another instance, or to this one when it is back) and resumes.
    Shutdown,
    /// The client left, stopped reading or broke the protocol.
    Gone,
}

type Step = Result<(), End>;

/// What a client sent, or did.
enum Received {
    Packet(String),
    Upgrade(Box<WebSocket>),
    Closed,
}

/// A client that completed its `CONNECT`.
struct Connected {
    membership: Membership,
    inbox: mpsc::Receiver<Utf8Bytes>,
    expiry: Instant,
}

struct Session {
    ctx: Arc<Context>,
    sid: String,
    transport: Transport,
    request_token: Option<String>,
    connected: Option<Connected>,
    stop: CancellationToken,
}

/// Runs a connection until the client leaves, misbehaves, falls behind, or the server stops.
pub async fn serve(ctx: Arc<Context>, start: Start) {
    let Start {
        sid,
        transport,
        request_token,
        slot,
    } = start;
    let mut session = Session {
        stop: ctx.shutdown.child_token(),
        ctx,
        sid,
        transport,
        request_token,
        connected: None,
    };
    let end = session.run().await;
    let Session {
        ctx,
        sid,
        mut transport,
        connected,
        ..
    } = session;
    let was_connected = connected.is_some();
    // leave the rooms first: nothing more is queued for a client that is going
    drop(connected);
    let closing = |reason: &str| {
        Utf8Bytes::from(packet::event(
            "closing",
            &json!({ "reason": reason }).to_string(),
        ))
    };
    let last: Vec<Utf8Bytes> = match end {
        End::Close(reason) if was_connected => {
            vec![closing(reason), Utf8Bytes::from_static(packet::DISCONNECT)]
        }
        End::Shutdown if was_connected => vec![closing("server shutting down")],
        _ => Vec::new(),
    };
    match &mut transport {
        Transport::WebSocket(ws) => {
            let code = if matches!(end, End::Shutdown) {
                CloseCode::Away
            } else {
                CloseCode::Normal
            };
            let goodbye = async {
                for text in last {
                    ws.feed(Message::Text(text)).await?;
                }
                ws.send(Message::Close(Some(CloseFrame {
                    code,
                    reason: "".into(),
                })))
                .await
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), goodbye).await;
        }
        Transport::Polling { link, .. } => {
            for text in last {
                link.push(text, usize::MAX);
            }
            link.close(packet::CLOSE);
        }
    }
    ctx.socketio_links.remove(&sid);
    drop(slot);
}

impl Session {
    async fn run(&mut self) -> End {
        let settings = &self.ctx.settings;
        let (ping_every, recheck_every) = (settings.ping_every, settings.recheck_every);
        let started = Instant::now();
        let every = ping_every.min(recheck_every).min(CONNECT_TIMEOUT);
        let mut housekeeping = tokio::time::interval_at(Instant::now() + every, every);
        let mut last_heard = Instant::now();
        let mut last_ping = Instant::now();
        let mut last_recheck = Instant::now();
        let stop = self.stop.clone().cancelled_owned();
        tokio::pin!(stop);
        if let Transport::WebSocket(_) = self.transport {
            // a connection that starts on WebSocket gets its `open` packet there
            let open = packet::open(&self.sid, false, ping_every.as_millis(), super::MAX_PAYLOAD);
            if let Err(end) = self.send(Utf8Bytes::from(open)).await {
                return end;
            }
        }
        loop {
            let step = tokio::select! {
                biased;
                Some(first) = next_event(&mut self.connected) => self.write_events(first).await,
                received = self.transport.recv() => {
                    last_heard = Instant::now();
                    match received {
                        Received::Packet(text) => Box::pin(self.on_packet(&text)).await,
                        Received::Upgrade(ws) => self.upgrade(ws).await,
                        Received::Closed => Err(End::Gone),
                    }
                }
                () = &mut stop => Err(if self.ctx.shutdown.is_cancelled() {
                    End::Shutdown
                } else {
                    End::Close("too slow: events were dropped")
                }),
                _ = housekeeping.tick() => {
                    let now = Instant::now();
                    if self.connected.as_ref().is_some_and(|c| now >= c.expiry) {
                        Err(End::Close("token expired"))
                    } else if self.connected.is_none() && now.duration_since(started) > CONNECT_TIMEOUT {
                        Err(End::Gone)
                    } else if now.duration_since(last_heard) > ping_every * 2 {
                        // Engine.IO's heartbeat: the client answers every ping
                        Err(End::Gone)
                    } else {
                        let mut step = Ok(());
                        if now.duration_since(last_ping) >= ping_every {
                            last_ping = now;
                            step = self.send(Utf8Bytes::from_static(packet::PING)).await;
                        }
                        if step.is_ok() && now.duration_since(last_recheck) >= recheck_every {
                            last_recheck = now;
                            step = Box::pin(self.recheck()).await;
                        }
                        step
                    }
                }
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// An Engine.IO packet from the client.
    async fn on_packet(&mut self, text: &str) -> Step {
        match Engine::parse(text) {
            Some(Engine::Message(message)) => self.on_message(message).await,
            // Engine.IO v4 servers ping; a client's ping (v3 habit) still gets its pong
            Some(Engine::Ping(data)) => self.send(Utf8Bytes::from(format!("3{data}"))).await,
            Some(Engine::Pong(_) | Engine::Noop | Engine::Upgrade) => Ok(()),
            Some(Engine::Close) | None => Err(End::Gone),
        }
    }

    /// A Socket.IO packet from the client.
    async fn on_message(&mut self, text: &str) -> Step {
        match Socket::parse(text) {
            Ok(Socket::Connect { namespace, .. }) if namespace != "/" => {
                let refusal = packet::connect_error(&namespace, "Invalid namespace");
                self.send(Utf8Bytes::from(refusal)).await
            }
            Ok(Socket::Connect { auth, .. }) => {
                if self.connected.is_some() {
                    return Ok(());
                }
                self.connect(auth.as_ref()).await
            }
            Ok(Socket::Event { namespace, .. }) if namespace != "/" => Ok(()),
            Ok(Socket::Event {
                ack, name, args, ..
            }) => {
                if self.connected.is_none() {
                    return Ok(());
                }
                self.on_event(&name, args.into_iter().next(), ack).await
            }
            Ok(Socket::Ack) => Ok(()),
            Ok(Socket::Disconnect) | Ok(Socket::Binary) | Err(_) => Err(End::Gone),
        }
    }

    /// `CONNECT` to `/`: admitted (and then in `notifications`, resumed from
    /// `auth.lastEventId`) or refused with a connect error.
    async fn connect(&mut self, auth: Option<&Value>) -> Step {
        // the request's token is needed for this one check; not kept for the connection's life
        let request_token = self.request_token.take();
        let admitted = admission::admit(&self.ctx, auth, request_token.as_deref()).await;
        let admission = match admitted {
            Ok(admission) => admission,
            Err(message) => {
                let refusal = packet::connect_error("/", message);
                return self.send(Utf8Bytes::from(refusal)).await;
            }
        };
        let (outbox, inbox) = mpsc::channel(self.ctx.settings.client_buffer);
        let mailbox = self
            .ctx
            .hub
            .new_client(Outbox::new(Protocol::SocketIo, outbox), self.stop.clone());
        let expires_in = admission
            .token_expires_at
            .saturating_sub(agentq_auth::now_secs());
        self.connected = Some(Connected {
            membership: Membership::new(self.ctx.clone(), admission.identity, mailbox),
            inbox,
            expiry: Instant::now() + Duration::from_secs(expires_in),
        });
        self.send(Utf8Bytes::from(packet::connected(&super::new_sid())))
            .await?;
        self.subscribe("notifications", admission.last_event_id.as_deref(), None)
            .await
    }

    async fn on_event(&mut self, name: &str, arg: Option<Value>, ack: Option<u64>) -> Step {
        let Some((room, last_event_id)) = super::room_args(arg) else {
            let message = match name {
                "subscribe" | "unsubscribe" => "subscribe takes a room name or {room, lastEventId}",
                _ => "events a client may send are subscribe and unsubscribe",
            };
            return self
                .answer(ack, refusal(Refusal::BadFrame, message, None))
                .await;
        };
        match name {
            "subscribe" => self.subscribe(&room, last_event_id.as_deref(), ack).await,
            "unsubscribe" => {
                let Some(connected) = self.connected.as_mut() else {
                    return Ok(());
                };
                let answer = match connected.membership.leave(&room) {
                    Ok(room) => json!({"ok": true, "room": room.to_string()}),
                    Err(refused) => refusal(refused.refusal, refused.message, Some(&room)),
                };
                self.answer(ack, answer).await
            }
            _ => {
                let message = "events a client may send are subscribe and unsubscribe";
                self.answer(ack, refusal(Refusal::BadFrame, message, None))
                    .await
            }
        }
    }

    /// Joins, acknowledges, then sends what the client missed before anything live (live
    /// events wait in the outbox meanwhile).
    async fn subscribe(
        &mut self,
        name: &str,
        last_event_id: Option<&str>,
        ack: Option<u64>,
    ) -> Step {
        let Some(connected) = self.connected.as_mut() else {
            return Ok(());
        };
        let (room, replay) = match connected.membership.join(name, last_event_id).await {
            Ok(joined) => joined,
            Err(refused) => {
                let answer = refusal(refused.refusal, refused.message, Some(name));
                return self.answer(ack, answer).await;
            }
        };
        self.answer(ack, json!({"ok": true, "room": room.to_string()}))
            .await?;
        let Some(mut replay) = replay else {
            return Ok(());
        };
        loop {
            match replay.next(&self.ctx).await {
                Ok(Some(page)) => {
                    for item in page {
                        let text = frame::replayed(item, Protocol::SocketIo);
                        self.feed(Utf8Bytes::from(text)).await?;
                    }
                    self.flush().await?;
                }
                Ok(None) => return Ok(()),
                Err(Refused {
                    refusal: code,
                    message,
                }) => {
                    let error = refusal(code, message, Some(&room.to_string()));
                    let text = packet::event("room_error", &error.to_string());
                    return self.send(Utf8Bytes::from(text)).await;
                }
            }
        }
    }

    /// Leaves every room the user may no longer see, telling the client which.
    async fn recheck(&mut self) -> Step {
        let Some(connected) = self.connected.as_mut() else {
            return Ok(());
        };
        let withdrawn = connected
            .membership
            .recheck()
            .await
            .map_err(|UserGone| End::Close("user no longer exists"))?;
        for room in withdrawn {
            let notice = json!({
                "room": room.to_string(),
                "reason": "your access to this room was withdrawn",
            });
            let text = packet::event("unsubscribed", &notice.to_string());
            self.send(Utf8Bytes::from(text)).await?;
        }
        Ok(())
    }

    /// The polling client upgraded to `ws` (its probe done): what waited for its next poll
    /// goes there, and the poll in flight ends with a `noop`.
    async fn upgrade(&mut self, mut ws: Box<WebSocket>) -> Step {
        let Transport::Polling { link, .. } = &self.transport else {
            return Ok(());
        };
        let waiting = link.take_all();
        link.close(packet::NOOP);
        for text in waiting {
            if ws.feed(Message::Text(text)).await.is_err() {
                return Err(End::Gone);
            }
        }
        self.transport = Transport::WebSocket(ws);
        self.flush().await
    }

    /// Answers a client's acknowledgement request (nothing when it asked for none).
    async fn answer(&mut self, ack: Option<u64>, answer: Value) -> Step {
        match ack {
            Some(id) => self.send(Utf8Bytes::from(packet::ack(id, &answer))).await,
            None => Ok(()),
        }
    }

    /// Writes `first` and whatever else is already waiting, then flushes once.
    async fn write_events(&mut self, first: Utf8Bytes) -> Step {
        self.feed(first).await?;
        for _ in 1..WRITE_BATCH {
            let next = match self.connected.as_mut() {
                Some(connected) => connected.inbox.try_recv(),
                None => break,
            };
            match next {
                Ok(next) => self.feed(next).await?,
                Err(_) => break,
            }
        }
        self.flush().await
    }

    async fn send(&mut self, text: Utf8Bytes) -> Step {
        self.feed(text).await?;
        self.flush().await
    }

    async fn feed(&mut self, text: Utf8Bytes) -> Step {
        match &mut self.transport {
            Transport::WebSocket(ws) => {
                match tokio::time::timeout(WRITE_TIMEOUT, ws.feed(Message::Text(text))).await {
                    Ok(Ok(())) => Ok(()),
                    _ => Err(End::Gone),
                }
            }
            // as a WebSocket write: a client that polls nothing for that long has stopped
            Transport::Polling { link, .. } => {
                let deadline = Instant::now() + WRITE_TIMEOUT;
                if link
                    .push_or_wait(text, self.ctx.settings.client_buffer, deadline)
                    .await
                {
                    Ok(())
                } else {
                    Err(End::Gone)
                }
            }
        }
    }

    async fn flush(&mut self) -> Step {
        match &mut self.transport {
            Transport::WebSocket(ws) => match tokio::time::timeout(WRITE_TIMEOUT, ws.flush()).await
            {
                Ok(Ok(())) => Ok(()),
                _ => Err(End::Gone),
            },
            Transport::Polling { .. } => Ok(()),
        }
    }
}

impl Transport {
    /// The next thing the client sent or did. Cancel-safe: every await in it is.
    async fn recv(&mut self) -> Received {
        match self {
            Self::Polling { end, .. } => tokio::select! {
                packet = end.incoming.recv() => packet.map_or(Received::Closed, Received::Packet),
                ws = end.upgrade.recv() => ws.map_or(Received::Closed, Received::Upgrade),
            },
            Self::WebSocket(ws) => loop {
                match ws.next().await {
                    Some(Ok(Message::Text(text))) => return Received::Packet(text.to_string()),
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => {}
                    // binary attachments are not part of what agentq speaks; close and errors
                    // end the connection
                    _ => return Received::Closed,
                }
            },
        }
    }
}

/// The next live event of a connected client (never, before it connects).
async fn next_event(connected: &mut Option<Connected>) -> Option<Utf8Bytes> {
    match connected {
        Some(connected) => connected.inbox.recv().await,
        None => std::future::pending().await,
    }
}

/// `{ok: false, code, error[, room]}`: the answer to a refused request.
fn refusal(refusal: Refusal, message: &str, room: Option<&str>) -> Value {
    let mut answer = json!({"ok": false, "code": refusal.code(), "error": message});
    if let Some(room) = room {
        answer["room"] = room.into();
    }
    answer
}
