//! The HTTP side of the port: `/healthz`, `/metrics`, `/ws`, whose upgrade is refused (401,
//! 403) before any WebSocket exists when the token or the `Origin` is not right, and
//! `/socket.io/`, whose requests pass the same `Origin` check (with CORS headers for the allowed
//! ones) before Engine.IO gets them (`socketio/engine.rs`).

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use crate::Context;
use crate::{connection, socketio};

pub type Body = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;
pub type Reply = Response<Body>;

/// Incoming frames larger than this close the connection (1009).
const MAX_FRAME_BYTES: usize = 64 * 1024;

pub async fn handle(req: Request<Incoming>, ctx: Arc<Context>) -> Result<Reply, Infallible> {
    let path = req.uri().path();
    if path == "/socket.io" || path.starts_with("/socket.io/") {
        return Ok(socketio_request(req, &ctx).await);
    }
    let reply = match (req.method(), path) {
        (&Method::GET, "/healthz") => json(StatusCode::OK, r#"{"status":"ok"}"#),
        (&Method::GET, "/metrics") => {
            let mut reply = Response::new(body(ctx.prometheus.render()));
            reply.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            reply
        }
        (&Method::GET, "/ws") => upgrade(req, ctx).await,
        _ => json(StatusCode::NOT_FOUND, r#"{"error":"Not found"}"#),
    };
    Ok(reply)
}

pub fn body(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A Socket.IO request (a polling request or the WebSocket upgrade): the `Origin` check and
/// CORS around Engine.IO's handling; the token is checked when the client connects.
async fn socketio_request(req: Request<Incoming>, ctx: &Arc<Context>) -> Reply {
    if !origin_allowed(req.headers(), &ctx.settings.allowed_origins) {
        return json(StatusCode::FORBIDDEN, r#"{"error":"Origin not allowed"}"#);
    }
    let origin = req.headers().get(header::ORIGIN).cloned();
    let mut reply = if req.method() == Method::OPTIONS {
        let mut reply = Response::new(body(Bytes::new()));
        *reply.status_mut() = StatusCode::NO_CONTENT;
        let headers = reply.headers_mut();
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        reply
    } else {
        socketio::handle(req, ctx).await
    };
    // the origin was checked above: a browser page there may read the polling answers
    if let Some(origin) = origin {
        let headers = reply.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    reply
}

fn json(status: StatusCode, text: &'static str) -> Reply {
    let mut reply = Response::new(body(text));
    *reply.status_mut() = status;
    reply.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    reply
}

/// The token from `Authorization: Bearer …` or `?token=…`.
pub fn token<'a>(headers: &'a HeaderMap, uri: &'a Uri) -> Option<&'a str> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let from_query = || {
        uri.query()?
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
    };
    from_header.or_else(from_query).filter(|t| !t.is_empty())
}

fn origin_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    match headers.get(header::ORIGIN) {
        // non-browser clients send none; browsers always do
        None => true,
        Some(origin) => origin
            .to_str()
            .is_ok_and(|o| allowed.iter().any(|a| a == o.trim_end_matches('/'))),
    }
}

fn is_websocket_upgrade(req: &Request<Incoming>) -> bool {
    let has = |name, value: &str| {
        req.headers()
            .get(name)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| h.split(',').any(|p| p.trim().eq_ignore_ascii_case(value)))
    };
    has(header::CONNECTION, "upgrade")
        && has(header::UPGRADE, "websocket")
        && has(header::SEC_WEBSOCKET_VERSION, "13")
        && req.headers().contains_key(header::SEC_WEBSOCKET_KEY)
}

async fn upgrade(mut req: Request<Incoming>, ctx: Arc<Context>) -> Reply {
    let Some(token) = token(req.headers(), req.uri()) else {
        return json(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"Access token required"}"#,
        );
    };
    let Some(verified) = ctx.jwt.verify(token) else {
        return json(
            StatusCode::UNAUTHORIZED,
            r#"{"error":"Invalid or expired token"}"#,
        );
    };
    if !origin_allowed(req.headers(), &ctx.settings.allowed_origins) {
        return json(StatusCode::FORBIDDEN, r#"{"error":"Origin not allowed"}"#);
    }
    if !is_websocket_upgrade(&req) {
        return json(
            StatusCode::BAD_REQUEST,
            r#"{"error":"Expected a WebSocket upgrade"}"#,
        );
    }
    let identity = match ctx.identities.resolve(&ctx.db, verified.user).await {
        Ok(Some(identity)) => identity,
        Ok(None) => {
            return json(
                StatusCode::UNAUTHORIZED,
                r#"{"error":"Invalid or expired token"}"#,
            );
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the caller");
            return json(
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"Service unavailable"}"#,
            );
        }
    };
    let Some(slot) = ctx.connection_slot() else {
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"error":"Too many connections"}"#,
        );
    };
    let (reply, upgrading) = match accept_websocket(&mut req) {
        Upgrade::Accepted(reply, upgrading) => (reply, upgrading),
        Upgrade::Refused(reply) => return reply,
    };
    // the request itself is not kept for the life of the connection
    drop(req);
    let tasks = ctx.connections.clone();
    tasks.spawn(async move {
        if let Some(ws) = open_websocket(upgrading).await {
            connection::serve(ws, ctx, identity, verified.expires_at).await;
            drop(slot);
        }
    });
    reply
}

/// The answer to a WebSocket upgrade request.
#[derive(Debug)]
pub enum Upgrade {
    /// `101`, and the connection to open the WebSocket on once it is sent.
    Accepted(Reply, hyper::upgrade::OnUpgrade),
    /// Not an upgrade (400).
    Refused(Reply),
}

/// A server's WebSocket on an upgraded connection.
pub type WebSocket = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// Accepts a WebSocket upgrade request.
pub fn accept_websocket(req: &mut Request<Incoming>) -> Upgrade {
    let accept = req
        .headers()
        .get(header::SEC_WEBSOCKET_KEY)
        .map(|key| derive_accept_key(key.as_bytes()))
        .and_then(|accept| HeaderValue::from_str(&accept).ok());
    let Some(accept) = accept.filter(|_| is_websocket_upgrade(req)) else {
        return Upgrade::Refused(json(
            StatusCode::BAD_REQUEST,
            r#"{"error":"Expected a WebSocket upgrade"}"#,
        ));
    };
    let upgrading = hyper::upgrade::on(req);
    let mut reply = Response::new(body(Bytes::new()));
    *reply.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = reply.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    Upgrade::Accepted(reply, upgrading)
}

/// The WebSocket, once the `101` went out (`None` when the upgrade failed).
pub async fn open_websocket(upgrading: hyper::upgrade::OnUpgrade) -> Option<WebSocket> {
    match upgrading.await {
        Ok(upgraded) => Some(
            WebSocketStream::from_raw_socket(
                TokioIo::new(upgraded),
                Role::Server,
                Some(websocket_config()),
            )
            .await,
        ),
        Err(err) => {
            tracing::debug!(error = %err, "upgrade failed");
            None
        }
    }
}

/// Small buffers (many mostly idle connections; clients send little), bounded frames in and
/// buffered bytes out.
fn websocket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(1024)
        .write_buffer_size(4 * 1024)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
}
