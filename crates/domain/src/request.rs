//! `POST /api/agent-execution/queue`'s body. It accepts and refuses exactly what the seed's zod
//! schema (`QueueAgentJobSchema`) does: unknown keys are ignored, optional fields may be absent
//! but not `null`, integers are JSON numbers with an integral value (so `1.0` is 1, as in
//! JavaScript), bounded to JavaScript's safe integers.
//!
//! Parsing is two steps: serde checks the shape and types (reporting the first type error with
//! its path), then garde checks every value rule and reports all of them.

use garde::Validate;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Number, Value};

use crate::validation::{Issue, PathSegment, ValidationErrors};
use crate::{AgentId, Priority, TaskId};

/// 2^53 − 1: the largest integer a JavaScript client (and zod's `int()`) handles exactly.
pub const MAX_SAFE_INTEGER: i64 = 9_007_199_254_740_991;

/// The request as it arrives, before its values are checked: the seed's zod schema, enforced
/// exactly (integers are JSON numbers, optional fields may be absent but not `null`, unknown
/// keys are ignored). Its OpenAPI schema is derived from this type, beside its rules.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct QueueJobRequest {
    #[garde(custom(positive_integer("Task ID must be a positive integer")))]
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1, maximum = 9_007_199_254_740_991_i64))]
    pub task_id: Number,
    #[garde(custom(positive_integer("Agent ID must be a positive integer")))]
    #[cfg_attr(feature = "openapi", schema(value_type = i64, minimum = 1, maximum = 9_007_199_254_740_991_i64))]
    pub agent_id: Number,
    #[serde(default, deserialize_with = "present")]
    #[garde(dive)]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub metadata: Option<MetadataInput>,
    #[serde(default, deserialize_with = "present")]
    #[garde(dive)]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub context: Option<ContextInput>,
    #[serde(default, deserialize_with = "present")]
    #[garde(dive)]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub mcp_configs: Option<Vec<McpConfig>>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = JobMetadata))]
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct MetadataInput {
    #[serde(default, deserialize_with = "present")]
    #[garde(skip)]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub priority: Option<Priority>,
    #[serde(default, deserialize_with = "present")]
    #[garde(custom(positive_number))]
    #[cfg_attr(feature = "openapi", schema(nullable = false, exclusive_minimum = 0))]
    pub estimated_hours: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    #[garde(custom(optional_non_negative_integer))]
    #[cfg_attr(feature = "openapi", schema(value_type = i64, nullable = false, minimum = 0, maximum = 9_007_199_254_740_991_i64))]
    pub retry_count: Option<Number>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = JobContext))]
#[derive(Debug, Clone, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct ContextInput {
    #[serde(default, deserialize_with = "present")]
    #[garde(custom(integer_list))]
    #[cfg_attr(feature = "openapi", schema(schema_with = safe_integer_list))]
    pub dependencies: Option<Vec<Number>>,
    #[serde(default, deserialize_with = "present")]
    #[garde(custom(integer_list))]
    #[cfg_attr(feature = "openapi", schema(schema_with = safe_integer_list))]
    pub related_tasks: Option<Vec<Number>>,
    #[serde(default, deserialize_with = "present")]
    #[garde(custom(integer_list))]
    #[cfg_attr(feature = "openapi", schema(schema_with = safe_integer_list))]
    pub memory_ids: Option<Vec<Number>>,
    /// What a job blocked on `dependencies` does when one of them fails for good or is
    /// cancelled: `fail` (the default) or `run` anyway.
    #[serde(default, deserialize_with = "present")]
    #[garde(skip)]
    #[cfg_attr(feature = "openapi", schema(nullable = false))]
    pub on_dependency_failure: Option<OnDependencyFailure>,
}

/// `context.onDependencyFailure`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDependencyFailure {
    Fail,
    Run,
}

/// An MCP server the agent may use. `auth_credentials` is a secret: it is encrypted before it
/// is stored and never shown back.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate)]
#[serde(rename_all = "camelCase")]
pub struct McpConfig {
    #[garde(skip)]
    pub server_name: String,
    #[garde(url)]
    #[cfg_attr(
        feature = "openapi",
        schema(format = "uri", pattern = "^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9]")
    )]
    pub server_url: String,
    #[garde(skip)]
    pub auth_type: AuthType,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[garde(skip)]
    #[cfg_attr(feature = "openapi", schema(value_type = Object, nullable = false))]
    pub auth_credentials: Option<Map<String, Value>>,
    #[garde(skip)]
    pub enabled: bool,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthType {
    Bearer,
    Basic,
    None,
}

/// A request whose every value has been checked: what the gateway queues.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRequest {
    pub task_id: TaskId,
    pub agent_id: AgentId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<JobMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context: Option<JobContext>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mcp_configs: Vec<McpConfig>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobMetadata {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_hours: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_count: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobContext {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dependencies: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub related_tasks: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_ids: Option<Vec<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_dependency_failure: Option<OnDependencyFailure>,
}

impl JobRequest {
    /// The queue priority: the request's, else the seed's default (`medium`).
    pub fn priority(&self) -> Priority {
        self.metadata
            .as_ref()
            .and_then(|m| m.priority)
            .unwrap_or_default()
    }
}

impl QueueJobRequest {
    /// Parse and check a JSON body.
    pub fn parse(body: &[u8]) -> Result<JobRequest, ValidationErrors> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|_| ValidationErrors::whole_body("Invalid JSON"))?;
        require_objects(&value)?;
        let input: QueueJobRequest =
            serde_path_to_error::deserialize(value).map_err(|err| shape_error(&err))?;
        input.validate().map_err(|report| value_errors(&report))?;
        input.into_checked()
    }

    fn into_checked(self) -> Result<JobRequest, ValidationErrors> {
        // Every unwrap-free conversion below is guaranteed by `validate`; a mismatch is still
        // reported as an error rather than trusted.
        let bad = |field: &str| {
            ValidationErrors::new(vec![Issue {
                path: vec![PathSegment::Key(field.to_owned())],
                message: "Invalid value".into(),
            }])
        };
        let task_id = integer(&self.task_id)
            .and_then(|v| TaskId::try_from(v).ok())
            .ok_or_else(|| bad("taskId"))?;
        let agent_id = integer(&self.agent_id)
            .and_then(|v| AgentId::try_from(v).ok())
            .ok_or_else(|| bad("agentId"))?;
        let metadata = self.metadata.map(|m| JobMetadata {
            priority: m.priority,
            estimated_hours: m.estimated_hours,
            retry_count: m.retry_count.as_ref().and_then(integer),
        });
        let ints = |list: Option<Vec<Number>>| list.map(|l| l.iter().filter_map(integer).collect());
        let context = self.context.map(|c| JobContext {
            dependencies: ints(c.dependencies),
            related_tasks: ints(c.related_tasks),
            memory_ids: ints(c.memory_ids),
            on_dependency_failure: c.on_dependency_failure,
        });
        Ok(JobRequest {
            task_id,
            agent_id,
            metadata,
            context,
            mcp_configs: self.mcp_configs.unwrap_or_default(),
        })
    }
}

/// An optional field that, when present, must not be `null` (zod's `.optional()`); use with
/// `#[serde(default, deserialize_with = "present")]`.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// The schema of a list of integers within JavaScript's safe range (what `integer_list` checks).
#[cfg(feature = "openapi")]
fn safe_integer_list() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let max = MAX_SAFE_INTEGER as f64;
    let item = ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(-max))
        .maximum(Some(max));
    ArrayBuilder::new().items(item).build()
}

/// The integral value of a JSON number (`3` or `3.0`, as JSON Schema and JavaScript see it),
/// if it has one within the safe range.
pub fn integer(number: &Number) -> Option<i64> {
    if let Some(v) = number.as_i64() {
        // not `abs()`: it overflows on i64::MIN
        return (-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER)
            .contains(&v)
            .then_some(v);
    }
    if number.is_u64() {
        return None;
    }
    let v = number.as_f64()?;
    let in_range = v.abs() <= MAX_SAFE_INTEGER as f64;
    #[allow(clippy::cast_possible_truncation)]
    (v.fract() == 0.0 && in_range).then_some(v as i64)
}

fn integer_error(number: &Number) -> garde::Error {
    if number.is_f64() && number.as_f64().is_some_and(|v| v.fract() != 0.0) {
        garde::Error::new("Expected integer, received float")
    } else {
        garde::Error::new(format!(
            "Number must be between -{MAX_SAFE_INTEGER} and {MAX_SAFE_INTEGER}"
        ))
    }
}

fn positive_integer(message: &'static str) -> impl FnOnce(&Number, &()) -> garde::Result {
    move |number, _| match integer(number) {
        Some(v) if v > 0 => Ok(()),
        Some(_) => Err(garde::Error::new(message)),
        None if number.as_f64().is_some_and(|v| v.fract() == 0.0 && v > 0.0) => {
            Err(integer_error(number))
        }
        None => Err(garde::Error::new(message)),
    }
}

fn positive_number(value: &Option<f64>, _: &()) -> garde::Result {
    match value {
        Some(v) if *v <= 0.0 => Err(garde::Error::new("Number must be greater than 0")),
        _ => Ok(()),
    }
}

fn optional_non_negative_integer(value: &Option<Number>, _: &()) -> garde::Result {
    let Some(number) = value else { return Ok(()) };
    match integer(number) {
        Some(v) if v >= 0 => Ok(()),
        Some(_) => Err(garde::Error::new(
            "Number must be greater than or equal to 0",
        )),
        None => Err(integer_error(number)),
    }
}

fn integer_list(value: &Option<Vec<Number>>, _: &()) -> garde::Result {
    let Some(list) = value else { return Ok(()) };
    for (index, number) in list.iter().enumerate() {
        if integer(number).is_none() {
            let reason = integer_error(number);
            return Err(garde::Error::new(format!(
                "[{index}]: {}",
                reason.message()
            )));
        }
    }
    Ok(())
}

/// serde reads a struct from a JSON array too (by position); zod does not. So the body and its
/// nested objects must be JSON objects before serde sees them.
fn require_objects(body: &Value) -> Result<(), ValidationErrors> {
    let key = |k: &str| PathSegment::Key(k.to_owned());
    let mut places = vec![(Vec::new(), body)];
    if let Some(object) = body.as_object() {
        for field in ["metadata", "context"] {
            if let Some(value) = object.get(field) {
                places.push((vec![key(field)], value));
            }
        }
        if let Some(Value::Array(configs)) = object.get("mcpConfigs") {
            for (i, config) in configs.iter().enumerate() {
                places.push((vec![key("mcpConfigs"), PathSegment::Index(i)], config));
            }
        }
    }
    let issues: Vec<Issue> = places
        .into_iter()
        .filter(|(_, value)| value.is_array())
        .map(|(path, _)| Issue {
            path,
            message: "Expected object, received array".into(),
        })
        .collect();
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ValidationErrors::new(issues))
    }
}

/// A serde error (wrong type, missing field) as one issue with its path.
fn shape_error(err: &serde_path_to_error::Error<serde_json::Error>) -> ValidationErrors {
    let mut path: Vec<PathSegment> = err
        .path()
        .iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Map { key } => Some(PathSegment::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(PathSegment::Index(*index)),
            _ => None,
        })
        .collect();
    let text = err.inner().to_string();
    let message = match text.strip_prefix("missing field `") {
        Some(rest) => {
            path.push(PathSegment::Key(rest.trim_end_matches('`').to_owned()));
            "Required".to_owned()
        }
        None => humanize(&text),
    };
    ValidationErrors::new(vec![Issue { path, message }])
}

/// serde's words for JSON types, in the words a JavaScript client uses.
fn humanize(message: &str) -> String {
    let mut text = message.to_owned();
    for (from, to) in [
        ("a JSON number", "number"),
        ("sequence", "array"),
        ("map", "object"),
        ("a string", "string"),
        ("a boolean", "boolean"),
        ("f64", "number"),
    ] {
        text = text.replace(from, to);
    }
    if let Some(at) = text.find("expected struct ") {
        text.truncate(at);
        text.push_str("expected object");
    }
    text
}

/// garde's report as issues with camelCase paths.
fn value_errors(report: &garde::Report) -> ValidationErrors {
    let issues = report
        .iter()
        .map(|(path, error)| Issue {
            path: garde_path(&path.to_string()),
            message: error.message().to_string(),
        })
        .collect();
    ValidationErrors::new(issues)
}

/// `mcp_configs[0].server_url` → `mcpConfigs`, `0`, `serverUrl`.
fn garde_path(path: &str) -> Vec<PathSegment> {
    path.split(['.', '[', ']'])
        .filter(|part| !part.is_empty())
        .map(|part| match part.parse::<usize>() {
            Ok(index) => PathSegment::Index(index),
            Err(_) => PathSegment::Key(camel_case(part)),
        })
        .collect()
}

fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
