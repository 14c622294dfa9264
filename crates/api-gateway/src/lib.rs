//! agentq's HTTP API (actix-web): the seed's agent-execution contract, auth, users, projects,
//! tasks, agents, health and metrics.

pub mod auth;
pub mod batched;
pub mod body;
pub mod bootstrap;
pub mod budgets;
pub mod cli;
pub mod client_addr;
pub mod dependencies;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;
pub mod settings;
pub mod state;
pub mod static_files;
pub mod time;

use std::net::TcpListener;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{App, HttpResponse, HttpServer, web};
use agentq_api_types::ErrorBody;
use agentq_queue::{Partitions, QueueConfig, Redis};
use tokio_util::sync::CancellationToken;

use crate::auth::{Identities, Jwt};
use crate::error::InternalCause;
use crate::settings::Settings;
use crate::state::{AppState, LoginLimits};
use agentq_secrets::SecretBox;

/// Connects to the database (migrating it) and Redis, and builds the shared state.
pub async fn build_state(settings: Settings) -> anyhow::Result<AppState> {
    let db = agentq_store::connect_and_migrate(settings.core.database_url.expose()).await?;
    let redis = Redis::open(settings.core.redis_url.expose())?;
    let mut queue_config = QueueConfig::named(settings.core.queue.clone());
    queue_config.max_attempts = settings.core.attempts;
    queue_config.backoff.base = settings.core.backoff_base;
    let queue = Partitions::new(redis, queue_config, settings.core.partitions);
    queue.check_count().await?;
    Ok(AppState {
        queue,
        jwt: Jwt::new(settings.jwt_secret.expose()),
        secrets: SecretBox::new(settings.secret_key.expose()),
        login_limits: LoginLimits::default(),
        identities: Identities::default(),
        batched: crate::batched::Batched::new(&db),
        budgets: crate::budgets::Budgets::new(&db),
        db,
        settings,
    })
}

/// Serves the API on `listener` until `shutdown` is cancelled.
pub async fn run(
    state: AppState,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let development = state.settings.core.development;
    let state = web::Data::new(state);
    let handle = web::Data::new(agentq_telemetry::prometheus());
    let site = static_files::site(state.settings.events_url.as_ref());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(handle.clone())
            .configure(routes::configure)
            .configure(openapi::configure)
            .configure(|cfg| static_files::configure(cfg, site.clone()))
            .default_service(web::to(|| async {
                HttpResponse::NotFound().json(ErrorBody::new("Not found"))
            }))
            .wrap(actix_web::middleware::from_fn(move |req, next| {
                with_dev_details(development, req, next)
            }))
            .wrap(actix_web::middleware::from_fn(record_request))
    })
    .listen(listener)?
    .shutdown_timeout(10)
    .disable_signals()
    .run();
    let handle = server.handle();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        handle.stop(true).await;
    });
    server.await
}

/// Request counts and latency by route pattern and status, and the request's span: a child
/// of the caller's trace when it sends `traceparent`.
async fn record_request(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use tracing::Instrument;
    let started = Instant::now();
    let method = req.method().to_string();
    let span =
        tracing::info_span!("http request", http.method = %method, http.target = %req.path());
    if let Some(parent) = req
        .headers()
        .get("traceparent")
        .and_then(|h| h.to_str().ok())
    {
        agentq_telemetry::continue_trace(&span, parent);
    }
    let res = next.call(req).instrument(span).await?;
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".into());
    let status = res.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("agentq_http_requests_total", &labels).increment(1);
    metrics::histogram!("agentq_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    Ok(res)
}

/// In development, a 500 shows its cause as `details` (the seed's behaviour); elsewhere the
/// body stays as the error built it.
async fn with_dev_details(
    development: bool,
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let res = next.call(req).await?.map_into_boxed_body();
    if !development {
        return Ok(res);
    }
    let cause = res.response().extensions().get::<InternalCause>().cloned();
    Ok(match cause {
        Some(cause) => res.into_response(
            HttpResponse::InternalServerError()
                .json(ErrorBody::with_details(cause.context, cause.cause.into())),
        ),
        None => res,
    })
}
