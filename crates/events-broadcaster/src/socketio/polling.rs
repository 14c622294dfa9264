//! Engine.IO's long-polling transport: what a session's HTTP requests and its task share. The
//! session puts packets in `outgoing`; a `GET` takes them all (or waits for some); a `POST`
//! hands the client's packets to the session. A session has one `GET` at a time.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::packet;
use crate::http::WebSocket;

/// Packets a client's `POST`s may have waiting for its session.
const INCOMING_BUFFER: usize = 64;

#[derive(Debug, Default)]
struct Outgoing {
    packets: VecDeque<Utf8Bytes>,
    /// The session ended: the next `GET` gets a `close` packet.
    closed: bool,
}

/// What a polling session's requests and its task share.
#[derive(Debug)]
pub struct Link {
    outgoing: Mutex<Outgoing>,
    /// Packets arrived for the waiting `GET`.
    ready: Notify,
    /// A `GET` took what waited: room for more.
    taken: Notify,
    /// A `GET` is waiting.
    polling: AtomicBool,
    pub incoming: mpsc::Sender<String>,
    /// The WebSocket a client upgraded to, after its probe.
    pub upgrade: mpsc::Sender<Box<WebSocket>>,
}

/// The session's end of its link.
#[derive(Debug)]
pub struct SessionEnd {
    pub incoming: mpsc::Receiver<String>,
    pub upgrade: mpsc::Receiver<Box<WebSocket>>,
}

impl Link {
    pub fn new() -> (Arc<Self>, SessionEnd) {
        let (incoming, incoming_rx) = mpsc::channel(INCOMING_BUFFER);
        let (upgrade, upgrade_rx) = mpsc::channel(1);
        let link = Arc::new(Self {
            outgoing: Mutex::default(),
            ready: Notify::new(),
            taken: Notify::new(),
            polling: AtomicBool::new(false),
            incoming,
            upgrade,
        });
        let end = SessionEnd {
            incoming: incoming_rx,
            upgrade: upgrade_rx,
        };
        (link, end)
    }

    /// Queues `packet` for the next `GET`, waiting while `limit` packets wait already;
    /// false when the client took none of them before `deadline` (it stopped polling).
    pub async fn push_or_wait(&self, packet: Utf8Bytes, limit: usize, deadline: Instant) -> bool {
        loop {
            let taken = self.taken.notified();
            tokio::pin!(taken);
            taken.as_mut().enable();
            if self.push(packet.clone(), limit) {
                return true;
            }
            if tokio::time::timeout_at(deadline, taken).await.is_err() {
                return false;
            }
        }
    }

    /// Queues `packet` for the next `GET`; false when `limit` packets wait already.
    pub fn push(&self, packet: Utf8Bytes, limit: usize) -> bool {
        let Ok(mut out) = self.outgoing.lock() else {
            return false;
        };
        if out.packets.len() >= limit {
            return false;
        }
        out.packets.push_back(packet);
        drop(out);
        self.ready.notify_one();
        true
    }

    /// Takes what waits (the packets not yet polled move to the WebSocket after an upgrade).
    pub fn take_all(&self) -> Vec<Utf8Bytes> {
        self.outgoing
            .lock()
            .map(|mut out| out.packets.drain(..).collect())
            .unwrap_or_default()
    }

    /// Ends polling: the next `GET` gets what waits, then `last` (`noop` after an upgrade,
    /// `close` otherwise).
    pub fn close(&self, last: &'static str) {
        if let Ok(mut out) = self.outgoing.lock() {
            out.packets.push_back(Utf8Bytes::from_static(last));
            out.closed = true;
        }
        self.ready.notify_one();
    }

    /// A `GET`: the waiting packets joined by the record separator, once there are some; `None`
    /// when another `GET` is already waiting (a protocol error).
    pub async fn poll(&self, max_bytes: usize) -> Option<String> {
        if self.polling.swap(true, Ordering::AcqRel) {
            return None;
        }
        // a request dropped while waiting (the client went away) lets the next one in
        struct Polling<'a>(&'a AtomicBool);
        impl Drop for Polling<'_> {
            fn drop(&mut self) {
                self.0.store(false, Ordering::Release);
            }
        }
        let _polling = Polling(&self.polling);
        loop {
            let ready = self.ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            if let Some(body) = self.drain(max_bytes) {
                return Some(body);
            }
            ready.await;
        }
    }

    fn drain(&self, max_bytes: usize) -> Option<String> {
        let mut out = self.outgoing.lock().ok()?;
        let mut body = String::new();
        while let Some(next) = out.packets.front() {
            // always at least one packet, however large
            if !body.is_empty() && body.len() + 1 + next.len() > max_bytes {
                break;
            }
            if !body.is_empty() {
                body.push(packet::RECORD_SEPARATOR);
            }
            body.push_str(next);
            out.packets.pop_front();
        }
        // a closed link keeps answering `close` (or `noop`) to late polls
        if out.closed && out.packets.is_empty() && !body.is_empty() {
            out.packets.push_back(Utf8Bytes::from_static(packet::CLOSE));
        }
        drop(out);
        if body.is_empty() {
            return None;
        }
        self.taken.notify_waiters();
        Some(body)
    }
}

/// The polling sessions of this broadcaster, by session id.
#[derive(Debug, Default)]
pub struct Links(Mutex<HashMap<String, Arc<Link>>>);

impl Links {
    pub fn insert(&self, sid: &str, link: Arc<Link>) {
        if let Ok(mut links) = self.0.lock() {
            links.insert(sid.to_owned(), link);
        }
    }

    pub fn get(&self, sid: &str) -> Option<Arc<Link>> {
        self.0.lock().ok()?.get(sid).cloned()
    }

    pub fn remove(&self, sid: &str) {
        if let Ok(mut links) = self.0.lock() {
            links.remove(sid);
        }
    }
}
