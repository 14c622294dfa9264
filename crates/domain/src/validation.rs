//! Validation errors in the shape the seed's clients already read: zod's `error.format()`, a
//! tree keyed by field path where every node has an `_errors` list, e.g.
//! `{"_errors": [], "metadata": {"_errors": [], "priority": {"_errors": ["…"]}}}`.

use std::fmt;

use serde_json::{Map, Value};

/// One step of a path into the request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

impl fmt::Display for PathSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key(key) => f.write_str(key),
            Self::Index(index) => index.fmt(f),
        }
    }
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// Empty for a problem with the body as a whole.
    pub path: Vec<PathSegment>,
    pub message: String,
}

/// Everything wrong with a request body. Never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors {
    issues: Vec<Issue>,
}

impl ValidationErrors {
    pub fn new(issues: Vec<Issue>) -> Self {
        debug_assert!(!issues.is_empty());
        Self { issues }
    }

    /// A problem with the body as a whole (not valid JSON, not an object, ...).
    pub fn whole_body(message: impl Into<String>) -> Self {
        Self::new(vec![Issue {
            path: Vec::new(),
            message: message.into(),
        }])
    }

    pub fn issues(&self) -> &[Issue] {
        &self.issues
    }

    /// The messages for one dotted path (`"metadata.priority"`, `"mcpConfigs.0.serverUrl"`).
    pub fn messages_at(&self, dotted: &str) -> Vec<&str> {
        self.issues
            .iter()
            .filter(|issue| dotted_path(&issue.path) == dotted)
            .map(|issue| issue.message.as_str())
            .collect()
    }

    /// zod's `error.format()` tree.
    pub fn to_zod_format(&self) -> Value {
        let mut root = empty_node();
        for issue in &self.issues {
            let mut node = &mut root;
            for segment in &issue.path {
                let Value::Object(map) = node else { break };
                node = map.entry(segment.to_string()).or_insert_with(empty_node);
            }
            if let Some(Value::Array(errors)) = node.get_mut("_errors") {
                errors.push(Value::String(issue.message.clone()));
            }
        }
        root
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            let path = dotted_path(&issue.path);
            if path.is_empty() {
                f.write_str(&issue.message)?;
            } else {
                write!(f, "{path}: {}", issue.message)?;
            }
        }
        Ok(())
    }
}

fn empty_node() -> Value {
    let mut map = Map::new();
    map.insert("_errors".into(), Value::Array(Vec::new()));
    Value::Object(map)
}

fn dotted_path(path: &[PathSegment]) -> String {
    path.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn formats_nested_paths_like_zod() {
        let errors = ValidationErrors::new(vec![
            Issue {
                path: vec![PathSegment::Key("taskId".into())],
                message: "Required".into(),
            },
            Issue {
                path: vec![
                    PathSegment::Key("mcpConfigs".into()),
                    PathSegment::Index(0),
                    PathSegment::Key("serverUrl".into()),
                ],
                message: "Invalid url".into(),
            },
        ]);
        assert_eq!(
            errors.to_zod_format(),
            json!({
                "_errors": [],
                "taskId": {"_errors": ["Required"]},
                "mcpConfigs": {"_errors": [], "0": {"_errors": [], "serverUrl": {"_errors": ["Invalid url"]}}}
            })
        );
        assert_eq!(
            errors.messages_at("mcpConfigs.0.serverUrl"),
            ["Invalid url"]
        );
        assert_eq!(
            errors.to_string(),
            "taskId: Required; mcpConfigs.0.serverUrl: Invalid url"
        );
    }

    #[test]
    fn whole_body_errors_sit_at_the_root() {
        let errors = ValidationErrors::whole_body("Expected object, received array");
        assert_eq!(
            errors.to_zod_format(),
            json!({"_errors": ["Expected object, received array"]})
        );
    }
}
