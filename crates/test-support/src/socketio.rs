//! Real `socket.io-client` sockets (npm, in `tests/socketio/`), driven through its small Node
//! script `driver.js`: commands go to its stdin, what the sockets see comes back on its stdout,
//! one JSON line each.

use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// How long a test waits for something a socket should see.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// The driver's folder: `tests/socketio/` at the top of the workspace.
fn driver_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/socketio")
}

#[derive(Debug)]
pub struct Driver {
    child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    /// Lines read and not yet asked for, by socket.
    waiting: HashMap<String, VecDeque<Value>>,
    /// Sockets whose connection upgraded to WebSocket (kept apart: the upgrade may come
    /// before or after `connect`).
    upgraded: HashSet<String>,
    tags: u64,
}

impl Driver {
    pub fn start() -> Self {
        let dir = driver_dir();
        assert!(
            dir.join("node_modules/socket.io-client").exists(),
            "socket.io-client is not installed: run `npm ci` in {} (.ci/run does)",
            dir.display()
        );
        let mut child = Command::new("node")
            .arg("driver.js")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node is installed");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        Self {
            child,
            stdin,
            lines: BufReader::new(stdout).lines(),
            waiting: HashMap::new(),
            upgraded: HashSet::new(),
            tags: 0,
        }
    }

    async fn send(&mut self, command: Value) {
        let line = format!("{command}\n");
        self.stdin
            .write_all(line.as_bytes())
            .await
            .expect("driver's stdin");
    }

    /// Opens socket `id` to `url` with these `socket.io-client` options; with `resume`, each
    /// reconnection sends the last `eventId` it received as `auth.lastEventId`.
    pub async fn connect(&mut self, id: &str, url: &str, options: Value, resume: bool) {
        self.send(
            json!({"op": "connect", "id": id, "url": url, "options": options, "resume": resume}),
        )
        .await;
    }

    /// Opens socket `id` and waits until it is connected; the transport its connection opened
    /// with (`polling` with the default options, then it upgrades).
    pub async fn connected(&mut self, id: &str, url: &str, options: Value) -> String {
        self.connect(id, url, options, false).await;
        let line = self.next_for(id).await;
        assert_eq!(line["on"], "connect", "{id}: {line}");
        line["opened"].as_str().unwrap_or_default().to_owned()
    }

    /// Emits `event` with `args` from socket `id` and waits for the acknowledgement.
    pub async fn request(&mut self, id: &str, event: &str, args: Value) -> Value {
        self.tags += 1;
        let tag = self.tags.to_string();
        self.send(json!({"op": "emit", "id": id, "event": event, "args": args, "tag": tag}))
            .await;
        // the events that came before the acknowledgement stay for the test to read
        let line = self
            .take_first(id, |l| {
                (l["on"] == "ack" || l["on"] == "ack_timeout") && l["tag"] == tag.as_str()
            })
            .await;
        assert_eq!(line["on"], "ack", "{id} {event}: no acknowledgement");
        line["data"].clone()
    }

    /// Subscribes socket `id` to `room` (resuming after `last_event_id`); the acknowledgement.
    pub async fn subscribe(&mut self, id: &str, room: &str, last_event_id: Option<&str>) -> Value {
        let args = match last_event_id {
            Some(after) => json!([{"room": room, "lastEventId": after}]),
            None => json!([room]),
        };
        self.request(id, "subscribe", args).await
    }

    /// Stops socket `id` from reading its connection (a client that hangs).
    pub async fn stall(&mut self, id: &str) {
        self.send(json!({"op": "stall", "id": id})).await;
    }

    pub async fn close(&mut self, id: &str) {
        self.send(json!({"op": "close", "id": id})).await;
    }

    /// Reads one line from the driver and files it under its socket.
    async fn read_line(&mut self) {
        let line = tokio::time::timeout(PATIENCE, self.lines.next_line())
            .await
            .expect("the driver said something in time")
            .expect("driver's stdout")
            .expect("the driver is running");
        let line: Value = serde_json::from_str(&line).expect("a JSON line");
        assert_ne!(line["on"], "driver_error", "{line}");
        let id = line["id"].as_str().unwrap_or_default().to_owned();
        if line["on"] == "upgrade" && line["transport"] == "websocket" {
            self.upgraded.insert(id);
        } else {
            self.waiting.entry(id).or_default().push_back(line);
        }
    }

    /// The next line about socket `id`.
    pub async fn next_for(&mut self, id: &str) -> Value {
        loop {
            if let Some(line) = self.waiting.get_mut(id).and_then(VecDeque::pop_front) {
                return line;
            }
            self.read_line().await;
        }
    }

    /// The first line about socket `id` that matches `wanted`, leaving the others in order.
    async fn take_first(&mut self, id: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            if let Some(queue) = self.waiting.get_mut(id)
                && let Some(at) = queue.iter().position(&wanted)
                && let Some(line) = queue.remove(at)
            {
                return line;
            }
            self.read_line().await;
        }
    }

    /// Waits until socket `id`'s connection has upgraded from polling to WebSocket.
    pub async fn upgraded(&mut self, id: &str) {
        while !self.upgraded.contains(id) {
            self.read_line().await;
        }
    }

    /// Lines about socket `id` until one matches `done`; all of them, that one last.
    pub async fn until(&mut self, id: &str, done: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let line = self.next_for(id).await;
            let stop = done(&line);
            seen.push(line);
            if stop {
                return seen;
            }
        }
    }

    /// Events socket `id` receives until `event` for `job`; all of them, that one last.
    pub async fn events_until(&mut self, id: &str, job: &str, event: &str) -> Vec<Value> {
        self.until(id, |l| {
            l["on"] == "event" && l["event"] == event && l["data"]["jobId"] == job
        })
        .await
        .into_iter()
        .filter(|l| l["on"] == "event")
        .collect()
    }

    /// Whether socket `id` sees nothing for `wait`.
    pub async fn quiet_for(&mut self, id: &str, wait: Duration) -> bool {
        tokio::time::timeout(wait, self.next_for(id)).await.is_err()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
