//! Who is calling. The gateway issues tokens; the gateway and the events-broadcaster check
//! them with [`Jwt`] and learn what the caller may see through [`Identities`].

mod identity;
mod token;

pub use identity::{Identities, Identity};
pub use token::{
    AUDIENCE, ISSUER, IssuedToken, Jwt, MIN_JWT_SECRET_BYTES, TokenError, Verified, now_secs,
};
