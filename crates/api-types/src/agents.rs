//! Agents: admins define them; everyone signed in may list them (to pick one), but only admins
//! see how they run (argv, endpoint, the names of its environment variables). The variables'
//! values are write-only: they are where an agent's secrets go, and no answer carries them.

use std::collections::BTreeMap;

use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::number::present_whole;
use crate::present;

/// 30 minutes, as DESIGN.md §7.
pub const DEFAULT_TIMEOUT_SECS: u64 = 1800;

#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AgentKind {
    /// A process: `command` is its argv, run without a shell.
    Command,
    /// An HTTP endpoint: `endpointUrl` gets the job as a POST.
    Http,
}

/// `POST /api/agents` (admins only): a `command` agent (argv) or an `http` agent (endpoint),
/// told apart by `kind`.
#[derive(Debug, Clone, PartialEq, Serialize, Validate, ToSchema)]
#[serde(untagged)]
pub enum CreateAgentRequest {
    Command(#[garde(dive)] CreateCommandAgent),
    Http(#[garde(dive)] CreateHttpAgent),
}

/// `kind` of a command agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CommandKind {
    Command,
}

/// `kind` of an HTTP agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HttpKind {
    Http,
}

/// A process: `command` is its argv, run without a shell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCommandAgent {
    #[garde(skip)]
    pub kind: CommandKind,
    #[garde(length(chars, min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// argv, run without a shell.
    #[garde(length(min = 1), inner(length(chars, min = 1, max = 4096)))]
    #[schema(schema_with = argv_schema)]
    pub command: Vec<String>,
    /// Seconds a run may take; default 1800.
    #[serde(default, deserialize_with = "present_whole")]
    #[garde(inner(range(min = 1, max = 7 * 24 * 3600)))]
    #[schema(value_type = i64, nullable = false, minimum = 1, maximum = 604_800)]
    pub timeout_secs: Option<u64>,
    /// Runs at once across all workers together; unlimited when absent.
    #[serde(default, deserialize_with = "present_whole")]
    #[garde(inner(range(min = 1, max = 100_000)))]
    #[schema(value_type = i64, nullable = false, minimum = 1, maximum = 100_000)]
    pub max_concurrency: Option<u32>,
    /// Seconds the agent may write nothing (no line on stdout or stderr; `{"heartbeat":
    /// true}` counts) before it is stopped and its attempt fails; no limit when absent.
    /// `timeoutSecs` stays the hard stop.
    #[serde(default, deserialize_with = "present_whole")]
    #[garde(inner(range(min = 1, max = 7 * 24 * 3600)))]
    #[schema(value_type = i64, nullable = false, minimum = 1, maximum = 604_800)]
    pub idle_timeout_secs: Option<u64>,
    /// Its jobs wait (`awaiting_approval`) until a project member approves them.
    #[serde(default)]
    #[garde(skip)]
    pub requires_approval: bool,
    /// It may ask for approval mid-run (`{"approval": {"question": …, "timeoutSecs": n}}` on
    /// stdout) and reads each answer as one JSON line on stdin, which stays open after the
    /// job's line for it.
    #[serde(default)]
    #[garde(skip)]
    pub asks_approval: bool,
    /// Passed to the agent as is; write-only (answers name the variables, never their values).
    #[serde(default, deserialize_with = "present")]
    #[garde(custom(env_vars))]
    #[schema(schema_with = env_schema)]
    pub env: Option<BTreeMap<String, String>>,
}

/// An HTTP endpoint: it gets each job as a POST.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateHttpAgent {
    #[garde(skip)]
    pub kind: HttpKind,
    #[garde(length(chars, min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[garde(url, length(chars, max = 2048))]
    #[schema(
        format = "uri",
        max_length = 2048,
        pattern = "^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9]"
    )]
    pub endpoint_url: String,
    /// Seconds a run may take; default 1800.
    #[serde(default, deserialize_with = "present_whole")]
    #[garde(inner(range(min = 1, max = 7 * 24 * 3600)))]
    #[schema(value_type = i64, nullable = false, minimum = 1, maximum = 604_800)]
    pub timeout_secs: Option<u64>,
    /// Runs at once across all workers together; unlimited when absent.
    #[serde(default, deserialize_with = "present_whole")]
    #[garde(inner(range(min = 1, max = 100_000)))]
    #[schema(value_type = i64, nullable = false, minimum = 1, maximum = 100_000)]
    pub max_concurrency: Option<u32>,
    /// Its jobs wait (`awaiting_approval`) until a project member approves them.
    #[serde(default)]
    #[garde(skip)]
    pub requires_approval: bool,
    /// Passed to the agent as is; write-only (answers name the variables, never their values).
    #[serde(default, deserialize_with = "present")]
    #[garde(custom(env_vars))]
    #[schema(schema_with = env_schema)]
    pub env: Option<BTreeMap<String, String>>,
}

/// `PATCH /api/agents/{id}` (admins only): what changes; a field left out stays as it is.
/// How an agent runs (`kind`, `command`, `endpointUrl`) is fixed: another way to run is
/// another agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateAgentRequest {
    /// Seconds a run may take, from the next attempt on.
    #[serde(default, deserialize_with = "present_whole")]
    #[garde(inner(range(min = 1, max = 7 * 24 * 3600)))]
    #[schema(value_type = i64, nullable = false, minimum = 1, maximum = 604_800)]
    pub timeout_secs: Option<u64>,
    /// Runs at once across all workers together; `null` for no limit.
    #[serde(
        default,
        deserialize_with = "crate::number::nullable_whole",
        skip_serializing_if = "Option::is_none"
    )]
    #[garde(inner(inner(range(min = 1, max = 100_000))))]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 100_000)]
    pub max_concurrency: Option<Option<u32>>,
    /// Jobs queued from now on wait (`awaiting_approval`) until a project member approves them.
    #[serde(default, deserialize_with = "present")]
    #[garde(skip)]
    #[schema(nullable = false)]
    pub requires_approval: Option<bool>,
    /// Every variable the agent gets from now on (the ones left out are removed; `{}` removes
    /// all): how a leaked secret is rotated. Write-only, as at creation.
    #[serde(default, deserialize_with = "present")]
    #[garde(custom(env_vars))]
    #[schema(schema_with = env_schema)]
    pub env: Option<BTreeMap<String, String>>,
}

/// An agent; `command` / `endpointUrl` and `envNames` are shown to admins only.
#[cfg_attr(feature = "schemars", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Agent {
    pub id: i64,
    pub name: String,
    pub kind: AgentKind,
    pub timeout_secs: u64,
    pub max_concurrency: Option<u32>,
    /// A command agent's idle timeout, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub idle_timeout_secs: Option<u64>,
    /// Shown when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub requires_approval: bool,
    /// Shown when true.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub asks_approval: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub command: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub endpoint_url: Option<String>,
    /// The names of the variables it was given in `env`; their values are never shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub env_names: Option<Vec<String>>,
}

/// Most variables an agent may have.
const MAX_ENV_VARS: usize = 100;
/// Longest name and value, in characters.
const MAX_ENV_NAME: usize = 128;
const MAX_ENV_VALUE: usize = 32 * 1024;

/// What a process environment can hold: names `[A-Za-z_][A-Za-z0-9_]*`, values without NUL;
/// bounded in number and length. Anything else would only fail later, at every run.
fn env_vars(value: &Option<BTreeMap<String, String>>, _: &()) -> garde::Result {
    let Some(env) = value else { return Ok(()) };
    if env.len() > MAX_ENV_VARS {
        return Err(garde::Error::new(format!(
            "at most {MAX_ENV_VARS} variables"
        )));
    }
    for (name, value) in env {
        let mut chars = name.chars();
        let well_formed = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && name.len() <= MAX_ENV_NAME;
        if !well_formed {
            return Err(garde::Error::new(format!(
                "{name:?} is not a variable name (letters, digits and _, not first a digit, \
                 at most {MAX_ENV_NAME})"
            )));
        }
        if value.contains('\0') || value.chars().count() > MAX_ENV_VALUE {
            return Err(garde::Error::new(format!(
                "{name}'s value holds a NUL or is longer than {MAX_ENV_VALUE} characters"
            )));
        }
    }
    Ok(())
}

/// `env`'s schema: what `env_vars` checks.
fn env_schema() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Type};
    let name = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!(
            "^[A-Za-z_][A-Za-z0-9_]{{0,{}}}$",
            MAX_ENV_NAME - 1
        )));
    let value = ObjectBuilder::new()
        .schema_type(Type::String)
        .max_length(Some(MAX_ENV_VALUE))
        .pattern(Some("^[^\\x00]*$"));
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(name))
        .additional_properties(Some(AdditionalProperties::RefOr(value.build().into())))
        .max_properties(Some(MAX_ENV_VARS))
        .description(Some(
            "The agent's environment variables. Write-only: answers name them (`envNames`), \
             never show their values.",
        ))
        .build()
}

/// `command`'s schema: 1 or more arguments of 1 to 4096 characters (what garde checks above).
fn argv_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let argument = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(4096));
    ArrayBuilder::new()
        .items(argument)
        .min_items(Some(1))
        .description(Some("argv, run without a shell."))
        .build()
}

/// By `kind` first, so that a mistake is reported against the one shape it meant.
impl<'de> Deserialize<'de> for CreateAgentRequest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let value = serde_json::Value::deserialize(deserializer)?;
        match value.get("kind").and_then(serde_json::Value::as_str) {
            Some("command") => serde_json::from_value(value)
                .map(Self::Command)
                .map_err(D::Error::custom),
            Some("http") => serde_json::from_value(value)
                .map(Self::Http)
                .map_err(D::Error::custom),
            _ => Err(D::Error::custom("kind: expected `command` or `http`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> Result<CreateAgentRequest, String> {
        serde_json::from_value(json).map_err(|e| e.to_string())
    }

    #[test]
    fn kind_picks_the_shape_and_the_other_shapes_fields_are_refused() {
        let command = parse(serde_json::json!({"kind": "command", "name": "a", "command": ["x"]}));
        assert!(
            matches!(command, Ok(CreateAgentRequest::Command(_))),
            "{command:?}"
        );
        let http = parse(
            serde_json::json!({"kind": "http", "name": "a", "endpointUrl": "https://a.example", "timeoutSecs": 60.0}),
        );
        assert!(
            matches!(&http, Ok(CreateAgentRequest::Http(h)) if h.timeout_secs == Some(60)),
            "{http:?}"
        );
        for bad in [
            serde_json::json!({"kind": "http", "name": "a", "command": ["x"]}),
            serde_json::json!({"kind": "command", "name": "a", "command": ["x"], "endpointUrl": "https://a.example"}),
            serde_json::json!({"kind": "shell", "name": "a"}),
            serde_json::json!({"name": "a", "command": ["x"]}),
            serde_json::json!({"kind": "command", "name": "a", "command": ["x"], "env": null}),
        ] {
            assert!(parse(bad.clone()).is_err(), "{bad}");
        }
    }
}
