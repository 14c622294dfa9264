//! The secrets the binaries share: the JWT secret (the gateway issues tokens, the broadcaster
//! verifies them) and the key that seals MCP credentials (the gateway seals, the workers open).
//! Outside development both must be given; in development the gateway makes them once under
//! `./data/` and the other binaries read them from there.

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::{Env, MIN_JWT_SECRET_BYTES, SettingsError};

/// A value that must never reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// In development, where a missing secret comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevSecrets {
    /// Read `./data/<file>`, or make it (the gateway, which starts first).
    Make,
    /// Only read `./data/<file>`, made by the gateway.
    Read,
}

const DATA_DIR: &str = "./data";

/// `AGENTQ_JWT_SECRET`: at least [`MIN_JWT_SECRET_BYTES`] outside development.
pub fn jwt_secret(env: &Env<'_>, dev: DevSecrets) -> Result<Secret<Vec<u8>>, SettingsError> {
    const NAME: &str = "AGENTQ_JWT_SECRET";
    match env.get(NAME) {
        Some(secret) if secret.len() >= MIN_JWT_SECRET_BYTES => {
            Ok(Secret::new(secret.into_bytes()))
        }
        Some(_) if !env.development() => Err(SettingsError::new(
            NAME,
            format!("too weak: use at least {MIN_JWT_SECRET_BYTES} random bytes"),
        )),
        None if !env.development() => Err(SettingsError::new(
            NAME,
            "missing (required outside development)",
        )),
        _ => dev_secret(NAME, "jwt-secret", dev).map(|s| Secret::new(s.to_vec())),
    }
}

/// `AGENTQ_SECRET_KEY`: 32 bytes in base64.
pub fn secret_key(env: &Env<'_>, dev: DevSecrets) -> Result<Secret<[u8; 32]>, SettingsError> {
    const NAME: &str = "AGENTQ_SECRET_KEY";
    match env.get(NAME) {
        Some(encoded) => BASE64
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(Secret::new)
            .ok_or_else(|| SettingsError::new(NAME, "expected 32 bytes in base64")),
        None if env.development() => dev_secret(NAME, "secret.key", dev).map(Secret::new),
        None => Err(SettingsError::new(
            NAME,
            "missing (required outside development)",
        )),
    }
}

/// A random 32-byte secret kept under `./data/`, so that development restarts keep tokens
/// and sealed credentials valid.
fn dev_secret(name: &str, file: &str, dev: DevSecrets) -> Result<[u8; 32], SettingsError> {
    let path = Path::new(DATA_DIR).join(file);
    if let Ok(bytes) = std::fs::read(&path)
        && let Ok(secret) = <[u8; 32]>::try_from(bytes.as_slice())
    {
        return Ok(secret);
    }
    if dev == DevSecrets::Read {
        return Err(SettingsError::new(
            name,
            format!("missing, and no {} from the gateway", path.display()),
        ));
    }
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret)
        .map_err(|e| SettingsError::new(name, format!("no randomness: {e}")))?;
    std::fs::create_dir_all(DATA_DIR)
        .and_then(|()| write_private(&path, &secret))
        .map_err(|e| SettingsError::new(name, format!("cannot write {}: {e}", path.display())))?;
    Ok(secret)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn outside_development_both_secrets_must_be_given_and_strong() {
        let none = Env::from_pairs(&[]);
        assert_eq!(
            jwt_secret(&none, DevSecrets::Make).map_err(|e| e.name),
            Err("AGENTQ_JWT_SECRET".into())
        );
        assert_eq!(
            secret_key(&none, DevSecrets::Make).map_err(|e| e.name),
            Err("AGENTQ_SECRET_KEY".into())
        );
        let weak = Env::from_pairs(&[
            ("AGENTQ_JWT_SECRET", "short"),
            ("AGENTQ_SECRET_KEY", "c2hvcnQ="),
        ]);
        assert!(jwt_secret(&weak, DevSecrets::Make).is_err());
        assert!(secret_key(&weak, DevSecrets::Make).is_err());
        let strong = "k".repeat(MIN_JWT_SECRET_BYTES);
        let good = Env::from_pairs(&[("AGENTQ_JWT_SECRET", &strong), ("AGENTQ_SECRET_KEY", KEY)]);
        let jwt = jwt_secret(&good, DevSecrets::Read).expect("strong");
        assert_eq!(jwt.expose(), strong.as_bytes());
        assert_eq!(
            secret_key(&good, DevSecrets::Read).map(|k| k.expose()[1]),
            Ok(1)
        );
        assert_eq!(format!("{jwt:?}"), "[redacted]");
    }
}
