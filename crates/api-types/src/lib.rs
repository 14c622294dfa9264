//! The HTTP API on the wire. Every request body and every answer of the api-gateway is a type
//! here: the gateway's handlers return them, its OpenAPI document is generated from them (so the
//! document cannot drift from what is served), and a client in Rust can read the answers with
//! the same types. A request type carries its rules twice, side by side: `garde` enforces them,
//! `schema(...)` documents them.
//!
//! Shapes are the seed's: `{"success": true, "data": …}` for answers, `{"error": …}` for
//! failures, camelCase fields, timestamps as JavaScript's `toISOString()`.

pub mod accounts;
pub mod agents;
pub mod jobs;
pub mod number;
pub mod operations;
pub mod projects;
pub mod stats;
pub mod workers;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

pub use agentq_domain::request::{
    AuthType, ContextInput, McpConfig, MetadataInput, QueueJobRequest, present,
};
pub use agentq_domain::{JobState, Priority};

/// A successful answer: `{"success": true, "data": …}`, with the seed's `message` on its
/// writes (queue, cancel, retry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Answer<T> {
    /// Always `true`.
    pub success: bool,
    pub data: T,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub message: Option<String>,
}

impl<T> Answer<T> {
    pub fn new(data: T) -> Self {
        Self {
            success: true,
            data,
            message: None,
        }
    }

    pub fn with_message(data: T, message: &str) -> Self {
        Self {
            success: true,
            data,
            message: Some(message.to_owned()),
        }
    }
}

/// A failure: `{"error": …}`, with `details` for validation failures (zod's format) and some
/// 404s and 400s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: String,
    /// Validation: `{"_errors": [...], "<field>": {"_errors": [...]}}`; otherwise a note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub details: Option<Value>,
}

impl ErrorBody {
    pub fn new(error: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            details: None,
        }
    }

    pub fn with_details(error: impl Into<String>, details: Value) -> Self {
        Self {
            error: error.into(),
            details: Some(details),
        }
    }
}
