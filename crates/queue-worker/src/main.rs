use agentq_queue_worker::settings::Settings;

fn main() -> anyhow::Result<()> {
    // the agent guard is this same program, started by a worker for each command agent
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(agentq_queue_worker::guard::SUBCOMMAND) {
        std::process::exit(agentq_queue_worker::guard::main(&args[2..]));
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(serve())
}

async fn serve() -> anyhow::Result<()> {
    let _traces = agentq_telemetry::init("queue-worker");
    let settings = Settings::from_env()?;
    let shutdown = agentq_telemetry::shutdown_on_signal(
        "running jobs get the grace period, then go back to the queue",
    );
    let metrics = match settings.metrics_addr {
        None => None,
        Some(addr) => match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                agentq_telemetry::announce("queue-worker metrics", listener.local_addr()?);
                Some(listener)
            }
            // a taken metrics port must not stop jobs from running
            Err(err) => {
                tracing::warn!(%addr, error = %err, "no /metrics: cannot listen");
                None
            }
        },
    };
    let report = agentq_queue_worker::run(settings, metrics, shutdown).await?;
    tracing::info!(?report, "queue-worker stopped");
    Ok(())
}
