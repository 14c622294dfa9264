//! The one way a binary learns it must stop: SIGINT (Ctrl-C) or SIGTERM (an orchestrator).

use tokio_util::sync::CancellationToken;

/// A token that is cancelled at the first SIGINT or SIGTERM, after logging `why` (what the
/// binary does next). Pass it, or child tokens of it, to everything that must stop.
pub fn shutdown_on_signal(why: &'static str) -> CancellationToken {
    let shutdown = CancellationToken::new();
    let signalled = shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("stopping: {why}");
        signalled.cancel();
    });
    shutdown
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let ctrl_c = tokio::signal::ctrl_c();
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}
