//! Webhook secrets are stored encrypted (AES-256-GCM), as MLflow stores them encrypted
//! (Fernet): a copy of the database alone does not reveal the keys that sign deliveries.
//! The key never leaves this process and is never logged.
//!
//! A stored secret is `ffenc1:` followed by base64 of a random 96-bit nonce and the
//! sealed bytes. A stored value without that prefix is a secret written before
//! encryption existed and is read as it is.

use std::fmt;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ferroflow_core::{Error, Result};

const PREFIX: &str = "ffenc1:";

/// The bytes of a key: 32 random bytes.
pub const KEY_LEN: usize = 32;

pub struct WebhookSecrets {
    key: LessSafeKey,
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecrets(..)")
    }
}

impl WebhookSecrets {
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        let unbound = UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key");
        Self { key: LessSafeKey::new(unbound) }
    }

    /// A fresh random key.
    pub fn generate_key() -> [u8; KEY_LEN] {
        let mut key = [0u8; KEY_LEN];
        aws_lc_rs::rand::fill(&mut key).expect("the system random generator");
        key
    }

    /// A key written as base64 (how `FERROFLOW_WEBHOOK_SECRET_KEY` and the key file hold it).
    pub fn parse_key(text: &str) -> std::result::Result<[u8; KEY_LEN], String> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| "the webhook secret key is not base64".to_string())?;
        <[u8; KEY_LEN]>::try_from(bytes.as_slice())
            .map_err(|_| format!("the webhook secret key must be {KEY_LEN} bytes, base64-encoded"))
    }

    pub fn encode_key(key: &[u8; KEY_LEN]) -> String {
        STANDARD.encode(key)
    }

    /// The stored form of `secret`.
    pub fn seal(&self, secret: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).expect("the system random generator");
        let mut sealed = secret.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut sealed)
            .expect("AES-GCM sealing of a short secret");
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(stored))
    }

    /// The secret behind a stored value.
    pub fn open(&self, stored: &str) -> Result<String> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_string()) };
        let unreadable =
            || Error::internal("cannot decrypt a webhook secret: was the webhook secret key changed?".to_string());
        let bytes = STANDARD.decode(encoded).map_err(|_| unreadable())?;
        if bytes.len() < NONCE_LEN {
            return Err(unreadable());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unreadable())?;
        let mut sealed = sealed.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::empty(), &mut sealed).map_err(|_| unreadable())?;
        String::from_utf8(plain.to_vec()).map_err(|_| unreadable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_never_appear_in_the_stored_form() {
        let secrets = WebhookSecrets::new(&WebhookSecrets::generate_key());
        let stored = secrets.seal("s3cr3t-value");
        assert!(stored.starts_with(PREFIX) && !stored.contains("s3cr3t"), "{stored}");
        assert_ne!(stored, secrets.seal("s3cr3t-value"), "a fresh nonce every time");
        assert_eq!(secrets.open(&stored).unwrap(), "s3cr3t-value");
        assert_eq!(format!("{secrets:?}"), "WebhookSecrets(..)");
    }

    #[test]
    fn another_key_or_a_damaged_value_cannot_open_it() {
        let stored = WebhookSecrets::new(&WebhookSecrets::generate_key()).seal("x");
        let other = WebhookSecrets::new(&WebhookSecrets::generate_key());
        assert!(other.open(&stored).is_err());
        let secrets = WebhookSecrets::new(&[7; KEY_LEN]);
        let mut damaged = secrets.seal("x");
        damaged.push('A');
        assert!(secrets.open(&damaged).is_err());
        assert!(secrets.open("ffenc1:AAAA").is_err());
    }

    #[test]
    fn values_from_before_encryption_read_as_they_are() {
        let secrets = WebhookSecrets::new(&[1; KEY_LEN]);
        assert_eq!(secrets.open("legacy-plain").unwrap(), "legacy-plain");
    }

    #[test]
    fn keys_parse_from_base64() {
        let key = WebhookSecrets::generate_key();
        assert_eq!(WebhookSecrets::parse_key(&WebhookSecrets::encode_key(&key)).unwrap(), key);
        assert!(WebhookSecrets::parse_key("c2hvcnQ=").is_err());
        assert!(WebhookSecrets::parse_key("not base64!").is_err());
    }
}
