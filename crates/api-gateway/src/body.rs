//! Reading a JSON request body: the content type must be JSON and the size under the limit,
//! each with the seed's error body; then serde's and garde's complaints in zod's format.

use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use agentq_domain::validation::{Issue, PathSegment, ValidationErrors};

use crate::error::ApiError;
use crate::state::AppState;

/// The raw bytes of a JSON body.
pub async fn json_bytes(
    req: &HttpRequest,
    mut payload: actix_web::dev::Payload,
    state: &AppState,
) -> Result<web::Bytes, ApiError> {
    let content_type = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::UnsupportedMediaType);
    }
    let limit = state.settings.body_limit;
    if let Some(length) = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && length > limit
    {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| ApiError::BadRequest("could not read the body".into()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A JSON body as `T`, with serde's complaint as a validation error at its path.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|_| ApiError::Validation(ValidationErrors::whole_body("Invalid JSON")))?;
    // every body is an object; serde would also fill a struct from an array, field by field
    let received = match &value {
        serde_json::Value::Object(_) => None,
        serde_json::Value::Array(_) => Some("array"),
        serde_json::Value::String(_) => Some("string"),
        serde_json::Value::Number(_) => Some("number"),
        serde_json::Value::Bool(_) => Some("boolean"),
        serde_json::Value::Null => Some("null"),
    };
    if let Some(received) = received {
        return Err(ApiError::Validation(ValidationErrors::whole_body(format!(
            "Expected object, received {received}"
        ))));
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Map { key } => Some(PathSegment::Key(key.clone())),
                serde_path_to_error::Segment::Seq { index } => Some(PathSegment::Index(*index)),
                _ => None,
            })
            .collect();
        ApiError::Validation(ValidationErrors::new(vec![Issue {
            path,
            message: err.inner().to_string(),
        }]))
    })
}

/// garde's report on a body as a validation error.
pub fn check<T: garde::Validate<Context = ()>>(value: &T) -> Result<(), ApiError> {
    value.validate().map_err(|report| {
        let issues = report
            .iter()
            .map(|(path, error)| Issue {
                path: path
                    .to_string()
                    .split('.')
                    .filter(|p| !p.is_empty())
                    .map(|p| PathSegment::Key(p.to_owned()))
                    .collect(),
                message: error.message().to_string(),
            })
            .collect();
        ApiError::Validation(ValidationErrors::new(issues))
    })
}
