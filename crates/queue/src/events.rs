//! The `events` stream: every transition's event, in the order they happened. Two kinds of
//! reader share it: the SQL recorder through a consumer group (acknowledging after its write,
//! so nothing is lost while the database is down), and broadcasters that read from any id
//! onwards (so a dashboard can resume where it left off).

use std::collections::HashMap;

use agentq_domain::{JobEventKind, JobId, ProjectId, TaskId};
use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};

use crate::connection::Connection;
use crate::consumer::millis;
use crate::job_event::JobEvent;
use crate::{EventId, Queue, QueueError, Result};

/// One event as written by a script. Its time is its stream id's millisecond part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEvent {
    /// The stream id (`<ms>-<seq>`): unique, and increasing in the order of the transitions.
    pub id: String,
    pub job: JobId,
    pub project: Option<ProjectId>,
    pub task: Option<TaskId>,
    /// The W3C traceparent of the request that queued the job, if it had one.
    pub trace: Option<String>,
    /// What happened, with its own fields.
    pub what: JobEvent,
}

impl QueueEvent {
    pub fn kind(&self) -> JobEventKind {
        self.what.kind()
    }

    /// Milliseconds since the epoch, Redis clock.
    pub fn time_ms(&self) -> u64 {
        self.id
            .split('-')
            .next()
            .and_then(|ms| ms.parse().ok())
            .unwrap_or(0)
    }

    fn from_entry(entry: StreamId) -> Result<Self> {
        let mut fields: HashMap<String, String> = entry
            .map
            .iter()
            .filter_map(|(name, value)| {
                redis::from_redis_value_ref::<String>(value)
                    .ok()
                    .map(|v| (name.clone(), v))
            })
            .collect();
        let bad =
            |what: &str| QueueError::protocol(format!("event {} has no valid {what}", entry.id));
        let kind: JobEventKind = fields
            .remove("event")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("event"))?;
        let job = fields
            .remove("job")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("job"))?;
        let project = fields.remove("project").and_then(|v| v.parse().ok());
        let task = fields.remove("task").and_then(|v| v.parse().ok());
        let trace = fields.remove("trace").filter(|t| !t.is_empty());
        let what = JobEvent::decode(kind, &mut fields);
        Ok(Self {
            id: entry.id,
            job,
            project,
            task,
            trace,
            what,
        })
    }
}

/// Events as read from the stream: those that parse, and how far the read got (an entry that
/// does not parse is skipped and counted, never a reason to stop reading).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventPage {
    pub events: Vec<QueueEvent>,
    /// The id of the last entry read, parsed or not: where the next read starts.
    pub last_id: Option<String>,
    /// How many entries were read, parsed or not.
    pub entries: usize,
}

fn parse_entries(entries: Vec<StreamId>) -> EventPage {
    let mut page = EventPage {
        events: Vec::with_capacity(entries.len()),
        last_id: entries.last().map(|entry| entry.id.clone()),
        entries: entries.len(),
    };
    for entry in entries {
        let id = entry.id.clone();
        match QueueEvent::from_entry(entry) {
            Ok(event) => page.events.push(event),
            Err(err) => {
                metrics::counter!("agentq_queue_events_unreadable_total").increment(1);
                tracing::warn!(%id, error = %err, "skipping an event that cannot be read");
            }
        }
    }
    page
}

/// An `XREAD`/`XREADGROUP` reply (nil when a block timed out) for our one stream.
fn parse_read_reply(reply: Option<StreamReadReply>) -> EventPage {
    let entries = reply
        .into_iter()
        .flat_map(|r| r.keys)
        .flat_map(|k| k.ids)
        .collect();
    parse_entries(entries)
}

/// What one [`Queue::trim_events`] dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTrim {
    /// Recorded and past the replay window.
    pub trimmed: u64,
    /// Dropped by the hard cap, recorded or not (also counted in stats `events_capped`).
    pub capped: u64,
}

/// The SQL recorder's consumer group on the events stream.
#[derive(Debug, Clone)]
pub struct RecorderGroup {
    queue: Queue,
    group: String,
}

impl RecorderGroup {
    pub const DEFAULT_NAME: &'static str = "recorder";
}

impl Queue {
    /// Events after stream id `after` (`"0"` for the oldest kept), at most `count` entries.
    pub async fn events_after(&self, after: &str, count: usize) -> Result<EventPage> {
        let key = self.keys.events();
        let start = format!("({after}");
        let reply: StreamRangeReply = self
            .redis
            .run(|mut conn| async move {
                Ok(redis::cmd("XRANGE")
                    .arg(key)
                    .arg(start)
                    .arg("+")
                    .arg("COUNT")
                    .arg(count)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        Ok(parse_entries(reply.ids))
    }

    /// Waits up to `block` on `conn` (a blocking connection) for events after `after`.
    pub async fn wait_events(
        &self,
        conn: &mut Connection,
        after: &str,
        count: usize,
        block: std::time::Duration,
    ) -> Result<EventPage> {
        let reply: Option<StreamReadReply> = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(count)
            .arg("BLOCK")
            .arg(millis(block).max(1))
            .arg("STREAMS")
            .arg(self.keys.events())
            .arg(after)
            .query_async(conn)
            .await?;
        Ok(parse_read_reply(reply))
    }

    /// The id of the newest event, if any (a reader that wants only what comes next).
    pub async fn last_event_id(&self) -> Result<Option<String>> {
        let key = self.keys.events();
        let reply: StreamRangeReply = self
            .redis
            .run(|mut conn| async move {
                Ok(redis::cmd("XREVRANGE")
                    .arg(key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(1)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        Ok(reply.ids.into_iter().next().map(|entry| entry.id))
    }

    /// Whether events after `after` may have been trimmed away, so that a reader resuming from
    /// it missed some. Answers the oldest id the stream still holds (if any) when so.
    ///
    /// Trimming removes the oldest events, so a gap is possible only when `after` is older than
    /// the oldest event kept (or older than an event deleted by id). It is reported even when
    /// `after` itself was the newest event trimmed: a reader is told "maybe", never nothing.
    pub async fn events_missing_after(&self, after: EventId) -> Result<Option<Option<EventId>>> {
        let key = self.keys.events();
        let info: HashMap<String, redis::Value> = self
            .redis
            .run(|mut conn| async move {
                Ok(redis::cmd("XINFO")
                    .arg("STREAM")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
                    .or_else(|err| {
                        // no stream yet: nothing was ever trimmed
                        if err.code() == Some("ERR") {
                            Ok(HashMap::new())
                        } else {
                            Err(err)
                        }
                    })?)
            })
            .await?;
        let text = |name: &str| {
            info.get(name)
                .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
        };
        let number = |name: &str| text(name).and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        let oldest = match info.get("first-entry") {
            Some(redis::Value::Array(entry)) => entry
                .first()
                .and_then(|v| redis::from_redis_value_ref::<String>(v).ok())
                .and_then(|id| EventId::parse(&id)),
            _ => None,
        };
        let removed_any = number("entries-added") > number("length");
        let deleted_after = text("max-deleted-entry-id")
            .and_then(|id| EventId::parse(&id))
            .is_some_and(|deleted| deleted > after);
        let last = text("last-generated-id").and_then(|id| EventId::parse(&id));
        // an empty stream that had events: a gap unless the reader saw the last of them
        let trimmed_after = removed_any && oldest.or(last).is_some_and(|bound| after < bound);
        Ok((deleted_after || trimmed_after).then_some(oldest))
    }

    /// Drops events that are recorded and older than the replay window; enforces the cap.
    pub async fn trim_events(&self, group: &str) -> Result<EventTrim> {
        let mut invocation = self
            .scripts
            .trim_events
            .with_keys(&[("events", self.keys.events()), ("stats", self.keys.stats())]);
        invocation
            .arg(group)
            .arg(millis(self.config.events_replay))
            .arg(self.config.events_cap);
        let (trimmed, capped): (u64, u64) = self
            .redis
            .run(|mut conn| async move { Ok(invocation.invoke_async(&mut conn).await?) })
            .await?;
        Ok(EventTrim { trimmed, capped })
    }

    /// The recorder's consumer group, created (reading from the stream's start) if missing.
    pub async fn recorder_group(&self, group: &str) -> Result<RecorderGroup> {
        let key = self.keys.events();
        let name = group.to_owned();
        let created: Result<()> = self
            .redis
            .run(|mut conn| async move {
                Ok(redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(key)
                    .arg(name)
                    .arg("0")
                    .arg("MKSTREAM")
                    .query_async(&mut conn)
                    .await?)
            })
            .await;
        match created {
            Ok(()) => {}
            Err(QueueError::Redis(err)) if err.code() == Some("BUSYGROUP") => {}
            Err(err) => return Err(err),
        }
        Ok(RecorderGroup {
            queue: self.clone(),
            group: group.to_owned(),
        })
    }
}

impl RecorderGroup {
    /// New events for `consumer`, waiting up to `block` on `conn` (a blocking connection).
    pub async fn read(
        &self,
        conn: &mut Connection,
        consumer: &str,
        count: usize,
        block: std::time::Duration,
    ) -> Result<Vec<QueueEvent>> {
        self.read_from(conn, consumer, count, Some(block), ">")
            .await
    }

    /// Moves every event delivered to any consumer of the group but never acknowledged to
    /// `consumer`. A new leader calls this so that what a crashed leader read is not lost.
    /// Returns how many events it took over.
    pub async fn take_over(&self, consumer: &str) -> Result<usize> {
        let key = self.queue.keys.events();
        let mut cursor = "0-0".to_owned();
        let mut taken = 0;
        loop {
            let (next, ids) = {
                let (key, group, consumer, from) =
                    (key.clone(), self.group.clone(), consumer.to_owned(), cursor);
                self.queue
                    .redis
                    .run(|mut conn| async move {
                        // XAUTOCLAIM answers [next cursor, [ids], [ids deleted meanwhile]]
                        let (next, ids, _deleted): (String, Vec<String>, redis::Value) =
                            redis::cmd("XAUTOCLAIM")
                                .arg(key)
                                .arg(group)
                                .arg(consumer)
                                .arg(0)
                                .arg(from)
                                .arg("COUNT")
                                .arg(1000)
                                .arg("JUSTID")
                                .query_async(&mut conn)
                                .await?;
                        Ok((next, ids))
                    })
                    .await?
            };
            taken += ids.len();
            if next == "0-0" {
                return Ok(taken);
            }
            cursor = next;
        }
    }

    /// Events delivered to `consumer` earlier but never acknowledged (after a crash).
    pub async fn unacknowledged(
        &self,
        conn: &mut Connection,
        consumer: &str,
        count: usize,
    ) -> Result<Vec<QueueEvent>> {
        self.read_from(conn, consumer, count, None, "0").await
    }

    async fn read_from(
        &self,
        conn: &mut Connection,
        consumer: &str,
        count: usize,
        block: Option<std::time::Duration>,
        from: &str,
    ) -> Result<Vec<QueueEvent>> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&self.group)
            .arg(consumer)
            .arg("COUNT")
            .arg(count);
        if let Some(block) = block {
            cmd.arg("BLOCK").arg(millis(block).max(1));
        }
        cmd.arg("STREAMS").arg(self.queue.keys.events()).arg(from);
        let reply: Option<StreamReadReply> = cmd.query_async(conn).await?;
        // An entry the recorder cannot read (capped away while pending, or not ours) would be
        // redelivered forever: acknowledge it, say so, and go on with the rest.
        let mut events = Vec::new();
        let mut unreadable = Vec::new();
        for entry in reply.into_iter().flat_map(|r| r.keys).flat_map(|k| k.ids) {
            let id = entry.id.clone();
            match QueueEvent::from_entry(entry) {
                Ok(event) => events.push(event),
                Err(err) => {
                    tracing::warn!(error = %err, "skipping an unreadable event");
                    unreadable.push(id);
                }
            }
        }
        self.ack(&unreadable).await?;
        Ok(events)
    }

    /// Marks events as recorded; only these may be trimmed.
    pub async fn ack(&self, ids: &[String]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let key = self.queue.keys.events();
        let group = self.group.clone();
        let ids = ids.to_vec();
        self.queue
            .redis
            .run(|mut conn| async move {
                let _: u64 = redis::cmd("XACK")
                    .arg(key)
                    .arg(group)
                    .arg(ids)
                    .query_async(&mut conn)
                    .await?;
                Ok(())
            })
            .await
    }
}

impl Queue {
    /// Redis's clock, in milliseconds since the epoch: the one clock every decision about jobs
    /// is made by (workers' clocks may disagree with it and with each other).
    pub async fn redis_time_ms(&self) -> Result<u64> {
        self.redis.time_ms(&self.keys.events()).await
    }
}

impl RecorderGroup {
    /// Whether every event up to `upto` has been delivered to the recorder and acknowledged,
    /// so that SQL holds every transition written up to then.
    pub async fn caught_up_to(&self, upto: EventId) -> Result<bool> {
        let key = self.queue.keys.events();
        let group = self.group.clone();
        let (groups, pending): (Vec<HashMap<String, redis::Value>>, redis::Value) = self
            .queue
            .redis
            .run(|mut conn| async move {
                Ok(redis::pipe()
                    .cmd("XINFO")
                    .arg("GROUPS")
                    .arg(&key)
                    .cmd("XPENDING")
                    .arg(&key)
                    .arg(&group)
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        let text = |value: &redis::Value| redis::from_redis_value_ref::<String>(value).ok();
        let Some(ours) = groups
            .iter()
            .find(|g| g.get("name").and_then(text).as_deref() == Some(&self.group))
        else {
            return Ok(false);
        };
        let delivered = ours
            .get("last-delivered-id")
            .and_then(text)
            .and_then(|id| EventId::parse(&id))
            .unwrap_or(EventId::ZERO);
        if delivered < upto {
            return Ok(false);
        }
        // XPENDING's summary: [count, smallest id, greatest id, consumers]
        let oldest_pending = match &pending {
            redis::Value::Array(summary) => summary
                .get(1)
                .and_then(text)
                .and_then(|id| EventId::parse(&id)),
            _ => None,
        };
        Ok(oldest_pending.is_none_or(|oldest| oldest > upto))
    }
}
