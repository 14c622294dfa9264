//! Logs, traces and metrics, the same in every binary: logs to stderr (JSON lines when
//! `AGENTQ_LOG_FORMAT=json`, filtered by `RUST_LOG`, default `info`), OpenTelemetry traces over
//! OTLP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, and one Prometheus recorder per process,
//! rendered by `/metrics`.

mod server;
mod signal;
mod trace;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use server::serve_health_and_metrics;
pub use signal::shutdown_on_signal;
pub use trace::{TraceGuard, continue_trace, traceparent};

/// Says where a service listens, on stdout (logs go to stderr): `<service> listening on
/// <address>`. With port 0 in its address setting, this line is how whoever started it (a
/// supervisor, a test) learns the port.
pub fn announce(service: &str, addr: std::net::SocketAddr) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{service} listening on {addr}");
    let _ = out.flush();
    tracing::info!(%addr, "{service} listening");
}

/// Installs the process's log subscriber, and the trace exporter when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Call once, first thing in `main`, and keep the guard
/// until the end: dropping it flushes the spans not yet sent.
pub fn init(service: &str) -> TraceGuard {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = if std::env::var("AGENTQ_LOG_FORMAT").is_ok_and(|f| f == "json") {
        logs.json().boxed()
    } else {
        logs.boxed()
    };
    let provider = trace::provider(service);
    // RUST_LOG filters the logs; spans go to the exporter at info whatever the log level
    let spans = provider.as_ref().map(|p| {
        trace::layer(p, service).with_filter(tracing_subscriber::filter::LevelFilter::INFO)
    });
    let _ = tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(spans)
        .try_init();
    trace::guard(provider)
}

/// The Prometheus recorder. The `metrics` facade has one recorder per process, so servers
/// started in one process (tests) share it.
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // another recorder may already be installed (an embedding program): keep ours
            // for rendering anyway
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
