//! Who may connect: the checks of a Socket.IO `CONNECT`. A refusal becomes a connect error whose
//! message the client's `connect_error` handler gets.

use agentq_auth::Identity;
use agentq_queue::Position;
use serde_json::Value;

use crate::Context;

/// What the checks learned.
#[derive(Debug, Clone)]
pub struct Admission {
    pub identity: Identity,
    pub token_expires_at: u64,
    /// `auth.lastEventId`: resume `notifications` after it.
    pub last_event_id: Option<String>,
}

/// The token from `auth.token`, else the one the connection's first request carried
/// (`Authorization: Bearer …` or `?token=`).
fn token<'a>(auth: Option<&'a Value>, from_request: Option<&'a str>) -> Option<&'a str> {
    auth.and_then(|auth| auth.get("token"))
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .or(from_request)
}

/// Admits a `CONNECT` with payload `auth`, or says why not.
pub async fn admit(
    ctx: &Context,
    auth: Option<&Value>,
    request_token: Option<&str>,
) -> Result<Admission, &'static str> {
    let token = token(auth, request_token).ok_or("Access token required")?;
    let verified = ctx.jwt.verify(token).ok_or("Invalid or expired token")?;
    let last_event_id = match auth.and_then(|auth| auth.get("lastEventId")) {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if Position::parse(id, ctx.queue.count()).is_some() => {
            Some(id.clone())
        }
        Some(_) if ctx.queue.count() == 1 => {
            return Err("lastEventId must be a stream id such as 1764220000000-0");
        }
        Some(_) => return Err("lastEventId must be an event id this server sent"),
    };
    let identity = match ctx.identities.resolve(&ctx.db, verified.user).await {
        Ok(Some(identity)) => identity,
        Ok(None) => return Err("Invalid or expired token"),
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the caller");
            return Err("Service unavailable");
        }
    };
    Ok(Admission {
        identity,
        token_expires_at: verified.expires_at,
        last_event_id,
    })
}
