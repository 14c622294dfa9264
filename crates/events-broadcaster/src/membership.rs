//! A client's rooms, whatever protocol it speaks (`/ws` or Socket.IO): joining with the access
//! check and the replay of what it missed, leaving, and the periodic re-check of what its user
//! may see. The sessions only turn the answers into their own frames.

use std::collections::HashMap;
use std::sync::Arc;

use agentq_auth::Identity;
use agentq_queue::{EventId, Position, QueueEvent};
use agentq_store::Scope;

use crate::Context;
use crate::access::{self, Grant};
use crate::frame::Refusal;
use crate::hub::{Mailbox, may_see};
use crate::room::Room;

/// Events one replay read takes.
const REPLAY_BATCH: usize = 500;

/// Why a request about a room was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    pub refusal: Refusal,
    pub message: &'static str,
}

impl Refused {
    const fn new(refusal: Refusal, message: &'static str) -> Self {
        Self { refusal, message }
    }
}

/// The user behind the connection no longer exists.
#[derive(Debug)]
pub struct UserGone;

pub struct Membership {
    ctx: Arc<Context>,
    identity: Identity,
    mailbox: Mailbox,
    joined: HashMap<Room, Grant>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("client", &self.mailbox.client)
            .field("rooms", &self.joined.keys())
            .finish_non_exhaustive()
    }
}

impl Membership {
    pub fn new(ctx: Arc<Context>, identity: Identity, mailbox: Mailbox) -> Self {
        Self {
            ctx,
            identity,
            mailbox,
            joined: HashMap::new(),
        }
    }

    /// Joins the room called `name` if the user may see it. Every event dispatched after this
    /// returns reaches the client's outbox; the returned replay (when `last_event_id` is older)
    /// gives the ones before, and the session sends it before anything from the outbox.
    pub async fn join(
        &mut self,
        name: &str,
        last_event_id: Option<&str>,
    ) -> Result<(Room, Option<Replay>), Refused> {
        let room: Room = name.parse().map_err(|()| {
            Refused::new(
                Refusal::UnknownRoom,
                "rooms are notifications, project:<id> and job:<id>",
            )
        })?;
        let partitions = self.ctx.queue.count();
        let after = match last_event_id.map(|text| Position::parse(text, partitions)) {
            None => None,
            Some(Some(position)) => Some(position),
            Some(None) => return Err(bad_event_id(partitions)),
        };
        let grant = match access::grant(&self.ctx.db, &self.identity, room).await {
            Ok(Some(grant)) => grant,
            Ok(None) => {
                return Err(Refused::new(
                    Refusal::Forbidden,
                    "you may not join this room",
                ));
            }
            Err(err) => {
                tracing::warn!(error = %err, "room check failed");
                return Err(Refused::new(
                    Refusal::Unavailable,
                    "cannot check access right now; try again",
                ));
            }
        };
        let live_after = self.ctx.hub.join(&self.mailbox, room, grant.only.clone());
        let replay = match (after, live_after) {
            (Some(after), Some(until)) if after.is_behind(&until) => {
                Some(Replay::new(room, grant.only.clone(), after, until))
            }
            _ => None,
        };
        self.joined.insert(room, grant);
        Ok((room, replay))
    }

    /// Leaves the room called `name` (a room not joined is left already).
    pub fn leave(&mut self, name: &str) -> Result<Room, Refused> {
        let room: Room = name
            .parse()
            .map_err(|()| Refused::new(Refusal::UnknownRoom, "no such room"))?;
        if self.joined.remove(&room).is_some() {
            self.ctx.hub.leave(self.mailbox.client, room);
        }
        Ok(room)
    }

    /// Reads the user again and leaves every room they may no longer see; those rooms.
    pub async fn recheck(&mut self) -> Result<Vec<Room>, UserGone> {
        let identity = match self
            .ctx
            .identities
            .resolve(&self.ctx.db, self.identity.user.id)
            .await
        {
            Ok(Some(identity)) => identity,
            Ok(None) => return Err(UserGone),
            Err(err) => {
                tracing::warn!(error = %err, "cannot re-check a client's access");
                return Ok(Vec::new());
            }
        };
        let mut withdrawn = Vec::new();
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
                    withdrawn.push(room);
                }
            }
        }
        self.identity = identity;
        Ok(withdrawn)
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.ctx
            .hub
            .forget(self.mailbox.client, self.joined.keys().copied());
    }
}

/// What a replay hands the session to send, in order.
#[derive(Debug)]
pub enum Replayed {
    /// Events after `last_event_id` are no longer held (trimmed, or more than one resume may
    /// scan); `oldest` is where the sequence picks up again.
    Gap {
        room: Room,
        last_event_id: String,
        oldest: Option<String>,
    },
    Event(QueueEvent, Room),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReplayState {
    Start,
    Reading,
    Done,
}

/// A room's events in `(after, until]`, read partition by partition, page by page. The id of
/// each event it hands out is the position after it, so a client cut off mid-replay resumes
/// where it was.
#[derive(Debug)]
pub struct Replay {
    room: Room,
    only: Option<Scope>,
    /// Where the client stands: where it said, moved on by every event replayed.
    at: Position,
    until: Position,
    /// The partition being read, and the stream id to read after there.
    partition: usize,
    cursor: String,
    scanned: usize,
    state: ReplayState,
}

impl Replay {
    fn new(room: Room, only: Option<Scope>, after: Position, until: Position) -> Self {
        let mut replay = Self {
            room,
            only,
            cursor: String::new(),
            partition: 0,
            at: after,
            until,
            scanned: 0,
            state: ReplayState::Done,
        };
        replay.start_partition(0);
        replay
    }

    pub fn room(&self) -> Room {
        self.room
    }

    /// Moves to the first partition from `from` on that the client is behind in; done when
    /// there is none.
    fn start_partition(&mut self, from: usize) {
        let next = (from..self.until.partitions()).find(|&p| self.at.get(p) < self.until.get(p));
        match next {
            Some(partition) => {
                self.partition = partition;
                self.cursor = self.at.get(partition).to_string();
                self.state = ReplayState::Start;
            }
            None => self.state = ReplayState::Done,
        }
    }

    /// The next page of what to send; `None` once caught up with live delivery.
    pub async fn next(&mut self, ctx: &Context) -> Result<Option<Vec<Replayed>>, Refused> {
        let mut out = Vec::new();
        let queue = match (self.state, ctx.queue.all().get(self.partition)) {
            (ReplayState::Done, _) | (_, None) => return Ok(None),
            (_, Some(queue)) => queue,
        };
        match self.state {
            ReplayState::Done => return Ok(None),
            ReplayState::Start => {
                self.state = ReplayState::Reading;
                match queue
                    .events_missing_after(self.at.get(self.partition))
                    .await
                {
                    Ok(Some(oldest)) => out.push(Replayed::Gap {
                        room: self.room,
                        last_event_id: self.at.to_string(),
                        oldest: oldest.map(|id| self.at.with(self.partition, id).to_string()),
                    }),
                    Ok(None) => {}
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot replay");
                        self.state = ReplayState::Done;
                        return Err(Refused::new(
                            Refusal::Unavailable,
                            "cannot replay missed events right now",
                        ));
                    }
                }
            }
            ReplayState::Reading => {}
        }
        let page = match queue.events_after(&self.cursor, REPLAY_BATCH).await {
            Ok(page) => page,
            Err(err) => {
                tracing::warn!(error = %err, "replay interrupted");
                self.state = ReplayState::Done;
                return Err(Refused::new(
                    Refusal::Unavailable,
                    "replay interrupted; subscribe again with your lastEventId",
                ));
            }
        };
        self.scanned += page.entries;
        let until = self.until.get(self.partition);
        let several = self.until.partitions() > 1;
        let mut written = 0;
        let mut partition_done = false;
        for mut event in page.events {
            let Some(id) = EventId::parse(&event.id).filter(|id| *id <= until) else {
                partition_done = true;
                break;
            };
            self.cursor.clone_from(&event.id);
            self.at.set(self.partition, id);
            if Room::for_event(&event).any(|r| r == self.room)
                && may_see(self.only.as_ref(), &event)
            {
                if several {
                    event.id = self.at.to_string();
                }
                out.push(Replayed::Event(event, self.room));
                written += 1;
            }
        }
        metrics::counter!("agentq_ws_events_replayed_total").increment(written);
        if partition_done {
            self.start_partition(self.partition + 1);
            return Ok(Some(out));
        }
        // entries that could not be parsed were skipped, not a reason to stop
        if let Some(last) = page.last_id {
            if let Some(id) = EventId::parse(&last) {
                self.at.set(self.partition, id);
            }
            self.cursor = last;
        }
        if page.entries < REPLAY_BATCH {
            self.start_partition(self.partition + 1);
        } else if self.scanned >= ctx.settings.replay_max {
            // too far behind to replay all of it: say what is skipped, then go on live
            out.push(Replayed::Gap {
                room: self.room,
                last_event_id: self.at.to_string(),
                oldest: Some(self.until.to_string()),
            });
            self.state = ReplayState::Done;
        }
        Ok(Some(out))
    }
}

/// The refusal of a `lastEventId` that is no position of this queue.
fn bad_event_id(partitions: usize) -> Refused {
    if partitions == 1 {
        Refused::new(
            Refusal::BadEventId,
            "lastEventId must be a stream id such as 1764220000000-0",
        )
    } else {
        Refused::new(
            Refusal::BadEventId,
            "lastEventId must be an event id this server sent (one stream id per partition, joined by '.')",
        )
    }
}
