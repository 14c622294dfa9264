//! Login and users.

use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// `POST /api/auth/login`. Unknown keys are ignored, as the seed's clients may send more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
pub struct LoginRequest {
    #[garde(length(chars, min = 1, max = 320))]
    #[schema(min_length = 1, max_length = 320)]
    pub email: String,
    #[garde(length(chars, min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
}

/// The token type: always `Bearer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum TokenType {
    Bearer,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Token {
    pub token: String,
    pub token_type: TokenType,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees every project; manages users, projects and agents.
    Admin,
    /// Sees the projects it is a member of.
    Member,
}

/// `POST /api/users` (admins only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    /// `local@domain`.
    #[garde(length(chars, min = 3, max = 255), custom(email_shaped))]
    #[schema(
        min_length = 3,
        max_length = 255,
        pattern = "^[^@\\s]+@[^@\\s]*\\.[^@\\s]*$"
    )]
    pub email: String,
    #[garde(length(chars, min = 8, max = 1024))]
    #[schema(min_length = 8, max_length = 1024)]
    pub password: String,
    #[garde(skip)]
    pub role: Role,
}

/// `local@domain` with a dot in the domain, no spaces: enough to catch typos; delivery is not
/// our concern. The schema's pattern says the same.
fn email_shaped(email: &str, _: &()) -> garde::Result {
    match email.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !email.contains(char::is_whitespace) =>
        {
            Ok(())
        }
        _ => Err(garde::Error::new("not a valid email address")),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_needs_one_at_a_dotted_domain_and_no_spaces() {
        for good in ["a@b.c", "first.last@example.com"] {
            assert!(email_shaped(good, &()).is_ok(), "{good}");
        }
        for bad in ["ab.c", "@b.c", "a@bc", "a b@c.d", "a@b@c.d"] {
            assert!(email_shaped(bad, &()).is_err(), "{bad}");
        }
    }
}
