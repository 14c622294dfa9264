//! `agentq-mcp`: stdio by default; `agentq-mcp --http 127.0.0.1:8082` for streamable HTTP on
//! `/mcp`.

use agentq_mcp_server::settings::Settings;

const USAGE: &str = "usage: agentq-mcp [--http HOST:PORT]";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // logs go to stderr: stdout is the stdio transport
    let _traces = agentq_telemetry::init("agentq-mcp");
    let args: Vec<String> = std::env::args().skip(1).collect();
    let settings = Settings::from_env()?;
    match args.as_slice() {
        [] => {
            let credentials = settings.credentials.clone().ok_or_else(|| {
                anyhow::anyhow!(
                    "AGENTQ_TOKEN: missing (or AGENTQ_EMAIL and AGENTQ_PASSWORD): stdio needs credentials"
                )
            })?;
            agentq_mcp_server::serve_stdio(settings, credentials).await
        }
        [flag, addr] if flag == "--http" => {
            let addr: std::net::SocketAddr = addr
                .parse()
                .map_err(|_| anyhow::anyhow!("--http: expected host:port, got {addr:?}"))?;
            let listener = tokio::net::TcpListener::bind(addr).await?;
            agentq_telemetry::announce("agentq-mcp", listener.local_addr()?);
            let shutdown = agentq_telemetry::shutdown_on_signal("open sessions end");
            agentq_mcp_server::serve_http(settings, listener, shutdown).await
        }
        _ => anyhow::bail!(USAGE),
    }
}
