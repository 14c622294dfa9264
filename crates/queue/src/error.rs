//! What can go wrong talking to the queue.

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis did not answer or refused: the queue is unavailable (a 503 at the gateway).
    #[error("redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("redis pool: {0}")]
    Pool(String),
    /// The coalesced enqueue call this job travelled in failed (the message is its error).
    #[error("enqueue failed: {0}")]
    Batch(String),
    /// Redis answered something this crate did not write: a bug or foreign data in our keys.
    #[error("unexpected reply from redis: {0}")]
    Protocol(String),
    /// This process's settings disagree with what the queue in Redis was made with.
    #[error("{0}")]
    Settings(String),
}

impl QueueError {
    pub(crate) fn protocol(what: impl Into<String>) -> Self {
        Self::Protocol(what.into())
    }

    /// Whether Redis may have run the command although the caller got an error: the reply was
    /// lost (a timeout, a dropped connection), not refused. Such an outcome is unknown until
    /// checked.
    pub fn may_have_run(&self) -> bool {
        match self {
            Self::Redis(err) => {
                !err.is_connection_refusal()
                    && (err.is_timeout() || err.is_connection_dropped() || err.is_io_error())
            }
            // a coalesced call failed as a whole: its reply, not its request, may be what failed
            Self::Batch(_) | Self::Protocol(_) => true,
            Self::Pool(_) | Self::Settings(_) => false,
        }
    }

    /// Whether the connection itself failed (and should be replaced), as opposed to a command.
    pub fn is_connection_error(&self) -> bool {
        match self {
            Self::Redis(err) => {
                err.is_io_error()
                    || err.is_connection_dropped()
                    || err.is_connection_refusal()
                    || err.is_timeout()
                    || err.is_unrecoverable_error()
            }
            Self::Pool(_) => true,
            Self::Batch(_) | Self::Protocol(_) | Self::Settings(_) => false,
        }
    }
}
