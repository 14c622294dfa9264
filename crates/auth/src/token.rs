//! JWTs: HS256 only, with `exp`, `nbf`, `iss`, `aud` and `sub` all required.

use agentq_domain::UserId;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "agentq";
pub const AUDIENCE: &str = "agentq-api";
/// A shorter HS256 secret can be guessed offline from any token; services refuse to start.
pub use agentq_settings::MIN_JWT_SECRET_BYTES;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    exp: u64,
    nbf: u64,
    iat: u64,
}

/// Signs and checks tokens with the shared secret.
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

/// A token that verified: whom it speaks for, and until when (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub user: UserId,
    pub expires_at: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot sign a token: {0}")]
pub struct TokenError(#[from] jsonwebtoken::errors::Error);

pub fn now_secs() -> u64 {
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

    pub fn issue(&self, user: UserId, ttl_secs: u64) -> Result<IssuedToken, TokenError> {
        let now = now_secs();
        let claims = Claims {
            sub: user.to_string(),
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            exp: now + ttl_secs,
            nbf: now,
            iat: now,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok(IssuedToken {
            token,
            expires_at: claims.exp,
        })
    }

    /// The user a token speaks for, if it verifies.
    pub fn verify(&self, token: &str) -> Option<Verified> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        Some(Verified {
            user: data.claims.sub.parse().ok()?,
            expires_at: data.claims.exp,
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
        let verified = jwt.verify(&issued.token).expect("verifies");
        assert_eq!(verified.user, user);
        assert_eq!(verified.expires_at, issued.expires_at);
        assert_eq!(Jwt::new(&[8; 32]).verify(&issued.token), None);
        assert_eq!(jwt.verify("not.a.token"), None);
    }
}
