//! `/healthz` and `/metrics` on a port of their own, for binaries without an HTTP API (the
//! queue-worker): probes and Prometheus scrapes need something to ask.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Serves `/healthz` (200 while the process runs) and `/metrics` (rendered by `handle`) until
/// `shutdown`.
pub async fn serve_health_and_metrics(
    listener: TcpListener,
    handle: PrometheusHandle,
    shutdown: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(error = %err, "metrics accept failed");
                    continue;
                }
            },
            () = shutdown.cancelled() => return,
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let handle = handle.clone();
                async move {
                    let (status, kind, body) = match (req.method(), req.uri().path()) {
                        (&Method::GET, "/healthz") => (
                            StatusCode::OK,
                            "application/json",
                            r#"{"status":"ok"}"#.to_owned(),
                        ),
                        (&Method::GET, "/metrics") => {
                            (StatusCode::OK, "text/plain; version=0.0.4", handle.render())
                        }
                        _ => (
                            StatusCode::NOT_FOUND,
                            "application/json",
                            r#"{"error":"Not found"}"#.to_owned(),
                        ),
                    };
                    let mut reply = Response::new(Full::new(Bytes::from(body)));
                    *reply.status_mut() = status;
                    if let Ok(kind) = header::HeaderValue::from_str(kind) {
                        reply.headers_mut().insert(header::CONTENT_TYPE, kind);
                    }
                    Ok::<_, Infallible>(reply)
                }
            });
            let _ = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
