//! Engine.IO's HTTP side: the handshake (`GET ?transport=polling` without a session, or a
//! WebSocket upgrade without one), a polling session's `GET` (its waiting packets) and `POST`
//! (the client's packets), and the upgrade of a polling session to WebSocket after its probe.
//! Errors answer as Engine.IO servers do: 400 with `{"code":…,"message":…}`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::OwnedSemaphorePermit;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

use super::packet;
use super::polling::Link;
use super::session::{self, Start, Transport};
use crate::Context;
use crate::http::{self, Reply, WebSocket};

/// How long a client has for its upgrade probe (`2probe`, then `5`).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// An Engine.IO error answer.
fn refuse(status: StatusCode, code: u8, message: &str) -> Reply {
    let body = serde_json::json!({ "code": code, "message": message }).to_string();
    let mut reply = Response::new(http::body(body));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply
}

fn text(body: impl Into<Bytes>) -> Reply {
    let mut reply = Response::new(http::body(body));
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    reply
}

/// `name=value` from the query string.
fn query<'a>(req: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    req.uri()
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// A `/socket.io/` request whose `Origin` was allowed.
pub async fn handle(req: Request<Incoming>, ctx: &Arc<Context>) -> Reply {
    if query(&req, "EIO") != Some("4") {
        return refuse(StatusCode::BAD_REQUEST, 5, "Unsupported protocol version");
    }
    let sid = query(&req, "sid").map(str::to_owned);
    match (req.method(), query(&req, "transport"), sid) {
        (&Method::GET, Some("polling"), None) => handshake(&req, ctx),
        (&Method::GET, Some("polling"), Some(sid)) => match ctx.socketio_links.get(&sid) {
            Some(link) => match link.poll(super::MAX_PAYLOAD).await {
                Some(body) => text(body),
                None => refuse(StatusCode::BAD_REQUEST, 3, "Bad request"),
            },
            None => refuse(StatusCode::BAD_REQUEST, 1, "Session ID unknown"),
        },
        (&Method::POST, Some("polling"), Some(sid)) => match ctx.socketio_links.get(&sid) {
            Some(link) => post(req, &link).await,
            None => refuse(StatusCode::BAD_REQUEST, 1, "Session ID unknown"),
        },
        (&Method::GET, Some("websocket"), sid) => websocket(req, ctx, sid),
        _ => refuse(StatusCode::BAD_REQUEST, 3, "Bad request"),
    }
}

/// The token a connection's first request carried, for a `CONNECT` without `auth.token`.
fn request_token(req: &Request<Incoming>) -> Option<String> {
    http::token(req.headers(), req.uri()).map(str::to_owned)
}

/// A new session's connection slot and id, or why there is none (answered 503).
fn new_session(ctx: &Context) -> Result<(OwnedSemaphorePermit, String), &'static str> {
    let slot = ctx.connection_slot().ok_or("Too many connections")?;
    let sid = super::new_sid();
    if sid.is_empty() {
        return Err("Service unavailable");
    }
    Ok((slot, sid))
}

/// A new polling session: its task starts, and this answer is its `open` packet.
fn handshake(req: &Request<Incoming>, ctx: &Arc<Context>) -> Reply {
    let (slot, sid) = match new_session(ctx) {
        Ok(new) => new,
        Err(why) => return refuse(StatusCode::SERVICE_UNAVAILABLE, 3, why),
    };
    let (link, end) = Link::new();
    ctx.socketio_links.insert(&sid, link.clone());
    let start = Start {
        sid: sid.clone(),
        transport: Transport::Polling { link, end },
        request_token: request_token(req),
        slot,
    };
    ctx.connections.spawn(session::serve(ctx.clone(), start));
    let ping_ms = ctx.settings.ping_every.as_millis();
    text(packet::open(&sid, true, ping_ms, super::MAX_PAYLOAD))
}

/// The client's packets, in one body separated by the record separator.
async fn post(req: Request<Incoming>, link: &Link) -> Reply {
    let body = match Limited::new(req.into_body(), super::MAX_PAYLOAD)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => return refuse(StatusCode::PAYLOAD_TOO_LARGE, 3, "Payload too large"),
    };
    let Ok(body) = std::str::from_utf8(&body) else {
        return refuse(StatusCode::BAD_REQUEST, 3, "Bad request");
    };
    for packet in body.split(packet::RECORD_SEPARATOR) {
        if link.incoming.send(packet.to_owned()).await.is_err() {
            return refuse(StatusCode::BAD_REQUEST, 1, "Session ID unknown");
        }
    }
    let mut reply = Response::new(http::body("ok"));
    reply
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    reply
}

/// A WebSocket: a new session (no `sid`), or the upgrade of a polling one.
fn websocket(mut req: Request<Incoming>, ctx: &Arc<Context>, sid: Option<String>) -> Reply {
    let link = match &sid {
        Some(sid) => match ctx.socketio_links.get(sid) {
            Some(link) => Some(link),
            None => return refuse(StatusCode::BAD_REQUEST, 1, "Session ID unknown"),
        },
        None => None,
    };
    let (reply, upgrading) = match http::accept_websocket(&mut req) {
        http::Upgrade::Accepted(reply, upgrading) => (reply, upgrading),
        http::Upgrade::Refused(reply) => return reply,
    };
    let request_token = request_token(&req);
    drop(req);
    match link {
        Some(link) => {
            ctx.connections.spawn(async move {
                if let Some(ws) = http::open_websocket(upgrading).await {
                    probe(ws, &link).await;
                }
            });
        }
        None => {
            let (slot, sid) = match new_session(ctx) {
                Ok(new) => new,
                Err(why) => return refuse(StatusCode::SERVICE_UNAVAILABLE, 3, why),
            };
            let ctx = ctx.clone();
            let tasks = ctx.connections.clone();
            tasks.spawn(async move {
                if let Some(ws) = http::open_websocket(upgrading).await {
                    let start = Start {
                        sid,
                        transport: Transport::WebSocket(Box::new(ws)),
                        request_token,
                        slot,
                    };
                    session::serve(ctx, start).await;
                }
            });
        }
    }
    reply
}

/// The upgrade probe: `2probe` answered with `3probe`, then the client's `upgrade` (`5`); the
/// WebSocket then goes to the session, which moves to it.
async fn probe(mut ws: WebSocket, link: &Link) {
    let handshake = async {
        if next_text(&mut ws).await?.as_str() != "2probe" {
            return None;
        }
        ws.send(Message::Text(Utf8Bytes::from_static("3probe")))
            .await
            .ok()?;
        // the client sends `upgrade` once its poll in flight has come back: end that poll
        link.push(Utf8Bytes::from_static(packet::NOOP), usize::MAX);
        (next_text(&mut ws).await?.as_str() == "5").then_some(ws)
    };
    if let Ok(Some(ws)) = tokio::time::timeout(PROBE_TIMEOUT, handshake).await {
        let _ = link.upgrade.send(Box::new(ws)).await;
    }
}

async fn next_text(ws: &mut WebSocket) -> Option<Utf8Bytes> {
    match ws.next().await {
        Some(Ok(Message::Text(text))) => Some(text),
        _ => None,
    }
}
