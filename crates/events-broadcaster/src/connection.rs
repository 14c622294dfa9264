//! One client's WebSocket session: its frames in, its rooms' events out, keepalive, and the
//! periodic re-check of what its user may see. One task per client; it never blocks the hub
//! (events wait in the client's bounded outbox) and a write that stalls ends the session.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use agentq_auth::Identity;
use agentq_domain::UserId;
use agentq_queue::EventId;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use crate::Context;
use crate::access::{self, Grant};
use crate::frame::{self, ClientFrame, Refusal};
use crate::hub::{Mailbox, may_see};
use crate::room::Room;

/// A write that takes longer than this means the peer stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Frames written before one flush.
const WRITE_BATCH: usize = 64;
/// Events one replay read takes.
const REPLAY_BATCH: usize = 500;

/// Why a session ended.
enum End {
    /// Tell the client why, with a close frame.
    Close(CloseCode, &'static str),
    /// The peer is gone or not listening; nothing more to say.
    Gone,
}

type Step = Result<(), End>;

/// When the session last heard from its peer, pinged it and re-checked its access.
struct Clock {
    expiry: Instant,
    last_heard: Instant,
    last_ping: Instant,
    last_recheck: Instant,
}

struct Session<S> {
    ws: WebSocketStream<S>,
    ctx: Arc<Context>,
    user: UserId,
    identity: Identity,
    mailbox: Mailbox,
    joined: HashMap<Room, Grant>,
}

/// Runs a session until the client leaves, misbehaves, falls behind, or the server stops.
pub async fn serve<S>(
    ws: WebSocketStream<S>,
    ctx: Arc<Context>,
    identity: Identity,
    token_expires_at: u64,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (outbox, mut inbox) = mpsc::channel(ctx.settings.client_buffer);
    let mailbox = ctx.hub.new_client(outbox, ctx.shutdown.child_token());
    let mut session = Session {
        ws,
        user: identity.user.id,
        identity,
        mailbox,
        joined: HashMap::new(),
        ctx,
    };
    let end = session.run(&mut inbox, token_expires_at).await;
    session
        .ctx
        .hub
        .forget(session.mailbox.client, session.joined.keys().copied());
    if let End::Close(code, reason) = end {
        let close = Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }));
        let _ = tokio::time::timeout(Duration::from_secs(1), session.ws.send(close)).await;
    }
}

impl<S> Session<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    async fn run(&mut self, inbox: &mut mpsc::Receiver<Utf8Bytes>, token_expires_at: u64) -> End {
        let settings = &self.ctx.settings;
        let (ping_every, recheck_every) = (settings.ping_every, settings.recheck_every);
        // one timer for keepalive, re-checks and token expiry: fewer wakeups to poll per event
        let every = ping_every.min(recheck_every);
        let mut housekeeping = tokio::time::interval_at(Instant::now() + every, every);
        let mut clock = Clock {
            expiry: Instant::now()
                + Duration::from_secs(token_expires_at.saturating_sub(agentq_auth::now_secs())),
            last_heard: Instant::now(),
            last_ping: Instant::now(),
            last_recheck: Instant::now(),
        };
        // made once, not per loop turn, so that it registers with the token once
        let stop = self.mailbox.stop.clone().cancelled_owned();
        tokio::pin!(stop);
        loop {
            let step = tokio::select! {
                biased;
                Some(first) = inbox.recv() => self.write_events(first, inbox).await,
                message = self.ws.next() => {
                    clock.last_heard = Instant::now();
                    self.on_message(message).await
                }
                // after the outbox: checking a token takes a lock, and events come first
                () = &mut stop => Err(if self.ctx.shutdown.is_cancelled() {
                    End::Close(CloseCode::Away, "server shutting down")
                } else {
                    End::Close(CloseCode::Again, "too slow: events were dropped")
                }),
                _ = housekeeping.tick() => {
                    Box::pin(self.housekeeping(&mut clock, ping_every, recheck_every)).await
                }
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    /// Token expiry, keepalive (a peer silent for two pings is gone) and the access re-check.
    async fn housekeeping(
        &mut self,
        clock: &mut Clock,
        ping_every: Duration,
        recheck_every: Duration,
    ) -> Step {
        let now = Instant::now();
        if now >= clock.expiry {
            return Err(End::Close(CloseCode::Policy, "token expired"));
        }
        if now.duration_since(clock.last_ping) >= ping_every {
            if now.duration_since(clock.last_heard) > ping_every * 2 {
                return Err(End::Gone);
            }
            clock.last_ping = now;
            self.write(Message::Ping(Default::default())).await?;
        }
        if now.duration_since(clock.last_recheck) >= recheck_every {
            clock.last_recheck = now;
            self.recheck().await?;
        }
        Ok(())
    }

    async fn on_message(&mut self, message: Option<Result<Message, WsError>>) -> Step {
        match message {
            // boxed: subscribing (database, replay) is rare, and its future is large; the
            // session's own future stays small for the many idle connections
            Some(Ok(Message::Text(text))) => Box::pin(self.on_frame(&text)).await,
            Some(Ok(Message::Binary(_))) => {
                self.send(frame::error(
                    Refusal::BadFrame,
                    "frames are JSON text",
                    None,
                ))
                .await
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => Ok(()),
            // tungstenite answers the close itself; the flush sends that answer
            Some(Ok(Message::Close(_))) => {
                let _ = tokio::time::timeout(WRITE_TIMEOUT, self.ws.flush()).await;
                Err(End::Gone)
            }
            Some(Err(WsError::Capacity(_))) => Err(End::Close(CloseCode::Size, "frame too large")),
            Some(Err(_)) | None => Err(End::Gone),
        }
    }

    async fn on_frame(&mut self, text: &str) -> Step {
        let parsed: ClientFrame = match serde_json::from_str(text) {
            Ok(parsed) => parsed,
            Err(err) => {
                let message = format!("not a frame this server understands: {err}");
                return self
                    .send(frame::error(Refusal::BadFrame, &message, None))
                    .await;
            }
        };
        match parsed {
            ClientFrame::Ping => self.send(frame::pong()).await,
            ClientFrame::Subscribe {
                room,
                last_event_id,
            } => self.subscribe(&room, last_event_id.as_deref()).await,
            ClientFrame::Unsubscribe { room } => match room.parse::<Room>() {
                Ok(room) => {
                    if self.joined.remove(&room).is_some() {
                        self.ctx.hub.leave(self.mailbox.client, room);
                    }
                    self.send(frame::unsubscribed(room)).await
                }
                Err(()) => {
                    self.refuse(Refusal::UnknownRoom, "no such room", &room)
                        .await
                }
            },
        }
    }

    async fn subscribe(&mut self, name: &str, last_event_id: Option<&str>) -> Step {
        let Ok(room) = name.parse::<Room>() else {
            let message = "rooms are notifications, project:<id> and job:<id>";
            return self.refuse(Refusal::UnknownRoom, message, name).await;
        };
        let after = match last_event_id.map(EventId::parse) {
            None => None,
            Some(Some(id)) => Some(id),
            Some(None) => {
                let message = "lastEventId must be a stream id such as 1764220000000-0";
                return self.refuse(Refusal::BadEventId, message, name).await;
            }
        };
        let grant = match access::grant(&self.ctx.db, &self.identity, room).await {
            Ok(Some(grant)) => grant,
            Ok(None) => {
                return self
                    .refuse(Refusal::Forbidden, "you may not join this room", name)
                    .await;
            }
            Err(err) => {
                tracing::warn!(error = %err, "room check failed");
                let message = "cannot check access right now; try again";
                return self.refuse(Refusal::Unavailable, message, name).await;
            }
        };
        // joined before the acknowledgement, so that every event after `subscribed` reaches the
        // client (it waits in the outbox until this task has written the acknowledgement); the
        // other order lost the events dispatched between the two under load
        let live_after = self.ctx.hub.join(&self.mailbox, room, grant.only.clone());
        self.send(frame::subscribed(room)).await?;
        let only = grant.only.clone();
        self.joined.insert(room, grant);
        match (after, live_after) {
            (Some(after), Some(until)) if after < until => {
                self.replay(room, only.as_ref(), after, until).await
            }
            _ => Ok(()),
        }
    }

    /// Sends the room's events in `(after, until]` from the stream, before any live one: live
    /// events wait in the outbox meanwhile. Reports a gap when some were trimmed.
    async fn replay(
        &mut self,
        room: Room,
        only: Option<&agentq_store::Scope>,
        after: EventId,
        until: EventId,
    ) -> Step {
        match self.ctx.queue.events_missing_after(after).await {
            Ok(Some(oldest)) => {
                let text = frame::gap(room, &after.to_string(), oldest.map(|id| id.to_string()));
                self.send(text).await?;
            }
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(error = %err, "cannot replay");
                let message = "cannot replay missed events right now";
                return self
                    .refuse(Refusal::Unavailable, message, &room.to_string())
                    .await;
            }
        }
        let mut cursor = after.to_string();
        let mut scanned = 0;
        loop {
            let page = match self.ctx.queue.events_after(&cursor, REPLAY_BATCH).await {
                Ok(page) => page,
                Err(err) => {
                    tracing::warn!(error = %err, "replay interrupted");
                    let message = "replay interrupted; subscribe again with your lastEventId";
                    return self
                        .refuse(Refusal::Unavailable, message, &room.to_string())
                        .await;
                }
            };
            let full = page.entries == REPLAY_BATCH;
            scanned += page.entries;
            let mut written = 0;
            for event in &page.events {
                if EventId::parse(&event.id).is_none_or(|id| id > until) {
                    return self.flush().await;
                }
                cursor.clone_from(&event.id);
                if Room::for_event(event).any(|r| r == room) && may_see(only, event) {
                    let text = frame::event(event, room, &frame::event_data(event));
                    self.feed(Message::Text(text.into())).await?;
                    written += 1;
                }
            }
            metrics::counter!("agentq_ws_events_replayed_total").increment(written);
            self.flush().await?;
            // entries that could not be parsed were skipped, not a reason to stop
            if let Some(last) = page.last_id {
                cursor = last;
            }
            if !full {
                return Ok(());
            }
            if scanned >= self.ctx.settings.replay_max {
                // too far behind to replay all of it: say what is skipped, then go on live
                let text = frame::gap(room, &cursor, Some(until.to_string()));
                return self.send(text).await;
            }
        }
    }

    /// Reads the user again; leaves every room they may no longer see.
    async fn recheck(&mut self) -> Step {
        let identity = match self.ctx.identities.resolve(&self.ctx.db, self.user).await {
            Ok(Some(identity)) => identity,
            Ok(None) => return Err(End::Close(CloseCode::Policy, "user no longer exists")),
            Err(err) => {
                tracing::warn!(error = %err, "cannot re-check a client's access");
                return Ok(());
            }
        };
        let rooms: Vec<(Room, Grant)> = self.joined.iter().map(|(r, g)| (*r, g.clone())).collect();
        for (room, grant) in rooms {
            match access::regrant(&identity, room, grant.project) {
                Some(fresh) if fresh == grant => {}
                Some(fresh) => {
                    self.ctx.hub.join(&self.mailbox, room, fresh.only.clone());
                    self.joined.insert(room, fresh);
                }
                None => {
                    self.joined.remove(&room);
                    self.ctx.hub.leave(self.mailbox.client, room);
                    let message = "your access to this room was withdrawn";
                    self.refuse(Refusal::Forbidden, message, &room.to_string())
                        .await?;
                }
            }
        }
        self.identity = identity;
        Ok(())
    }

    async fn refuse(&mut self, refusal: Refusal, message: &str, room: &str) -> Step {
        self.send(frame::error(refusal, message, Some(room))).await
    }

    /// Writes `first` and whatever else is already waiting, then flushes once.
    async fn write_events(
        &mut self,
        first: Utf8Bytes,
        inbox: &mut mpsc::Receiver<Utf8Bytes>,
    ) -> Step {
        self.feed(Message::Text(first)).await?;
        for _ in 1..WRITE_BATCH {
            match inbox.try_recv() {
                Ok(next) => self.feed(Message::Text(next)).await?,
                Err(_) => break,
            }
        }
        self.flush().await
    }

    async fn send(&mut self, text: String) -> Step {
        self.write(Message::Text(text.into())).await
    }

    async fn write(&mut self, message: Message) -> Step {
        self.feed(message).await?;
        self.flush().await
    }

    async fn feed(&mut self, message: Message) -> Step {
        match tokio::time::timeout(WRITE_TIMEOUT, self.ws.feed(message)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(End::Gone),
        }
    }

    async fn flush(&mut self) -> Step {
        match tokio::time::timeout(WRITE_TIMEOUT, self.ws.flush()).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(End::Gone),
        }
    }
}
