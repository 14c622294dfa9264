//! Connections to Redis. Commands share one multiplexed connection (many requests in flight
//! on one socket, so a batch of callers costs one round trip each, not one connection each);
//! it comes from the deadpool pool and is replaced when it breaks, so a Redis restart or a
//! `CLIENT KILL` costs the callers one error, not the process. Blocking commands (`BLPOP`,
//! `XREAD BLOCK`) get connections of their own, since they would stall the shared one.

use std::sync::Arc;
use std::time::Duration;

use deadpool_redis::{Manager, Pool};
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;
use tokio::sync::Mutex;

use crate::{QueueError, Result};

/// Commands that do not block answer well within this; past it the connection is presumed dead.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct Redis {
    client: redis::Client,
    pool: Pool,
    shared: Arc<Mutex<Option<MultiplexedConnection>>>,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // the URL may carry a password
        f.debug_struct("Redis").finish_non_exhaustive()
    }
}

impl Redis {
    /// Sets up the pool; connects lazily, so a Redis that is down now is not an error yet.
    pub fn open(url: &str) -> Result<Self> {
        let client = redis::Client::open(url)?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let manager = Manager::new_with_config(url, config)?;
        let pool = Pool::builder(manager)
            .max_size(16)
            .build()
            .map_err(|err| QueueError::Pool(err.to_string()))?;
        Ok(Self {
            client,
            pool,
            shared: Arc::new(Mutex::new(None)),
        })
    }

    /// The pool, for callers that want a connection of their own for a while.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The shared connection, connecting first if there is none. The lock is not held while
    /// connecting: with Redis unreachable, callers would otherwise wait out each other's
    /// connect timeouts one after another.
    pub async fn connection(&self) -> Result<MultiplexedConnection> {
        if let Some(conn) = self.shared.lock().await.as_ref() {
            return Ok(conn.clone());
        }
        let pooled = self
            .pool
            .get()
            .await
            .map_err(|err| QueueError::Pool(err.to_string()))?;
        let fresh = deadpool_redis::Connection::take(pooled);
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
        F: FnOnce(MultiplexedConnection) -> Fut,
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

    /// A connection of its own for blocking commands; `longest_block` bounds how long one
    /// command may wait before the connection counts as dead.
    pub async fn blocking_connection(
        &self,
        longest_block: Duration,
    ) -> Result<MultiplexedConnection> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(longest_block + RESPONSE_TIMEOUT));
        Ok(self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?)
    }

    /// A pub/sub connection (cancel requests), within the connect timeout.
    pub async fn pubsub(&self) -> Result<redis::aio::PubSub> {
        match tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub()).await {
            Ok(connected) => Ok(connected?),
            Err(_) => Err(QueueError::Pool("pub/sub connection timed out".into())),
        }
    }
}
