//! agentq's events-broadcaster: every job event of the queue's `events` stream, fanned out to
//! the rooms dashboards join, over WebSocket (`/ws`) and Socket.IO (`/socket.io/`) (DESIGN.md
//! §6).

pub mod access;
pub mod connection;
pub mod frame;
pub mod http;
pub mod hub;
pub mod membership;
pub mod room;
pub mod settings;
pub mod socketio;

use std::sync::Arc;
use std::time::Duration;

use agentq_auth::{Identities, Jwt};
use agentq_queue::{Partitions, QueueConfig, Redis};
use agentq_store::Db;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::hub::Hub;
use crate::settings::Settings;

/// The kernel's send buffer per client. Left to autotuning it grows to megabytes for a client
/// that stops reading, hiding it from the outbox bound and costing memory; events are small.
const SOCKET_SEND_BUFFER: usize = 64 * 1024;
/// How long clients get to receive their close frames at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// What every connection shares.
pub struct Context {
    pub settings: Settings,
    pub queue: Partitions,
    pub db: Db,
    pub jwt: Jwt,
    pub identities: Identities,
    pub hub: Arc<Hub>,
    pub prometheus: PrometheusHandle,
    pub connections: TaskTracker,
    /// One permit per WebSocket or Socket.IO connection (`AGENTQ_WS_MAX_CONNECTIONS`).
    pub connection_slots: Arc<tokio::sync::Semaphore>,
    /// The Socket.IO sessions on long-polling, by session id.
    pub socketio_links: socketio::Links,
    pub shutdown: CancellationToken,
}

impl Context {
    /// A place under `AGENTQ_WS_MAX_CONNECTIONS` for one more connection of either protocol;
    /// `None` (counted) when they are all taken.
    pub fn connection_slot(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let slot = self.connection_slots.clone().try_acquire_owned().ok();
        if slot.is_none() {
            metrics::counter!("agentq_ws_refused_full_total").increment(1);
        }
        slot
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Serves on `listener` until `shutdown`, then closes every client's connection (`/ws`: 1001)
/// so that it reconnects elsewhere.
pub async fn run(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let db = agentq_store::connect_and_migrate(settings.core.database_url.expose()).await?;
    let queue = Partitions::new(
        Redis::open(settings.core.redis_url.expose())?,
        QueueConfig::named(settings.core.queue.clone()),
        settings.core.partitions,
    );
    queue.check_count().await?;
    // live delivery starts after the newest events now; older ones are for resuming clients
    let start = queue.newest_position().await?;
    let hub = Arc::new(Hub::starting_after(start.clone()));
    let ctx = Arc::new(Context {
        jwt: Jwt::new(settings.jwt_secret.expose()),
        identities: Identities::default(),
        prometheus: agentq_telemetry::prometheus(),
        connections: TaskTracker::new(),
        connection_slots: Arc::new(tokio::sync::Semaphore::new(settings.max_connections)),
        socketio_links: socketio::Links::default(),
        shutdown: shutdown.clone(),
        hub: hub.clone(),
        settings,
        queue: queue.clone(),
        db,
    });
    let pumps: Vec<_> = queue
        .all()
        .iter()
        .enumerate()
        .map(|(index, partition)| {
            tokio::spawn(hub::pump(
                partition.clone(),
                index,
                hub.clone(),
                start.get(index),
                shutdown.clone(),
            ))
        })
        .collect();
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(SOCKET_SEND_BUFFER);
        let ctx = ctx.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| http::handle(req, ctx.clone()));
            let served = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
            if let Err(err) = served {
                tracing::debug!(error = %err, "connection ended");
            }
        });
    }
    drop(listener);
    ctx.connections.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, ctx.connections.wait()).await;
    for pump in pumps {
        let _ = pump.await;
    }
    Ok(())
}
