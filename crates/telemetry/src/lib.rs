//! Logs and metrics, the same in every binary: logs to stderr (JSON lines when
//! `AGENTQ_LOG_FORMAT=json`, filtered by `RUST_LOG`, default `info`), and one Prometheus
//! recorder per process, rendered by `/metrics`.

mod server;

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use server::serve_health_and_metrics;

/// Installs the process's log subscriber. Call once, first thing in `main`.
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    if std::env::var("AGENTQ_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
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
