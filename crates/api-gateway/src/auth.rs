//! Who is calling: password hashes (argon2id) and the [`Caller`] extractor every protected
//! route takes. Tokens themselves are `agentq_auth`'s, shared with the events-broadcaster.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, web};
use agentq_auth::Identity;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::ApiError;
use crate::state::AppState;

pub use agentq_auth::{Identities, IssuedToken, Jwt};

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
pub struct Caller(Identity);

impl std::ops::Deref for Caller {
    type Target = Identity;

    fn deref(&self) -> &Identity {
        &self.0
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
            let verified = state
                .jwt
                .verify(&token)
                .ok_or(ApiError::Unauthorized("Invalid or expired token"))?;
            let identity = state
                .identities
                .resolve(&state.db, verified.user)
                .await?
                .ok_or(ApiError::Unauthorized("Invalid or expired token"))?;
            Ok(Self(identity))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_against_their_hash_only() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &hash));
        assert!(!verify_password("wrong horse", &hash));
        assert!(!verify_password("correct horse", "not a hash"));
    }
}
