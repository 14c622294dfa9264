//! `ws-bench N[,N…] [--rate 100] [--seconds 20] [--idle 5] [--out FILE]`: for each N, starts
//! the release `events-broadcaster`, connects N WebSocket clients (this process) to one room,
//! then adds one event every 1/rate s the real way (XADD to the queue's events stream) and
//! measures, over every (event, client) pair, the time from just before the XADD to the
//! client's receipt. Also the broadcaster's RSS (idle with N connected, and while
//! broadcasting) and CPU. Prints one JSON object per N.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentq_auth::Jwt;
use agentq_queue::EventId;
use agentq_store::{NewUser, Role};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const SECRET: &str = "ws-bench-secret-that-is-long-enough-0123456789";

struct Options {
    counts: Vec<usize>,
    rate: u64,
    seconds: u64,
    idle: u64,
    out: Option<String>,
}

fn options() -> Options {
    let mut args = std::env::args().skip(1);
    let mut o = Options {
        counts: vec![1000],
        rate: 100,
        seconds: 20,
        idle: 5,
        out: None,
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--rate" => o.rate = value().parse().unwrap_or(100).max(1),
            "--seconds" => o.seconds = value().parse().unwrap_or(20).max(1),
            "--idle" => o.idle = value().parse().unwrap_or(5),
            "--out" => o.out = Some(value()),
            list => o.counts = list.split(',').filter_map(|n| n.parse().ok()).collect(),
        }
    }
    o
}

// One thread for every client: the clients must not take the CPU the broadcaster is measured on
// (two cores here), and one thread wastes none of it on work stealing.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let o = options();
    let mut results = Vec::new();
    for &n in &o.counts {
        let result = run(n, &o).await;
        println!("{result}");
        results.push(result);
    }
    if let Some(out) = &o.out {
        let text = serde_json::to_string_pretty(&json!({"runs": results})).unwrap_or_default();
        if let Err(err) = std::fs::write(out, text) {
            eprintln!("cannot write {out}: {err}");
        }
    }
}

/// `VmRSS` of `pid` in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(0)
}

/// utime + stime of `pid` in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            let after = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = after.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[index]
}

#[allow(clippy::too_many_lines, clippy::cast_precision_loss)]
async fn run(n: usize, o: &Options) -> Value {
    let tag = agentq_domain::JobId::new();
    let file = std::env::temp_dir().join(format!("agentq-ws-bench-{tag}.db"));
    let database_url = format!("sqlite://{}?mode=rwc", file.display());
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let queue = format!("ws-bench-{tag}");
    let db = agentq_store::connect_and_migrate(&database_url)
        .await
        .expect("db");
    let admin = agentq_store::create_user(
        &db,
        NewUser {
            email: "bench@example.com".into(),
            password_hash: "unused".into(),
            role: Role::Admin,
        },
    )
    .await
    .expect("user");
    let token = Jwt::new(SECRET.as_bytes())
        .issue(admin.id, 3600)
        .expect("token")
        .token;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    // the broadcaster built beside this binary, wherever cargo put them both
    let binary = std::env::var("AGENTQ_BROADCASTER_BIN").unwrap_or_else(|_| {
        std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.join("events-broadcaster")))
            .map_or_else(|| "events-broadcaster".into(), |p| p.display().to_string())
    });
    let mut child = std::process::Command::new(binary)
        .env("REDIS_URL", &redis_url)
        .env("DATABASE_URL", &database_url)
        .env("AGENTQ_QUEUE", &queue)
        .env("AGENTQ_JWT_SECRET", SECRET)
        .env("AGENTQ_WS_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("events-broadcaster");
    let pid = child.id();
    let url = format!("ws://127.0.0.1:{port}/ws");
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }

    // connect and subscribe everyone, 100 at a time
    let receipts: Arc<Mutex<Vec<(EventId, Instant)>>> = Arc::default();
    let mut clients = Vec::with_capacity(n);
    let mut pending = Vec::new();
    for i in 0..n {
        let (url, token) = (url.clone(), token.clone());
        pending.push(tokio::spawn(async move {
            let mut request = url.into_client_request().expect("request");
            request.headers_mut().insert(
                "authorization",
                format!("Bearer {token}").parse().expect("header"),
            );
            // tungstenite zeroes its whole read buffer (128 KiB by default) before each read
            let config = WebSocketConfig::default().read_buffer_size(4096);
            let (mut ws, _) =
                tokio_tungstenite::connect_async_with_config(request, Some(config), false)
                    .await
                    .expect("connect");
            ws.send(Message::Text(
                r#"{"type":"subscribe","room":"project:1"}"#.into(),
            ))
            .await
            .expect("subscribe");
            while let Some(Ok(message)) = ws.next().await {
                if matches!(message, Message::Text(_)) {
                    break;
                }
            }
            ws
        }));
        if pending.len() == 100 || i + 1 == n {
            for p in pending.drain(..) {
                clients.push(p.await.expect("client"));
            }
        }
    }
    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut ws| {
            let receipts = receipts.clone();
            tokio::spawn(async move {
                let mut mine = Vec::with_capacity(1024);
                while let Some(Ok(message)) = ws.next().await {
                    if let Message::Text(text) = message {
                        let at = Instant::now();
                        // the stream id: `"id":"…"` in the frame
                        if let Some(id) = text
                            .split("\"id\":\"")
                            .nth(1)
                            .and_then(|rest| rest.split('"').next())
                            .and_then(EventId::parse)
                        {
                            mine.push((id, at));
                        }
                        if text.contains("\"progress\":100") {
                            break;
                        }
                    }
                }
                if let Ok(mut all) = receipts.lock() {
                    all.extend(mine);
                }
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(o.idle)).await;
    let rss_idle = rss_kib(pid);

    // broadcast, open loop
    let mut redis = redis::Client::open(redis_url.as_str())
        .expect("redis")
        .get_multiplexed_async_connection()
        .await
        .expect("redis");
    let events_key = agentq_queue::Keys::new(&queue).events();
    let total = o.rate * o.seconds;
    let period = Duration::from_nanos(1_000_000_000 / o.rate);
    let mut sent: HashMap<EventId, Instant> = HashMap::new();
    let mut rss_samples = Vec::new();
    let cpu_before = cpu_ticks(pid);
    let client_cpu_before = cpu_ticks(std::process::id());
    let started = Instant::now();
    let job = agentq_domain::JobId::new().to_string();
    for k in 0..total {
        let due = started + period * u32::try_from(k).unwrap_or(u32::MAX);
        tokio::time::sleep_until(due.into()).await;
        let progress = if k + 1 == total { 100 } else { k % 100 };
        let at = Instant::now();
        let id: String = redis::cmd("XADD")
            .arg(&events_key)
            .arg("*")
            .arg("event")
            .arg("agent_job_progress")
            .arg("job")
            .arg(&job)
            .arg("project")
            .arg(1)
            .arg("task")
            .arg(1)
            .arg("progress")
            .arg(progress)
            .query_async(&mut redis)
            .await
            .expect("xadd");
        if let Some(id) = EventId::parse(&id) {
            sent.insert(id, at);
        }
        if k % o.rate == 0 {
            rss_samples.push(rss_kib(pid));
        }
    }
    // the window is `seconds` long, as the reference's: the last event is due before it ends
    let window_end = started + Duration::from_secs(o.seconds);
    tokio::time::sleep_until(window_end.into()).await;
    let cpu_window = cpu_ticks(pid) - cpu_before;
    let client_cpu_window = cpu_ticks(std::process::id()) - client_cpu_before;
    // drain: until every client saw the last event, or 30 s
    let drain_deadline = Instant::now() + Duration::from_secs(30);
    for reader in readers {
        let left = drain_deadline.saturating_duration_since(Instant::now());
        let _ = tokio::time::timeout(left, reader).await;
    }
    let rss_broadcast_max = rss_samples.iter().copied().max().unwrap_or(0);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    let _ = std::fs::remove_file(&file);

    let receipts = receipts.lock().map(|r| r.clone()).unwrap_or_default();
    let expected = total as f64 * n as f64;
    let mut latencies_ms: Vec<f64> = receipts
        .iter()
        .filter_map(|(id, at)| Some(at.duration_since(*sent.get(id)?).as_secs_f64() * 1000.0))
        .collect();
    latencies_ms.sort_by(f64::total_cmp);
    let on_time = receipts.iter().filter(|(_, at)| *at <= window_end).count() as f64;
    let ticks_per_sec = 100.0;
    json!({
        "subscribers": n,
        "rate_per_s": o.rate,
        "seconds": o.seconds,
        "events": total,
        "delivered": receipts.len() as f64 / expected,
        "delivered_by_window_end": on_time / expected,
        "latency_ms": {
            "p50": percentile(&latencies_ms, 0.50),
            "p99": percentile(&latencies_ms, 0.99),
            "max": latencies_ms.last().copied().unwrap_or(f64::NAN),
        },
        "rss_idle_mib": rss_idle as f64 / 1024.0,
        "rss_broadcast_max_mib": rss_broadcast_max as f64 / 1024.0,
        "cpu_percent_of_one_core": cpu_window as f64 / ticks_per_sec / o.seconds as f64 * 100.0,
        "client_cpu_percent_of_one_core":
            client_cpu_window as f64 / ticks_per_sec / o.seconds as f64 * 100.0,
    })
}
