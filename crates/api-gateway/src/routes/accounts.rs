//! Login and users.

use actix_web::{HttpRequest, web};
use agentq_api_types::accounts::{CreateUserRequest, LoginRequest, Role, Token, TokenType, User};
use agentq_api_types::{Answer, ErrorBody};
use agentq_store::NewUser;

use crate::auth::{hash_password, verify_password};
use crate::error::ApiError;
use crate::extract::{Admin, Created, Reply, Valid, created, ok};
use crate::state::AppState;
use crate::time::iso;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::routes::resource("/api/auth/login", "POST").route(web::post().to(login)))
        .service(
            crate::routes::resource("/api/users", "GET, POST")
                .route(web::get().to(list_users))
                .route(web::post().to(create_user)),
        );
}

/// A valid argon2id hash of a random password: verified against when the email is unknown,
/// so that a wrong email takes as long as a wrong password.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$bm90LWEtcmVhbC1zYWx0$6HhXKk9S4LrOPCAkmOX2zhGQqiPIcnxpAqzoG4A9tVU";

#[utoipa::path(
    post, path = "/api/auth/login", tag = "accounts",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "A token", body = Answer<Token>),
        (status = 400, description = "Validation failed", body = ErrorBody),
        (status = 401, description = "Invalid credentials", body = ErrorBody),
        (status = 429, description = "Too many attempts for this address or email", body = ErrorBody),
    )
)]
pub(crate) async fn login(
    req: HttpRequest,
    Valid(body): Valid<LoginRequest>,
    state: web::Data<AppState>,
) -> Reply<Token> {
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
        .map(|t| iso(t.naive_utc()));
    ok(Answer::new(Token {
        token: issued.token,
        token_type: TokenType::Bearer,
        expires_at,
    }))
}

#[utoipa::path(
    post, path = "/api/users", tag = "accounts",
    request_body = CreateUserRequest,
    responses(
        (status = 201, description = "Created", body = Answer<User>),
        (status = 400, description = "Validation failed", body = ErrorBody),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 403, description = "Admin access required", body = ErrorBody),
        (status = 409, description = "The email is taken", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn create_user(
    _: Admin,
    Valid(body): Valid<CreateUserRequest>,
    state: web::Data<AppState>,
) -> Created<User> {
    let role = match body.role {
        Role::Admin => agentq_store::Role::Admin,
        Role::Member => agentq_store::Role::Member,
    };
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
    created(Answer::new(user_view(user)))
}

pub(crate) fn user_view(user: agentq_store::User) -> User {
    User {
        id: user.id.get(),
        role: match user.role {
            agentq_store::Role::Admin => Role::Admin,
            agentq_store::Role::Member => Role::Member,
        },
        email: user.email,
    }
}

#[utoipa::path(
    get, path = "/api/users", tag = "accounts",
    responses(
        (status = 200, description = "Every user, by id (at most 1,000)", body = Answer<Vec<User>>),
        (status = 401, description = "No, a bad or an expired token", body = ErrorBody),
        (status = 403, description = "Admin access required", body = ErrorBody),
    ),
    security(("bearer" = []))
)]
pub(crate) async fn list_users(_: Admin, state: web::Data<AppState>) -> Reply<Vec<User>> {
    let users = agentq_store::list_users(&state.db).await?;
    ok(Answer::new(users.into_iter().map(user_view).collect()))
}
