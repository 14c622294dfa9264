//! One client's WebSocket session: its frames in, its rooms' events out, keepalive, and the
//! periodic re-check of what its user may see. One task per client; it never blocks the hub
//! (events wait in the client's bounded outbox) and a write that stalls ends the session.

use std::sync::Arc;
use std::time::Duration;

use agentq_auth::Identity;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use crate::Context;
use crate::frame::{self, ClientFrame, Refusal};
use crate::hub::{Mailbox, Outbox, Protocol};
use crate::membership::{Membership, Refused, UserGone};

/// A write that takes longer than this means the peer stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Frames written before one flush.
const WRITE_BATCH: usize = 64;

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
    membership: Membership,
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
    let mailbox = ctx.hub.new_client(
        Outbox::new(Protocol::Ws, outbox),
        ctx.shutdown.child_token(),
    );
    let mut session = Session {
        ws,
        membership: Membership::new(ctx.clone(), identity, mailbox.clone()),
        ctx,
    };
    let end = session.run(&mut inbox, &mailbox, token_expires_at).await;
    drop(session.membership);
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
    async fn run(
        &mut self,
        inbox: &mut mpsc::Receiver<Utf8Bytes>,
        mailbox: &Mailbox,
        token_expires_at: u64,
    ) -> End {
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
        let stop = mailbox.stop.clone().cancelled_owned();
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
            ClientFrame::Unsubscribe { room: name } => match self.membership.leave(&name) {
                Ok(room) => self.send(frame::unsubscribed(room)).await,
                Err(refused) => self.refuse(refused, &name).await,
            },
        }
    }

    async fn subscribe(&mut self, name: &str, last_event_id: Option<&str>) -> Step {
        // joined before the acknowledgement, so that every event after `subscribed` reaches the
        // client (it waits in the outbox until this task has written the acknowledgement); the
        // other order lost the events dispatched between the two under load
        let (room, replay) = match self.membership.join(name, last_event_id).await {
            Ok(joined) => joined,
            Err(refused) => return self.refuse(refused, name).await,
        };
        self.send(frame::subscribed(room)).await?;
        let Some(mut replay) = replay else {
            return Ok(());
        };
        // the room's missed events, before any live one: those wait in the outbox meanwhile
        loop {
            match replay.next(&self.ctx).await {
                Ok(Some(page)) => {
                    for item in page {
                        let text = frame::replayed(item, Protocol::Ws);
                        self.feed(Message::Text(text.into())).await?;
                    }
                    self.flush().await?;
                }
                Ok(None) => return Ok(()),
                Err(refused) => return self.refuse(refused, &room.to_string()).await,
            }
        }
    }

    /// Leaves every room the user may no longer see, telling the client which.
    async fn recheck(&mut self) -> Step {
        let withdrawn = self
            .membership
            .recheck()
            .await
            .map_err(|UserGone| End::Close(CloseCode::Policy, "user no longer exists"))?;
        for room in withdrawn {
            let refused = Refused {
                refusal: Refusal::Forbidden,
                message: "your access to this room was withdrawn",
            };
            self.refuse(refused, &room.to_string()).await?;
        }
        Ok(())
    }

    async fn refuse(&mut self, refused: Refused, room: &str) -> Step {
        self.send(frame::error(refused.refusal, refused.message, Some(room)))
            .await
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
