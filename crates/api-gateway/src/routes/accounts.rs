//! Login and users.

use actix_web::{HttpRequest, HttpResponse, web};
use agentq_store::{NewUser, Role};
use garde::Validate;
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Caller, hash_password, verify_password};
use crate::body::{check, json_body};
use crate::error::ApiError;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/api/auth/login", web::post().to(login))
        .route("/api/users", web::post().to(create_user));
}

#[derive(Debug, Deserialize, Validate)]
struct Login {
    #[garde(length(min = 1, max = 320))]
    email: String,
    #[garde(length(min = 1, max = 1024))]
    password: String,
}

/// A valid argon2id hash of a random password: verified against when the email is unknown,
/// so that a wrong email takes as long as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$bm90LWEtcmVhbC1zYWx0$6HhXKk9S4LrOPCAkmOX2zhGQqiPIcnxpAqzoG4A9tVU";

#[utoipa::path(
    post, path = "/api/auth/login", tag = "accounts",
    request_body = crate::openapi::LoginRequest,
    responses(
        (status = 200, description = "A token", body = crate::openapi::TokenAnswer),
        (status = 400, description = "Validation failed", body = crate::openapi::ErrorBody),
        (status = 401, description = "Invalid credentials", body = crate::openapi::ErrorBody),
        (status = 429, description = "Too many attempts for this address or email", body = crate::openapi::ErrorBody),
    )
)]
pub(crate) async fn login(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body: Login = json_body(&req, payload, &state).await?;
    check(&body)?;
    let client = crate::client_addr::client_ip(&req, &state.settings.trusted_proxies)
        .map(crate::client_addr::limit_key)
        .unwrap_or_default();
    if !state.login_limits.allow(&client, &body.email) {
        return Err(ApiError::TooManyRequests);
    }
    let user = agentq_store::user_by_email(&state.db, &body.email).await?;
    let hash = user
        .as_ref()
        .map_or(DUMMY_HASH, |u| u.password_hash.as_str())
        .to_owned();
    let password = body.password;
    // argon2 takes tens of milliseconds of CPU: off the async threads
    let matches = web::block(move || verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::internal("Login failed", e))?;
    let user = match user {
        Some(user) if matches => user,
        _ => return Err(ApiError::Unauthorized("Invalid credentials")),
    };
    let issued = state
        .jwt
        .issue(user.id, state.settings.token_ttl_secs)
        .map_err(|e| ApiError::internal("Failed to issue token", e))?;
    let expires_at = i64::try_from(issued.expires_at)
        .ok()
        .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
        .map(|t| crate::routes::jobs::iso(t.naive_utc()));
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "data": {"token": issued.token, "tokenType": "Bearer", "expiresAt": expires_at}
    })))
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
struct CreateUser {
    #[garde(length(min = 3, max = 255), custom(email_shaped))]
    email: String,
    #[garde(length(min = 8, max = 1024))]
    password: String,
    #[garde(custom(one_of(&["admin", "member"])))]
    role: String,
}

/// `local@domain`, no spaces: enough to catch typos; delivery is not our concern.
fn email_shaped(email: &str, _: &()) -> garde::Result {
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && domain.contains('.')
                && !email.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(garde::Error::new("not a valid email address")),
    }
}

pub(crate) fn one_of(
    allowed: &'static [&'static str],
) -> impl FnOnce(&String, &()) -> garde::Result {
    move |value, _| {
        if allowed.contains(&value.as_str()) {
            Ok(())
        } else {
            Err(garde::Error::new(format!(
                "expected one of {}",
                allowed.join(", ")
            )))
        }
    }
}

#[utoipa::path(
    post, path = "/api/users", tag = "accounts",
    request_body = crate::openapi::CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = crate::openapi::UserAnswer),
        (status = 400, description = "Validation failed", body = crate::openapi::ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = crate::openapi::ErrorBody),
        (status = 403, description = "Admin access required", body = crate::openapi::ErrorBody),
        (status = 409, description = "The email is taken", body = crate::openapi::ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_user(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    caller.require_admin()?;
    let body: CreateUser = json_body(&req, payload, &state).await?;
    check(&body)?;
    let role = Role::parse(&body.role).unwrap_or(Role::Member);
    let password = body.password;
    let password_hash = web::block(move || hash_password(&password))
        .await
        .map_err(|e| ApiError::internal("Failed to create user", e))??;
    let user = agentq_store::create_user(
        &state.db,
        NewUser {
            email: body.email,
            password_hash,
            role,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(json!({
        "success": true,
        "data": {"id": user.id.get(), "email": user.email, "role": user.role.as_str()}
    })))
}
