//! Who is calling: JWTs (HS256 with `exp`, `nbf`, `iss`, `aud`, `sub`), password hashes
//! (argon2id), and the [`Caller`] extractor every protected route takes.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};
use agentq_domain::UserId;
use agentq_store::{Role, Scope, User};
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::state::AppState;

pub const ISSUER: &str = "agentq";
pub const AUDIENCE: &str = "agentq-api";

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    exp: u64,
    nbf: u64,
    iat: u64,
}

/// Signs and checks tokens with the gateway's secret.
pub struct Jwt {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Jwt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Jwt")
    }
}

/// A signed token and when it stops working (seconds since the epoch).
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: String,
    pub expires_at: u64,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Jwt {
    pub fn new(secret: &[u8]) -> Self {
        // only HS256, so that neither `none` nor an asymmetric algorithm is ever accepted
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue(&self, user: UserId, ttl_secs: u64) -> Result<IssuedToken, ApiError> {
        let now = now_secs();
        let claims = Claims {
            sub: user.to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            exp: now + ttl_secs,
            nbf: now,
            iat: now,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ApiError::internal("Failed to issue token", e))?;
        Ok(IssuedToken {
            token,
            expires_at: claims.exp,
        })
    }

    /// The user a token speaks for, if it verifies.
    pub fn verify(&self, token: &str) -> Option<UserId> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        data.claims.sub.parse().ok()
    }
}

/// argon2id with the crate's defaults (19 MiB, 2 passes), a fresh salt each time.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::internal("Failed to hash password", e))
}

/// Whether `password` matches the stored hash. Takes as long for a malformed hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// The authenticated caller of a request, with what they may see.
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    pub scope: Scope,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.user.role == Role::Admin
    }

    pub fn require_admin(&self) -> Result<(), ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("Admin access required"))
        }
    }
}

/// The bearer token of a request, from `Authorization: Bearer <token>`.
pub fn bearer_token(req: &HttpRequest) -> Option<&str> {
    let header = req.headers().get("authorization")?.to_str().ok()?;
    let (scheme, token) = header.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req).map(str::to_owned);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("Server error", "no app state"))?;
            let token = token.ok_or(ApiError::Unauthorized("Access token required"))?;
            let user_id = state
                .jwt
                .verify(&token)
                .ok_or(ApiError::Unauthorized("Invalid or expired token"))?;
            if let Some(caller) = state.callers.get(user_id) {
                return Ok(caller);
            }
            let user = agentq_store::user_by_id(&state.db, user_id)
                .await?
                .ok_or(ApiError::Unauthorized("Invalid or expired token"))?;
            let scope = agentq_store::scope_for(&state.db, &user).await?;
            let caller = Self { user, scope };
            state.callers.put(user_id, caller.clone());
            Ok(caller)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_only_with_its_secret() {
        let jwt = Jwt::new(&[7; 32]);
        let user = UserId::try_from(42).expect("id");
        let issued = jwt.issue(user, 60).expect("token");
        assert_eq!(jwt.verify(&issued.token), Some(user));
        assert_eq!(Jwt::new(&[8; 32]).verify(&issued.token), None);
        assert_eq!(jwt.verify("not.a.token"), None);
    }

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}

/// Callers recently read from the database. A user's role and projects are read at most once
/// per [`CallerCache::TTL`], which saves two queries on almost every request; a removed member
/// or a demoted admin loses access within that time.
#[derive(Debug, Default)]
pub struct CallerCache {
    entries: std::sync::Mutex<std::collections::HashMap<UserId, (std::time::Instant, Caller)>>,
}

impl CallerCache {
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(5);
    /// Past this many users the cache starts over rather than grow without bound.
    const MAX_ENTRIES: usize = 10_000;

    fn get(&self, user: UserId) -> Option<Caller> {
        let entries = self.entries.lock().ok()?;
        let (at, caller) = entries.get(&user)?;
        (at.elapsed() < Self::TTL).then(|| caller.clone())
    }

    fn put(&self, user: UserId, caller: Caller) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(user, (std::time::Instant::now(), caller));
        }
    }
}
