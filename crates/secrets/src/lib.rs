//! Secrets at rest (MCP credentials, agents' `env`): the gateway seals them, the worker opens
//! them for the agent. AES-256-GCM with the key from `AGENTQ_SECRET_KEY`, stored as
//! `v1:<base64(nonce ‖ ciphertext)>` so that a later key can be introduced by version.

use aes_gcm::aead::{Aead, Generate, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

const VERSION: &str = "v1:";
const NONCE_BYTES: usize = 12;

pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox")
    }
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key)),
        }
    }

    pub fn seal(&self, plaintext: &[u8]) -> Option<String> {
        let nonce = Nonce::generate();
        let ciphertext = self.cipher.encrypt(&nonce, plaintext).ok()?;
        let mut out = nonce.to_vec();
        out.extend(ciphertext);
        Some(format!("{VERSION}{}", BASE64.encode(out)))
    }

    pub fn open(&self, sealed: &str) -> Option<Vec<u8>> {
        let bytes = BASE64.decode(sealed.strip_prefix(VERSION)?).ok()?;
        if bytes.len() < NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let nonce = Nonce::try_from(nonce).ok()?;
        self.cipher.decrypt(&nonce, ciphertext).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_refuses_tampering() {
        let secrets = SecretBox::new(&[3; 32]);
        let sealed = secrets.seal(br#"{"token":"s3cret"}"#).expect("seal");
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("s3cret"));
        assert_eq!(
            secrets.open(&sealed).as_deref(),
            Some(&br#"{"token":"s3cret"}"#[..])
        );
        assert_ne!(
            secrets.seal(b"x"),
            secrets.seal(b"x"),
            "a fresh nonce each time"
        );
        assert!(
            SecretBox::new(&[4; 32]).open(&sealed).is_none(),
            "another key"
        );
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push('A');
        assert!(secrets.open(&tampered).is_none());
        assert!(secrets.open("v2:abc").is_none());
    }
}
