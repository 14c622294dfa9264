//! The fan-out: which client is in which room, and one reader per partition's events stream
//! that hands every event to every client that may see it. Handing over never waits: each client
//! has a bounded outbox, and a client whose outbox is full is told to go (its connection
//! closes it) so that it cannot slow anyone else.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agentq_domain::Backoff;
use agentq_queue::{EventId, Position, Queue, QueueEvent};
use agentq_store::Scope;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Utf8Bytes;
use tokio_util::sync::CancellationToken;

use crate::frame;
use crate::room::Room;

/// How many events one stream read takes at most.
const READ_BATCH: usize = 500;
/// How long one blocking stream read waits.
const READ_BLOCK: Duration = Duration::from_secs(5);

pub type ClientId = u64;

/// The protocol a client speaks: the hub makes each event's text once per room and protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `/ws`: `{"event":…,"room":…,"id":…,"data":…}`.
    Ws,
    /// Socket.IO: `42["agent_job_…",{…data, room, eventId}]`.
    SocketIo,
}

/// Where the hub hands a client its events, ready to write.
#[derive(Debug, Clone)]
pub struct Outbox {
    protocol: Protocol,
    sender: mpsc::Sender<Utf8Bytes>,
}

impl Outbox {
    pub fn new(protocol: Protocol, sender: mpsc::Sender<Utf8Bytes>) -> Self {
        Self { protocol, sender }
    }
}

/// A client's place in one room.
#[derive(Debug)]
struct Member {
    outbox: Outbox,
    /// `Some` for a member (not an admin) in `notifications`: only these projects' events.
    only: Option<Scope>,
    /// Cancelled when the outbox overflows.
    stop: CancellationToken,
}

#[derive(Debug, Default)]
struct Rooms {
    members: HashMap<Room, HashMap<ClientId, Member>>,
    /// The newest event handed out, per partition; a joining client's replay runs up to it.
    last_dispatched: Option<Position>,
}

#[derive(Debug, Default)]
pub struct Hub {
    rooms: Mutex<Rooms>,
    next_client: AtomicU64,
}

/// What a client needs to join rooms.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub client: ClientId,
    pub outbox: Outbox,
    /// Ends the client's session: cancelled at shutdown (a child of the server's token), or by
    /// the hub when the client's outbox overflows.
    pub stop: CancellationToken,
}

impl Hub {
    /// A hub whose stream readers start after `start` (each stream's newest event at startup).
    pub fn starting_after(start: Position) -> Self {
        let hub = Self::default();
        if let Ok(mut rooms) = hub.rooms.lock() {
            rooms.last_dispatched = Some(start);
        }
        hub
    }

    pub fn new_client(&self, outbox: Outbox, stop: CancellationToken) -> Mailbox {
        metrics::gauge!("agentq_ws_connections").increment(1.0);
        Mailbox {
            client: self.next_client.fetch_add(1, Ordering::Relaxed),
            outbox,
            stop,
        }
    }

    /// Adds the client to `room` (again, with a new filter, if it is there already). Answers
    /// the newest event handed out before it joined: everything after it will come live.
    pub fn join(&self, mailbox: &Mailbox, room: Room, only: Option<Scope>) -> Option<Position> {
        let Ok(mut rooms) = self.rooms.lock() else {
            return None;
        };
        let members = rooms.members.entry(room).or_default();
        if members.is_empty() {
            metrics::gauge!("agentq_ws_rooms").increment(1.0);
        }
        members.insert(
            mailbox.client,
            Member {
                outbox: mailbox.outbox.clone(),
                only,
                stop: mailbox.stop.clone(),
            },
        );
        rooms.last_dispatched.clone()
    }

    pub fn leave(&self, client: ClientId, room: Room) {
        let Ok(mut rooms) = self.rooms.lock() else {
            return;
        };
        if let Some(members) = rooms.members.get_mut(&room) {
            members.remove(&client);
            if members.is_empty() {
                rooms.members.remove(&room);
                metrics::gauge!("agentq_ws_rooms").decrement(1.0);
            }
        }
    }

    /// Removes a disconnected client from all of `rooms`.
    pub fn forget(&self, client: ClientId, rooms: impl IntoIterator<Item = Room>) {
        for room in rooms {
            self.leave(client, room);
        }
        metrics::gauge!("agentq_ws_connections").decrement(1.0);
    }

    /// Hands `event`, read from partition `partition`'s stream, to every member of its rooms
    /// that may see it. With several partitions its id becomes the position after it (what a
    /// client resumes from).
    pub fn dispatch(&self, event: &mut QueueEvent, partition: usize) {
        let Ok(mut rooms) = self.rooms.lock() else {
            return;
        };
        if let Some(id) = EventId::parse(&event.id)
            && let Some(position) = rooms.last_dispatched.as_mut()
        {
            position.set(partition, id);
            if position.partitions() > 1 {
                event.id = position.to_string();
            }
        }
        let mut data = None;
        let mut sent = 0u64;
        for room in Room::for_event(event) {
            let Some(members) = rooms.members.get(&room) else {
                continue;
            };
            let data = data.get_or_insert_with(|| frame::event_data(event));
            // each made when the first member speaking that protocol needs it
            let mut ws_text = None;
            let mut socketio_text = None;
            for member in members.values() {
                if !may_see(member.only.as_ref(), event) {
                    continue;
                }
                let text = match member.outbox.protocol {
                    Protocol::Ws => ws_text
                        .get_or_insert_with(|| Utf8Bytes::from(frame::event(event, room, data))),
                    Protocol::SocketIo => socketio_text.get_or_insert_with(|| {
                        Utf8Bytes::from(frame::socketio_event(event, room, data))
                    }),
                };
                match member.outbox.sender.try_send(text.clone()) {
                    Ok(()) => sent += 1,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        if !member.stop.is_cancelled() {
                            metrics::counter!("agentq_ws_slow_client_drops_total").increment(1);
                        }
                        member.stop.cancel();
                    }
                    // the connection is closing; it leaves its rooms itself
                    Err(mpsc::error::TrySendError::Closed(_)) => {}
                }
            }
        }
        metrics::counter!("agentq_ws_events_out_total").increment(sent);
    }
}

/// Whether a member with filter `only` may see `event` (in `notifications`).
pub fn may_see(only: Option<&Scope>, event: &QueueEvent) -> bool {
    match only {
        None => true,
        Some(scope) => event.project.is_some_and(|p| scope.allows(p)),
    }
}

/// Reads partition `partition`'s events stream after `start` and dispatches every event, in
/// order, until `shutdown`. Survives Redis outages: it resumes after the last event it handed
/// out.
pub async fn pump(
    queue: Queue,
    partition: usize,
    hub: Arc<Hub>,
    start: EventId,
    shutdown: CancellationToken,
) {
    let mut after = start.to_string();
    let mut failures = 0;
    while !shutdown.is_cancelled() {
        match pump_once(&queue, partition, &hub, &mut after, &shutdown).await {
            Ok(()) => return,
            Err(err) => {
                failures += 1;
                tracing::warn!(error = %err, "events stream unreachable; retrying");
                tokio::select! {
                    () = tokio::time::sleep(Backoff::RECONNECT.delay(failures)) => {}
                    () = shutdown.cancelled() => return,
                }
            }
        }
    }
}

async fn pump_once(
    queue: &Queue,
    partition: usize,
    hub: &Hub,
    after: &mut String,
    shutdown: &CancellationToken,
) -> agentq_queue::Result<()> {
    let mut conn = queue.redis().blocking_connection(READ_BLOCK).await?;
    loop {
        let page = tokio::select! {
            read = queue.wait_events(&mut conn, after, READ_BATCH, READ_BLOCK) => read?,
            () = shutdown.cancelled() => return Ok(()),
        };
        let now_ms = agentq_store::now().and_utc().timestamp_millis();
        let mut events = page.events;
        for event in &mut events {
            hub.dispatch(event, partition);
        }
        // past every entry read, including any that could not be parsed (skipped and counted)
        if let Some(last) = page.last_id {
            *after = last;
        }
        if let Some(newest) = events.last() {
            let lag_ms = now_ms.saturating_sub(i64::try_from(newest.time_ms()).unwrap_or(now_ms));
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!("agentq_ws_stream_lag_seconds").set(lag_ms as f64 / 1000.0);
            metrics::counter!("agentq_ws_events_in_total").increment(events.len() as u64);
        }
    }
}
