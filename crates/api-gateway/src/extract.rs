//! What a handler takes from a request besides its caller: a checked JSON body ([`Valid`], and
//! [`QueueBody`] for the seed's zod rules) and an administrator ([`Admin`]); and what it gives
//! back ([`Reply`], [`Created`]).

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use agentq_api_types::{Answer, QueueJobRequest};
use agentq_domain::JobRequest;
use serde::de::DeserializeOwned;

use crate::auth::Caller;
use crate::body::{check, json_bytes, parse_json};
use crate::error::ApiError;
use crate::state::AppState;

/// A 200 with `{"success": true, "data": …}`.
pub type Reply<T> = Result<web::Json<Answer<T>>, ApiError>;
/// A 201 with `{"success": true, "data": …}`.
pub type Created<T> = Result<(web::Json<Answer<T>>, StatusCode), ApiError>;

pub fn ok<T>(answer: Answer<T>) -> Reply<T> {
    Ok(web::Json(answer))
}

pub fn created<T>(answer: Answer<T>) -> Created<T> {
    Ok((web::Json(answer), StatusCode::CREATED))
}

/// The request's JSON body (content type and size checked), then `parse` of its bytes: what
/// both body extractors share.
fn parse_body<T: 'static>(
    req: &HttpRequest,
    payload: &mut actix_web::dev::Payload,
    parse: fn(&[u8]) -> Result<T, ApiError>,
) -> Pin<Box<dyn Future<Output = Result<T, ApiError>>>> {
    let req = req.clone();
    let payload = payload.take();
    Box::pin(async move {
        let state = req
            .app_data::<web::Data<AppState>>()
            .cloned()
            .ok_or_else(|| ApiError::internal("Server error", "no app state"))?;
        let bytes = json_bytes(&req, payload, &state).await?;
        parse(&bytes)
    })
}

/// A JSON body of type `T` whose garde rules hold; otherwise a 400 in zod's format (415 when
/// not JSON, 413 when over the limit).
#[derive(Debug)]
pub struct Valid<T>(pub T);

impl<T> FromRequest for Valid<T>
where
    T: DeserializeOwned + garde::Validate<Context = ()> + 'static,
{
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let body = parse_body(req, payload, |bytes| {
            let value: T = parse_json(bytes)?;
            check(&value)?;
            Ok(value)
        });
        Box::pin(async move { body.await.map(Self) })
    }
}

/// `POST /queue`'s body, checked exactly as the seed's zod schema checks it.
#[derive(Debug)]
pub struct QueueBody(pub JobRequest);

impl FromRequest for QueueBody {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let body = parse_body(req, payload, |bytes| {
            QueueJobRequest::parse(bytes).map_err(ApiError::Validation)
        });
        Box::pin(async move { body.await.map(Self) })
    }
}

/// A caller who is an administrator; anyone else gets 403 (401 without a valid token).
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        Box::pin(async move {
            let caller = caller.await?;
            if caller.is_admin() {
                Ok(Self(caller))
            } else {
                Err(ApiError::Forbidden("Admin access required"))
            }
        })
    }
}
