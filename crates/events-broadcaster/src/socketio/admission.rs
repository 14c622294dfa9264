//! Who may connect: the Socket.IO connect middleware. A refusal becomes a connect error whose
//! message the client's `connect_error` handler gets.

use std::fmt;
use std::sync::Arc;

use agentq_auth::Identity;
use agentq_queue::EventId;
use serde_json::Value;
use socketioxide::extract::SocketRef;
use tokio::sync::OwnedSemaphorePermit;

use crate::Context;
use crate::http;

/// What the middleware learned, for the connect handler (through the socket's extensions).
#[derive(Clone)]
pub struct Admission {
    pub identity: Identity,
    pub token_expires_at: u64,
    /// `auth.lastEventId`: resume `notifications` after it.
    pub last_event_id: Option<String>,
    /// The connection's place under `AGENTQ_WS_MAX_CONNECTIONS`, shared with `/ws`: held,
    /// never read, given back when the session drops it.
    _slot: Arc<OwnedSemaphorePermit>,
}

/// Why a connection was refused; its `Display` is the connect error's message.
#[derive(Debug)]
pub struct Denied(&'static str);

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// The token from `auth.token`, then `Authorization`, then `?token=`.
fn token<'a>(auth: Option<&'a Value>, socket: &'a SocketRef) -> Option<&'a str> {
    let from_auth = auth
        .and_then(|auth| auth.get("token"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let parts = socket.req_parts();
    from_auth.or_else(|| http::token(&parts.headers, &parts.uri))
}

pub async fn admit(
    ctx: Arc<Context>,
    socket: SocketRef,
    auth: Option<Value>,
) -> Result<(), Denied> {
    let token = token(auth.as_ref(), &socket).ok_or(Denied("Access token required"))?;
    let verified = ctx
        .jwt
        .verify(token)
        .ok_or(Denied("Invalid or expired token"))?;
    let last_event_id = match auth.as_ref().and_then(|auth| auth.get("lastEventId")) {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if EventId::parse(id).is_some() => Some(id.clone()),
        Some(_) => {
            return Err(Denied(
                "lastEventId must be a stream id such as 1764220000000-0",
            ));
        }
    };
    let identity = match ctx.identities.resolve(&ctx.db, verified.user).await {
        Ok(Some(identity)) => identity,
        Ok(None) => return Err(Denied("Invalid or expired token")),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the caller");
            return Err(Denied("Service unavailable"));
        }
    };
    let Ok(slot) = ctx.connection_slots.clone().try_acquire_owned() else {
        metrics::counter!("agentq_ws_refused_full_total").increment(1);
        return Err(Denied("Too many connections"));
    };
    socket.extensions.insert(Admission {
        identity,
        token_expires_at: verified.expires_at,
        last_event_id,
        _slot: Arc::new(slot),
    });
    Ok(())
}
