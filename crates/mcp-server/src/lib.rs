//! agentq-mcp: the seed's four agent-execution MCP tools (`queue_agent_job`,
//! `get_agent_job_status`, `cancel_agent_job`, `get_agent_worker_status`) and what an assistant
//! driving agents needs besides (list, retry, logs, wait, agents, projects, tasks), as a thin
//! typed client of the api-gateway. It never touches Redis or SQL: the API authorizes every
//! call with the caller's own token.
//!
//! Two transports: stdio (what desktop assistants launch; the session's credentials come from
//! the settings) and streamable HTTP on `/mcp` (each caller's `Authorization: Bearer` token is
//! passed through, so an assistant sees exactly what its user may see).

pub mod api;
pub mod settings;
pub mod tools;
pub mod wait;

use std::sync::Arc;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::api::Api;
use crate::settings::{Credentials, Settings};
use crate::tools::{AgentqTools, Auth, Session};

/// Serves one session on stdin and stdout until the client closes it.
pub async fn serve_stdio(settings: Settings, credentials: Credentials) -> anyhow::Result<()> {
    let api = Api::new(settings.api_url.clone());
    let session = Arc::new(Session::new(credentials));
    let tools = AgentqTools::new(api, settings.ws_url.clone(), Auth::Session(session));
    let running = tools.serve(rmcp::transport::stdio()).await?;
    running.waiting().await?;
    Ok(())
}

/// Serves streamable HTTP on `/mcp` of `listener` until `shutdown`. Requests must name this
/// server's own address as `Host` (DNS rebinding).
pub async fn serve_http(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let api = Api::new(settings.api_url.clone());
    let ws_url = settings.ws_url.clone();
    let local = listener.local_addr()?;
    let config = StreamableHttpServerConfig::default().with_allowed_hosts([
        "localhost".to_owned(),
        local.ip().to_string(),
        local.to_string(),
        format!("localhost:{}", local.port()),
    ]);
    let service = StreamableHttpService::new(
        move || {
            Ok(AgentqTools::new(
                api.clone(),
                ws_url.clone(),
                Auth::PerCaller,
            ))
        },
        LocalSessionManager::default().into(),
        config,
    );
    let service = TowerToHyperService::new(service);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let service = service.clone();
        tokio::spawn(async move {
            let served = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(err) = served {
                tracing::debug!(error = %err, "connection ended");
            }
        });
    }
    Ok(())
}
