use agentq_events_broadcaster::settings::Settings;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _traces = agentq_telemetry::init("events-broadcaster");
    let settings = Settings::from_env()?;
    let listener = tokio::net::TcpListener::bind(settings.addr).await?;
    agentq_telemetry::announce("events-broadcaster", listener.local_addr()?);
    let shutdown =
        agentq_telemetry::shutdown_on_signal("clients get close frames and reconnect elsewhere");
    agentq_events_broadcaster::run(settings, listener, shutdown).await
}
