//! The API's errors, each with the seed's body `{"error": "...", "details": ...}` and status.
//! Internal causes are logged, never shown, except 500 details in development.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use agentq_api_types::ErrorBody;
use agentq_domain::ValidationErrors;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `Validation failed` with zod-format details.
    #[error("validation failed: {0}")]
    Validation(ValidationErrors),
    /// 400 with a plain message (bad query string, bad path id).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401: no token, or one that does not verify.
    #[error("unauthorized: {0}")]
    Unauthorized(&'static str),
    /// 403: authenticated but not allowed (admin-only routes).
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// 403: a URL names a host that `AGENTQ_AGENT_HOSTS` does not let agents reach; zod-format
    /// details say which. The request is well formed; the answer is the operator's policy.
    #[error("host not allowed: {0}")]
    HostNotAllowed(ValidationErrors),
    /// 404 with the seed's message and optional details. Also what a caller gets for another
    /// project's data: it must not learn that it exists.
    #[error("not found: {message}")]
    NotFound {
        message: &'static str,
        details: Option<&'static str>,
    },
    /// 409: the request conflicts with the current state (a taken email, a job not failed).
    #[error("conflict: {0}")]
    Conflict(String),
    /// 413: body over the limit.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415: not JSON.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 429: too many attempts.
    #[error("too many requests")]
    TooManyRequests,
    /// 429: the project's jobs spent its daily budget; details say how much of what.
    #[error("daily budget of project {project} spent")]
    BudgetSpent {
        project: i64,
        cost_usd_per_day: f64,
        spent_usd: f64,
    },
    /// 503: the queue (Redis) does not answer. The seed's body.
    #[error("queue unavailable: {0}")]
    QueueUnavailable(String),
    /// 500: `context` is the seed's message (`Failed to queue job`); the cause is logged, and
    /// shown only in development (see [`InternalCause`]).
    #[error("{context}: {cause}")]
    Internal {
        context: &'static str,
        cause: String,
    },
}

/// Attached to a 500 response so that, in development only, a middleware can add the cause
/// as `details` (the seed's behaviour). Outside development nobody reads it.
#[derive(Debug, Clone)]
pub struct InternalCause {
    pub context: &'static str,
    pub cause: String,
}

impl ApiError {
    pub fn not_found(message: &'static str) -> Self {
        Self::NotFound {
            message,
            details: None,
        }
    }

    pub fn internal(context: &'static str, cause: impl std::fmt::Display) -> Self {
        Self::Internal {
            context,
            cause: cause.to_string(),
        }
    }

    /// A 500 whose logged cause is `err` with its whole chain of sources (each one that adds
    /// to the text before it), so that the log says why, not only what.
    pub fn internal_error(context: &'static str, err: &(dyn std::error::Error + 'static)) -> Self {
        let mut cause = err.to_string();
        let mut source = err.source();
        while let Some(inner) = source {
            let text = inner.to_string();
            if !cause.contains(&text) {
                cause.push_str(": ");
                cause.push_str(&text);
            }
            source = inner.source();
        }
        Self::Internal { context, cause }
    }

    fn body(&self) -> ErrorBody {
        match self {
            Self::Validation(errors) => {
                ErrorBody::with_details("Validation failed", errors.to_zod_format())
            }
            Self::BadRequest(message) => {
                ErrorBody::with_details("Bad request", Value::String(message.clone()))
            }
            Self::Unauthorized(message) | Self::Forbidden(message) => ErrorBody::new(*message),
            Self::HostNotAllowed(errors) => {
                ErrorBody::with_details("Host not allowed", errors.to_zod_format())
            }
            Self::NotFound { message, details } => ErrorBody {
                error: (*message).to_owned(),
                details: details.map(|d| Value::String(d.to_owned())),
            },
            Self::Conflict(message) => ErrorBody::new(message.clone()),
            Self::PayloadTooLarge => ErrorBody::new("Payload too large"),
            Self::UnsupportedMediaType => ErrorBody::with_details(
                "Validation failed",
                ValidationErrors::whole_body("Content-Type must be application/json")
                    .to_zod_format(),
            ),
            Self::TooManyRequests => ErrorBody::new("Too many requests, try again later"),
            Self::BudgetSpent {
                project,
                cost_usd_per_day,
                spent_usd,
            } => ErrorBody::with_details(
                "Daily budget spent",
                serde_json::json!({
                    "projectId": project,
                    "costUsdPerDay": cost_usd_per_day,
                    "spentUsd": spent_usd,
                    "message": "The project's jobs spent its budget for today (UTC); new jobs are refused until midnight UTC or until an admin raises the budget.",
                }),
            ),
            Self::QueueUnavailable(_) => ErrorBody::new("Agent execution service not initialized"),
            Self::Internal { context, .. } => ErrorBody::new(*context),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::HostNotAllowed(_) => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            // the seed answers 400 for anything that is not a valid body
            Self::UnsupportedMediaType => StatusCode::BAD_REQUEST,
            Self::TooManyRequests | Self::BudgetSpent { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::QueueUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code()).json(self.body());
        match self {
            Self::Internal { context, cause } => {
                tracing::error!(error = %self, "request failed");
                response.extensions_mut().insert(InternalCause {
                    context,
                    cause: cause.clone(),
                });
            }
            Self::QueueUnavailable(_) => tracing::warn!(error = %self, "queue unavailable"),
            _ => {}
        }
        response
    }
}

impl From<agentq_queue::QueueError> for ApiError {
    fn from(err: agentq_queue::QueueError) -> Self {
        if err.is_connection_error() || matches!(err, agentq_queue::QueueError::Batch(_)) {
            Self::QueueUnavailable(err.to_string())
        } else {
            Self::internal_error("Queue error", &err)
        }
    }
}

impl From<agentq_store::StoreError> for ApiError {
    fn from(err: agentq_store::StoreError) -> Self {
        use agentq_store::StoreError;
        match err {
            StoreError::Conflict(what) => Self::Conflict(format!("{what} already exists")),
            StoreError::NotFound(what) | StoreError::MissingReference(what) => Self::NotFound {
                message: "Not found",
                details: Some(what),
            },
            StoreError::TooLarge { .. } => Self::PayloadTooLarge,
            other => Self::internal_error("Database error", &other),
        }
    }
}

#[cfg(test)]
mod chain_tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("the socket closed")]
    struct Socket;

    #[derive(Debug, thiserror::Error)]
    #[error("query failed")]
    struct Query(#[source] Socket);

    #[derive(Debug, thiserror::Error)]
    #[error("database: {0}")]
    struct Store(#[source] Query);

    #[test]
    fn a_500_logs_every_cause_once_and_shows_none() {
        let err = ApiError::internal_error("Database error", &Store(Query(Socket)));
        let ApiError::Internal { context, cause } = &err else {
            panic!("not a 500: {err:?}");
        };
        assert_eq!(*context, "Database error");
        assert_eq!(cause, "database: query failed: the socket closed");
        assert_eq!(err.body(), ErrorBody::new("Database error"));
    }
}
