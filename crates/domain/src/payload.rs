//! What a job carries from the gateway to the worker that runs it: written once by the
//! gateway (the row's `job_data`, the job hash's `data`), read by the worker and the
//! reconciler. One type on both sides, so neither reads the other's JSON by key.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::request::AuthType;
use crate::{AgentId, Priority, ProjectId, TaskId, UserId};

/// The job's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobPayload {
    pub task_id: TaskId,
    pub task_code: String,
    pub agent_id: AgentId,
    pub project_id: ProjectId,
    /// Who queued it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// The request's `metadata` and `context`, handed to the agent as they came.
    #[serde(default)]
    pub metadata: Value,
    #[serde(default)]
    pub context: Value,
    #[serde(default)]
    pub mcp_configs: Vec<McpServer>,
}

/// An MCP server the agent may use, with its credentials sealed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct McpServer {
    pub server_name: String,
    pub server_url: String,
    pub auth_type: AuthType,
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_credentials_sealed: Option<SealedCredentials>,
}

/// MCP credentials sealed by the gateway (`agentq_secrets`, AES-256-GCM): only a worker opens
/// them, for the agent alone. Never shown: `Debug` prints nothing of them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedCredentials(pub String);

impl fmt::Debug for SealedCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealedCredentials([sealed])")
    }
}

impl JobPayload {
    /// The payload as the queue holds it (JSON text).
    pub fn parse(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_gateways_payload_reads_back_as_written() {
        let text = json!({
            "taskId": 3, "taskCode": "T-3", "agentId": 2, "projectId": 1, "userId": 9,
            "priority": "high", "metadata": {"estimatedHours": 2}, "context": {"dependencies": [1]},
            "mcpConfigs": [{"serverName": "gh", "serverUrl": "https://mcp.example.com",
                "authType": "bearer", "enabled": true, "authCredentialsSealed": "v1.abc"}]
        })
        .to_string();
        let payload = JobPayload::parse(&text).expect("payload");
        assert_eq!(payload.agent_id.get(), 2);
        assert_eq!(payload.priority, Some(Priority::High));
        assert_eq!(
            payload.mcp_configs[0].auth_credentials_sealed,
            Some(SealedCredentials("v1.abc".into()))
        );
        assert_eq!(
            serde_json::to_value(&payload).expect("json"),
            serde_json::from_str::<Value>(&text).expect("json")
        );
        assert!(
            !format!("{payload:?}").contains("v1.abc"),
            "sealed credentials never shown"
        );
    }

    #[test]
    fn a_payload_without_the_optional_parts_reads() {
        let text =
            r#"{"taskId": 1, "taskCode": "T", "agentId": 1, "projectId": 1, "metadata": null}"#;
        let payload = JobPayload::parse(text).expect("payload");
        assert!(payload.mcp_configs.is_empty());
        assert_eq!(payload.context, Value::Null);
        assert!(JobPayload::parse(r#"{"taskId": 1}"#).is_err());
    }
}

/// What an agent gets (DESIGN.md §7): a command agent on stdin, an http agent as the body of
/// its POST (with `mcpConfigs`; a command agent finds them in the file `AGENTQ_MCP_CONFIG`
/// names, as [`McpServersFile`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentInput {
    pub job_id: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub task: TaskRef,
    pub project_id: ProjectId,
    pub agent: AgentRef,
    /// The request's `metadata` and `context`, as they came.
    pub metadata: Value,
    pub context: Value,
    /// Only for http agents: the MCP servers, credentials opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_configs: Option<Vec<crate::request::McpConfig>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRef {
    pub id: TaskId,
    pub code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRef {
    pub id: AgentId,
    pub name: String,
}

/// The MCP configuration file a command agent gets, in the shape MCP clients read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct McpServersFile {
    pub mcp_servers: Vec<crate::request::McpConfig>,
}

#[cfg(test)]
mod agent_input_tests {
    use super::*;

    #[test]
    fn an_agent_reads_the_documented_keys_and_mcp_configs_only_over_http() {
        let input = AgentInput {
            job_id: "j-1".into(),
            attempt: 2,
            task: TaskRef {
                id: TaskId::try_from(7).expect("id"),
                code: "T-7".into(),
            },
            project_id: ProjectId::try_from(3).expect("id"),
            agent: AgentRef {
                id: AgentId::try_from(5).expect("id"),
                name: "writer".into(),
            },
            metadata: serde_json::json!({"estimatedHours": 2}),
            context: Value::Null,
            mcp_configs: None,
        };
        let value = serde_json::to_value(&input).expect("json");
        assert_eq!(
            value,
            serde_json::json!({
                "jobId": "j-1", "attempt": 2, "task": {"id": 7, "code": "T-7"}, "projectId": 3,
                "agent": {"id": 5, "name": "writer"}, "metadata": {"estimatedHours": 2},
                "context": null
            })
        );
        let file = McpServersFile {
            mcp_servers: Vec::new(),
        };
        assert_eq!(
            serde_json::to_value(&file).expect("json"),
            serde_json::json!({"mcpServers": []})
        );
    }
}
