//! One Socket.IO client's session: its requests in order, its rooms' events out, the re-check
//! of what its user may see, and its end. One task per socket, like a `/ws` session: the hub
//! never waits for it (events wait in its bounded outbox, and a full outbox ends it), and a
//! client that stops reading for `WRITE_TIMEOUT` is dropped.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::{SendError, SocketError};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::admission::Admission;
use crate::Context;
use crate::frame;
use crate::hub::{Outbox, SocketIoEvent};
use crate::membership::{Membership, Refused, Replayed, UserGone};
use crate::room::Room;

/// A client whose transport takes nothing for this long has stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a full transport buffer is tried again.
const RETRY_EVERY: Duration = Duration::from_millis(10);

/// What a client asked, in the order it asked.
pub enum Command {
    Subscribe {
        room: String,
        last_event_id: Option<String>,
        ack: AckSender,
    },
    Unsubscribe {
        room: String,
        ack: AckSender,
    },
}

/// Why a session ended.
enum End {
    /// Tell the client why (a `closing` event), then disconnect it.
    Close(&'static str),
    /// The server stops: tell the client, and leave its transport to `SocketIo::close`, so
    /// that the client sees the transport close and reconnects (to another instance, or to
    /// this one when it is back) rather than being told not to come back.
    Shutdown,
    /// The client left or stopped reading.
    Gone,
}

type Step = Result<(), End>;

struct Session {
    socket: SocketRef,
    ctx: Arc<Context>,
    membership: Membership,
}

pub async fn serve(
    socket: SocketRef,
    ctx: Arc<Context>,
    admission: Admission,
    mut commands: mpsc::Receiver<Command>,
    gone: CancellationToken,
) {
    let (outbox, mut inbox) = mpsc::channel(ctx.settings.client_buffer);
    let mailbox = ctx
        .hub
        .new_client(Outbox::SocketIo(outbox), ctx.shutdown.child_token());
    let stop = mailbox.stop.clone();
    let mut session = Session {
        membership: Membership::new(ctx.clone(), admission.identity.clone(), mailbox),
        socket,
        ctx,
    };
    let end = tokio::select! {
        end = session.run(&admission, &mut inbox, &mut commands, &stop) => end,
        () = gone.cancelled() => End::Gone,
    };
    let Session {
        socket, membership, ..
    } = session;
    drop(membership);
    match end {
        End::Close(reason) => {
            let _ = socket.emit("closing", &json!({ "reason": reason }));
            let _ = socket.disconnect();
        }
        End::Shutdown => {
            let _ = socket.emit("closing", &json!({ "reason": "server shutting down" }));
        }
        End::Gone => {
            let _ = socket.disconnect();
        }
    }
    drop(admission);
}

impl Session {
    async fn run(
        &mut self,
        admission: &Admission,
        inbox: &mut mpsc::Receiver<SocketIoEvent>,
        commands: &mut mpsc::Receiver<Command>,
        stop: &CancellationToken,
    ) -> End {
        // every socket is in `notifications`, and resumes there from `auth.lastEventId`
        if let Err(end) = self
            .subscribe("notifications", admission.last_event_id.as_deref(), None)
            .await
        {
            return end;
        }
        let recheck_every = self.ctx.settings.recheck_every;
        let mut recheck = tokio::time::interval_at(Instant::now() + recheck_every, recheck_every);
        let expiry = Instant::now()
            + Duration::from_secs(
                admission
                    .token_expires_at
                    .saturating_sub(agentq_auth::now_secs()),
            );
        let stopped = stop.clone().cancelled_owned();
        let expired = tokio::time::sleep_until(expiry);
        tokio::pin!(stopped, expired);
        loop {
            let step = tokio::select! {
                biased;
                Some(first) = inbox.recv() => self.emit_waiting(first, inbox).await,
                Some(command) = commands.recv() => Box::pin(self.on_command(command)).await,
                () = &mut stopped => Err(if self.ctx.shutdown.is_cancelled() {
                    End::Shutdown
                } else {
                    End::Close("too slow: events were dropped")
                }),
                () = &mut expired => Err(End::Close("token expired")),
                _ = recheck.tick() => Box::pin(self.recheck()).await,
            };
            if let Err(end) = step {
                return end;
            }
        }
    }

    async fn on_command(&mut self, command: Command) -> Step {
        match command {
            Command::Subscribe {
                room,
                last_event_id,
                ack,
            } => {
                self.subscribe(&room, last_event_id.as_deref(), Some(ack))
                    .await
            }
            Command::Unsubscribe { room, ack } => {
                let answer = match self.membership.leave(&room) {
                    Ok(room) => json!({"ok": true, "room": room.to_string()}),
                    Err(refused) => refusal(refused, &room),
                };
                let _ = ack.send(&answer);
                Ok(())
            }
        }
    }

    /// Joins, acknowledges, then sends what the client missed before anything live (live
    /// events wait in the outbox meanwhile).
    async fn subscribe(
        &mut self,
        name: &str,
        last_event_id: Option<&str>,
        ack: Option<AckSender>,
    ) -> Step {
        let (room, replay) = match self.membership.join(name, last_event_id).await {
            Ok(joined) => joined,
            Err(refused) => {
                if let Some(ack) = ack {
                    let _ = ack.send(&refusal(refused, name));
                }
                return Ok(());
            }
        };
        if let Some(ack) = ack {
            let _ = ack.send(&json!({"ok": true, "room": room.to_string()}));
        }
        let Some(mut replay) = replay else {
            return Ok(());
        };
        loop {
            match replay.next(&self.ctx).await {
                Ok(Some(page)) => {
                    for item in page {
                        match item {
                            Replayed::Gap {
                                room,
                                last_event_id,
                                oldest,
                            } => {
                                let gap = json!({
                                    "room": room.to_string(),
                                    "lastEventId": last_event_id,
                                    "oldestEventId": oldest,
                                });
                                self.emit("gap", &gap).await?;
                            }
                            Replayed::Event(event, room) => {
                                let data = frame::event_data(&event);
                                let event = frame::socketio_event(&event, room, &data);
                                self.emit(event.name, &*event.data).await?;
                            }
                        }
                    }
                }
                Ok(None) => return Ok(()),
                Err(refused) => return self.room_error(refused, room).await,
            }
        }
    }

    /// Leaves every room the user may no longer see, telling the client which.
    async fn recheck(&mut self) -> Step {
        let withdrawn = self
            .membership
            .recheck()
            .await
            .map_err(|UserGone| End::Close("user no longer exists"))?;
        for room in withdrawn {
            let notice = json!({
                "room": room.to_string(),
                "reason": "your access to this room was withdrawn",
            });
            self.emit("unsubscribed", &notice).await?;
        }
        Ok(())
    }

    /// A room's failure after its acknowledgement (its replay broke off).
    async fn room_error(&self, refused: Refused, room: Room) -> Step {
        self.emit("room_error", &refusal(refused, &room.to_string()))
            .await
    }

    /// Emits `first` and whatever else is already waiting.
    async fn emit_waiting(
        &self,
        first: SocketIoEvent,
        inbox: &mut mpsc::Receiver<SocketIoEvent>,
    ) -> Step {
        self.emit(first.name, &*first.data).await?;
        while let Ok(next) = inbox.try_recv() {
            self.emit(next.name, &*next.data).await?;
        }
        Ok(())
    }

    /// Hands one event to socketioxide; while its buffer for this client is full, tries again
    /// until `WRITE_TIMEOUT`.
    async fn emit<T: serde::Serialize + ?Sized>(&self, name: &str, data: &T) -> Step {
        let deadline = Instant::now() + WRITE_TIMEOUT;
        loop {
            match self.socket.emit(name, data) {
                Ok(()) => return Ok(()),
                Err(SendError::Socket(SocketError::InternalChannelFull))
                    if Instant::now() < deadline =>
                {
                    tokio::time::sleep(RETRY_EVERY).await;
                }
                Err(SendError::Serialize(err)) => {
                    tracing::warn!(error = ?err, event = name, "cannot encode an event");
                    return Ok(());
                }
                Err(_) => return Err(End::Gone),
            }
        }
    }
}

/// `{ok: false, code, error, room}`.
fn refusal(refused: Refused, room: &str) -> serde_json::Value {
    let mut answer = super::refusal(refused);
    answer["room"] = room.into();
    answer
}
