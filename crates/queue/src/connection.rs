//! Connections to Redis: one node, or a Redis Cluster (`redis+cluster://h1:p1,h2:p2`).
//!
//! Commands share one multiplexed connection (many requests in flight on one socket, so a
//! batch of callers costs one round trip each, not one connection each). On one node it comes
//! from the deadpool pool and is replaced when it breaks, so a Redis restart or a
//! `CLIENT KILL` costs the callers one error, not the process. On a cluster it is the redis
//! crate's cluster connection, which keeps one multiplexed connection per node, follows
//! `MOVED`/`ASK` and reloads the slot map after a failover by itself. Blocking commands
//! (`BLPOP`, `XREAD BLOCK`) get connections of their own, since they would stall the shared
//! one.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_redis::{Manager, Pool};
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, Cmd, ConnectionInfo, IntoConnectionInfo, Pipeline, RedisFuture, Value,
};
use tokio::sync::Mutex;

use crate::{QueueError, Result};

/// Commands that do not block answer well within this; past it the connection is presumed dead.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// On a cluster, how long one command may keep retrying (redirects, a failover's reconnects)
/// before it fails: a failover takes the cluster's node timeout plus an election.
const CLUSTER_OVERALL_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a write waits for a replica's acknowledgement (`WAIT`) before going on without it.
/// A live replica acknowledges within a millisecond or two; a busy one may take longer, and
/// a write that goes on without its acknowledgement is one a failover may undo.
const REPLICA_ACK_TIMEOUT_MS: u64 = 1000;
/// How long a master that listed a connected replica (`ROLE`) is trusted to have one before
/// it is asked again, and how long one whose replicas let a `WAIT` time out is not waited for
/// (waiting out the timeout on every write would stall the queue).
const REPLICAS_RECHECK: Duration = Duration::from_secs(10);
/// How long a master that listed no connected replica is not waited for before it is asked
/// again: a replica that is still loading its master's data, or that comes back after a
/// break, is not listed until it has it, and writes made meanwhile could be lost to a
/// failover, so it is looked for often (a `ROLE` costs Redis a few microseconds).
const NO_REPLICA_RECHECK: Duration = Duration::from_secs(1);

/// What the master of one hash tag said of its replicas, and until when that holds.
#[derive(Clone, Copy)]
struct Replicas {
    connected: bool,
    until: Instant,
}

#[derive(Clone)]
pub struct Redis {
    target: Arc<Target>,
    shared: Arc<Mutex<Option<Connection>>>,
    /// Per hash tag, whether its master has a replica to wait for ([`REPLICAS_RECHECK`]).
    replicas: Arc<std::sync::Mutex<HashMap<String, Replicas>>>,
}

enum Target {
    Node {
        client: redis::Client,
        pool: Pool,
    },
    Cluster {
        /// The seed nodes as given, for pub/sub (which any node serves on a cluster).
        seeds: Vec<ConnectionInfo>,
        client: Box<ClusterClient>,
    },
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the URL may carry a password
        f.debug_struct("Redis")
            .field("cluster", &self.is_cluster())
            .finish_non_exhaustive()
    }
}

/// A connection to one node or to a cluster; both are multiplexed and cheap to clone.
#[derive(Clone)]
pub enum Connection {
    Node(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Node(_) => "Connection::Node",
            Self::Cluster(_) => "Connection::Cluster",
        })
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Node(conn) => conn.req_packed_command(cmd),
            Self::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Node(conn) => conn.req_packed_commands(pipeline, offset, count),
            Self::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(conn) => conn.get_db(),
            Self::Cluster(conn) => conn.get_db(),
        }
    }
}

impl Redis {
    /// Sets up the pool or the cluster client; connects lazily, so a Redis that is down now is
    /// not an error yet. `redis+cluster://` (or `rediss+cluster://`) with comma-separated
    /// seed nodes names a cluster; any other URL one node.
    pub fn open(url: &str) -> Result<Self> {
        let target = match cluster_seeds(url)? {
            Some(seeds) => Target::Cluster {
                client: Box::new(cluster_client(&seeds, RESPONSE_TIMEOUT)?),
                seeds,
            },
            None => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT));
                let manager = Manager::new_with_config(url, config)?;
                Target::Node {
                    client: redis::Client::open(url)?,
                    pool: Pool::builder(manager)
                        .max_size(16)
                        .build()
                        .map_err(|err| QueueError::Pool(err.to_string()))?,
                }
            }
        };
        Ok(Self {
            target: Arc::new(target),
            shared: Arc::new(Mutex::new(None)),
            replicas: Arc::default(),
        })
    }

    pub fn is_cluster(&self) -> bool {
        matches!(*self.target, Target::Cluster { .. })
    }

    /// The shared connection, connecting first if there is none. The lock is not held while
    /// connecting: with Redis unreachable, callers would otherwise wait out each other's
    /// connect timeouts one after another.
    pub async fn connection(&self) -> Result<Connection> {
        if let Some(conn) = self.shared.lock().await.as_ref() {
            return Ok(conn.clone());
        }
        let fresh = match &*self.target {
            Target::Node { pool, .. } => {
                let pooled = pool
                    .get()
                    .await
                    .map_err(|err| QueueError::Pool(err.to_string()))?;
                Connection::Node(deadpool_redis::Connection::take(pooled))
            }
            Target::Cluster { client, .. } => {
                Connection::Cluster(client.get_async_connection().await?)
            }
        };
        // another caller may have connected meanwhile: all share the first connection
        Ok(self.shared.lock().await.get_or_insert(fresh).clone())
    }

    /// Forget the shared connection after it failed; the next caller makes a new one.
    pub async fn reset(&self) {
        self.shared.lock().await.take();
    }

    /// Runs `op` on the shared connection, replacing the connection if it broke.
    pub(crate) async fn run<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: FnOnce(Connection) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let conn = self.connection().await?;
        let result = op(conn).await;
        if let Err(err) = &result
            && err.is_connection_error()
        {
            self.reset().await;
        }
        result
    }

    /// On a cluster, waits until a replica of the master holding `key` has the writes made
    /// so far (`WAIT`), so that a failover right after cannot undo a lease or an outcome the
    /// caller is about to act on. A master without a connected replica is not waited for (it
    /// cannot fail over either); one whose replicas do not answer in time is then treated as
    /// one without for [`REPLICAS_RECHECK`]. One node: nothing to wait for.
    pub(crate) async fn replicated(&self, key: &str) -> Result<()> {
        if !self.is_cluster() {
            return Ok(());
        }
        let tag = hash_tag(key);
        if !self.has_replicas(key, tag).await? {
            metrics::counter!("agentq_redis_unreplicated_writes_total").increment(1);
            return Ok(());
        }
        let mut pipe = redis::pipe();
        // the keyed command routes the pipeline to the key's master; WAIT alone has no key
        pipe.cmd("EXISTS")
            .arg(key)
            .ignore()
            .cmd("WAIT")
            .arg(1)
            .arg(REPLICA_ACK_TIMEOUT_MS);
        let (acked,): (u64,) = self
            .run(|mut conn| async move { Ok(pipe.query_async(&mut conn).await?) })
            .await?;
        if acked == 0 {
            metrics::counter!("agentq_redis_unreplicated_writes_total").increment(1);
            tracing::warn!(
                key = tag,
                "no replica acknowledged a write in time: writes there are not waited for for 10 s"
            );
            self.remember_replicas(tag, false, REPLICAS_RECHECK);
        }
        Ok(())
    }

    /// Whether the master holding `key` has a connected replica, from its `ROLE` at most
    /// [`REPLICAS_RECHECK`] ago (at most [`NO_REPLICA_RECHECK`] ago when it listed none).
    async fn has_replicas(&self, key: &str, tag: &str) -> Result<bool> {
        let known = self
            .replicas
            .lock()
            .ok()
            .and_then(|known| known.get(tag).copied());
        if let Some(known) = known
            && Instant::now() < known.until
        {
            return Ok(known.connected);
        }
        let mut pipe = redis::pipe();
        pipe.cmd("EXISTS").arg(key).ignore().cmd("ROLE");
        let (role,): (Value,) = self
            .run(|mut conn| async move { Ok(pipe.query_async(&mut conn).await?) })
            .await?;
        let connected = connected_replicas(&role) > 0;
        // said once when it changes, not at every look
        if !connected && known.is_none_or(|known| known.connected) {
            tracing::info!(
                key = tag,
                "this key's master has no replica: writes are not waited for"
            );
        }
        let recheck = if connected {
            REPLICAS_RECHECK
        } else {
            NO_REPLICA_RECHECK
        };
        self.remember_replicas(tag, connected, recheck);
        Ok(connected)
    }

    fn remember_replicas(&self, tag: &str, connected: bool, recheck: Duration) {
        if let Ok(mut known) = self.replicas.lock() {
            let until = Instant::now() + recheck;
            known.insert(tag.to_owned(), Replicas { connected, until });
        }
    }

    /// Redis's clock at the master holding `key`, in milliseconds since the epoch (on a
    /// cluster each node has its own clock: the one that stamps a queue's scripts is that
    /// queue's master's).
    pub(crate) async fn time_ms(&self, key: &str) -> Result<u64> {
        let mut pipe = redis::pipe();
        pipe.cmd("EXISTS").arg(key).ignore().cmd("TIME");
        let ((secs, micros),): ((u64, u64),) = self
            .run(|mut conn| async move { Ok(pipe.query_async(&mut conn).await?) })
            .await?;
        Ok(secs * 1000 + micros / 1000)
    }

    /// A cluster's slot ranges and the address of the master serving each (`CLUSTER SLOTS`).
    pub(crate) async fn slot_ranges(&self) -> Result<Vec<(u16, u16, String)>> {
        let reply: Vec<Vec<Value>> = self
            .run(|mut conn| async move {
                Ok(redis::cmd("CLUSTER")
                    .arg("SLOTS")
                    .query_async(&mut conn)
                    .await?)
            })
            .await?;
        let number = |value: &Value| redis::from_redis_value_ref::<u16>(value).ok();
        Ok(reply
            .iter()
            .filter_map(|range| {
                let master = redis::from_redis_value_ref::<Vec<Value>>(range.get(2)?).ok()?;
                let host = redis::from_redis_value_ref::<String>(master.first()?).ok()?;
                let port = number(master.get(1)?)?;
                Some((
                    number(range.first()?)?,
                    number(range.get(1)?)?,
                    format!("{host}:{port}"),
                ))
            })
            .collect())
    }

    /// A connection of its own for blocking commands; `longest_block` bounds how long one
    /// command may wait before the connection counts as dead.
    pub async fn blocking_connection(&self, longest_block: Duration) -> Result<Connection> {
        let response_timeout = longest_block + RESPONSE_TIMEOUT;
        match &*self.target {
            Target::Node { client, .. } => {
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(response_timeout));
                Ok(Connection::Node(
                    client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await?,
                ))
            }
            Target::Cluster { seeds, .. } => Ok(Connection::Cluster(
                cluster_client(seeds, response_timeout)?
                    .get_async_connection()
                    .await?,
            )),
        }
    }

    /// A pub/sub connection (cancel requests), within the connect timeout. On a cluster a
    /// `PUBLISH` reaches every node, so the first seed node that answers serves; when it goes
    /// away the subscriber's stream ends and the caller subscribes again, to the next one.
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub> {
        let clients = match &*self.target {
            Target::Node { client, .. } => vec![client.clone()],
            Target::Cluster { seeds, .. } => seeds
                .iter()
                .map(|seed| redis::Client::open(seed.clone()))
                .collect::<redis::RedisResult<_>>()?,
        };
        let mut last_error = QueueError::Pool("no Redis node to subscribe on".into());
        for client in clients {
            match tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await {
                Ok(Ok(pubsub)) => return Ok(pubsub),
                Ok(Err(err)) => last_error = err.into(),
                Err(_) => last_error = QueueError::Pool("pub/sub connection timed out".into()),
            }
        }
        Err(last_error)
    }
}

/// A key's hash tag (what its cluster slot is computed from): the part between the first `{`
/// and the next `}`, or the whole key.
/// How many replicas a master's `ROLE` reply lists (`["master", offset, [[ip, port,
/// offset], ...]]`); anything else (a replica answering during a failover) counts as none.
fn connected_replicas(role: &Value) -> usize {
    match role {
        Value::Array(parts) => match parts.as_slice() {
            [Value::BulkString(kind), _, Value::Array(replicas)] if kind == b"master" => {
                replicas.len()
            }
            _ => 0,
        },
        _ => 0,
    }
}

fn hash_tag(key: &str) -> &str {
    key.split_once('{')
        .and_then(|(_, rest)| rest.split_once('}'))
        .map(|(tag, _)| tag)
        .filter(|tag| !tag.is_empty())
        .unwrap_or(key)
}

fn cluster_client(seeds: &[ConnectionInfo], response_timeout: Duration) -> Result<ClusterClient> {
    Ok(ClusterClientBuilder::new(seeds.to_vec())
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(response_timeout)
        .overall_response_timeout(Some(CLUSTER_OVERALL_TIMEOUT.max(response_timeout)))
        .build()?)
}

/// The seed nodes of a `redis+cluster://[user:password@]host:port,host:port` URL
/// (`rediss+cluster://` for TLS); `None` for a URL of one node.
fn cluster_seeds(url: &str) -> Result<Option<Vec<ConnectionInfo>>> {
    let (scheme, rest) = if let Some(rest) = url.strip_prefix("redis+cluster://") {
        ("redis", rest)
    } else if let Some(rest) = url.strip_prefix("rediss+cluster://") {
        ("rediss", rest)
    } else {
        return Ok(None);
    };
    let (credentials, hosts) = match rest.rsplit_once('@') {
        Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
        None => (String::new(), rest),
    };
    let hosts = hosts.strip_suffix('/').unwrap_or(hosts);
    if hosts.contains(['/', '?', '#']) {
        return Err(QueueError::Pool(
            "a redis+cluster:// URL names seed nodes only (host:port,host:port)".into(),
        ));
    }
    let seeds = hosts
        .split(',')
        .filter(|host| !host.is_empty())
        .map(|host| format!("{scheme}://{credentials}{host}").into_connection_info())
        .collect::<redis::RedisResult<Vec<_>>>()?;
    if seeds.is_empty() {
        return Err(QueueError::Pool(
            "a redis+cluster:// URL needs at least one seed node".into(),
        ));
    }
    Ok(Some(seeds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_url_names_its_seed_nodes_with_their_credentials() {
        let seeds = cluster_seeds("redis+cluster://user:pw@10.0.0.1:7000,10.0.0.2:7001/")
            .expect("valid")
            .expect("a cluster");
        assert_eq!(seeds.len(), 2);
        assert_eq!(seeds[1].addr().to_string(), "10.0.0.2:7001");
        assert_eq!(seeds[0].redis_settings().password(), Some("pw"));
        assert_eq!(seeds[1].redis_settings().username(), Some("user"));
    }

    #[test]
    fn a_hash_tag_is_what_the_slot_is_computed_from() {
        assert_eq!(hash_tag("aq:{agent-execution#3}:wait"), "agent-execution#3");
        assert_eq!(hash_tag("plain"), "plain");
        assert_eq!(hash_tag("a{}b"), "a{}b");
    }

    #[test]
    fn other_urls_name_one_node_and_bad_cluster_urls_are_refused() {
        assert!(
            cluster_seeds("redis://127.0.0.1:6379")
                .expect("ok")
                .is_none()
        );
        assert!(cluster_seeds("redis+cluster://").is_err());
        assert!(cluster_seeds("redis+cluster://h:1/0").is_err());
        assert!(cluster_seeds("redis+cluster://h:notaport").is_err());
        assert!(Redis::open("redis+cluster://h1:7000,h2:7000").is_ok_and(|r| r.is_cluster()));
    }
}
