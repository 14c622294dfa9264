use std::net::TcpListener;

use agentq_api_gateway::cli::{Cli, Command};
use agentq_api_gateway::settings::Settings;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // logs go to stderr: stdout is for what a subcommand prints (a token, say)
    let _traces = agentq_telemetry::init("api-gateway");
    let cli = Cli::parse();
    if let Some(Command::Probe { url }) = &cli.command {
        std::process::exit(if agentq_api_gateway::cli::probe(url) {
            0
        } else {
            1
        });
    }
    let settings = Settings::from_env()?;
    match cli.command {
        None | Some(Command::Serve) => serve(settings).await,
        Some(command) => agentq_api_gateway::cli::run_admin(command, settings).await,
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listener = TcpListener::bind(settings.addr)?;
    let state = agentq_api_gateway::build_state(settings).await?;
    agentq_api_gateway::bootstrap::ensure_admin(&state).await?;
    agentq_telemetry::announce("api-gateway", listener.local_addr()?);
    let shutdown =
        agentq_telemetry::shutdown_on_signal("in-flight requests finish, then the server stops");
    agentq_api_gateway::run(state, listener, shutdown).await?;
    Ok(())
}
