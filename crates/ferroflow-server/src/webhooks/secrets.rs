//! Webhook secrets are stored encrypted (AES-256-GCM), as MLflow stores them encrypted
//! (Fernet): a copy of the database alone does not reveal the keys that sign deliveries.
//! The key never leaves this process and is never logged.
//!
//! A stored secret is `ffenc1:` followed by base64 of a random 96-bit nonce and the
//! sealed bytes. A stored value without that prefix is a secret written before
//! encryption existed and is read as it is.

use std::fmt;
use std::sync::{Mutex, OnceLock};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ferroflow_core::{Error, Result};

const PREFIX: &str = "ffenc1:";

fn sealing_key(key: &[u8; KEY_LEN]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte AES-256 key"))
}

/// The bytes of a key: 32 random bytes.
pub const KEY_LEN: usize = 32;

/// Makes the key the first time a secret is sealed (e.g. creates a key file).
type KeyMaker = Box<dyn Fn() -> Result<[u8; KEY_LEN]> + Send + Sync>;

pub struct WebhookSecrets {
    key: OnceLock<LessSafeKey>,
    make_key: Option<KeyMaker>,
    making: Mutex<()>,
}

impl fmt::Debug for WebhookSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecrets(..)")
    }
}

impl WebhookSecrets {
    pub fn new(key: &[u8; KEY_LEN]) -> Self {
        Self { key: OnceLock::from(sealing_key(key)), make_key: None, making: Mutex::new(()) }
    }

    /// Secrets whose key is made by `make_key` when the first secret is sealed: a server
    /// whose users never set a webhook secret never creates (or waits on) a key file.
    pub fn made_on_first_use(make_key: impl Fn() -> Result<[u8; KEY_LEN]> + Send + Sync + 'static) -> Self {
        Self { key: OnceLock::new(), make_key: Some(Box::new(make_key)), making: Mutex::new(()) }
    }

    fn sealing(&self) -> Result<&LessSafeKey> {
        if let Some(key) = self.key.get() {
            return Ok(key);
        }
        let _one_at_a_time = self.making.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(key) = self.key.get() {
            return Ok(key);
        }
        let make_key = self.make_key.as_ref().ok_or_else(|| Error::internal("no webhook secret key"))?;
        let key = make_key()?;
        Ok(self.key.get_or_init(|| sealing_key(&key)))
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
    pub fn seal(&self, secret: &str) -> Result<String> {
        let key = self.sealing()?;
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).expect("the system random generator");
        let mut sealed = secret.as_bytes().to_vec();
        key.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut sealed)
            .map_err(|_| Error::internal("cannot seal a webhook secret"))?;
        let mut stored = nonce.to_vec();
        stored.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", STANDARD.encode(stored)))
    }

    /// The secret behind a stored value.
    pub fn open(&self, stored: &str) -> Result<String> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_string()) };
        let unreadable =
            || Error::internal("cannot decrypt a webhook secret: was the webhook secret key changed?".to_string());
        // Opening never makes a key: a sealed secret without its key stays unreadable.
        let key = self.key.get().ok_or_else(unreadable)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| unreadable())?;
        if bytes.len() < NONCE_LEN {
            return Err(unreadable());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unreadable())?;
        let mut sealed = sealed.to_vec();
        let plain = key.open_in_place(nonce, Aad::empty(), &mut sealed).map_err(|_| unreadable())?;
        String::from_utf8(plain.to_vec()).map_err(|_| unreadable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_never_appear_in_the_stored_form() {
        let secrets = WebhookSecrets::new(&WebhookSecrets::generate_key());
        let stored = secrets.seal("s3cr3t-value").unwrap();
        assert!(stored.starts_with(PREFIX) && !stored.contains("s3cr3t"), "{stored}");
        assert_ne!(stored, secrets.seal("s3cr3t-value").unwrap(), "a fresh nonce every time");
        assert_eq!(secrets.open(&stored).unwrap(), "s3cr3t-value");
        assert_eq!(format!("{secrets:?}"), "WebhookSecrets(..)");
    }

    #[test]
    fn another_key_or_a_damaged_value_cannot_open_it() {
        let stored = WebhookSecrets::new(&WebhookSecrets::generate_key()).seal("x").unwrap();
        let other = WebhookSecrets::new(&WebhookSecrets::generate_key());
        assert!(other.open(&stored).is_err());
        let secrets = WebhookSecrets::new(&[7; KEY_LEN]);
        let mut damaged = secrets.seal("x").unwrap();
        damaged.push('A');
        assert!(secrets.open(&damaged).is_err());
        assert!(secrets.open("ffenc1:AAAA").is_err());
    }

    #[test]
    fn a_key_made_on_first_use_is_made_once_and_only_to_seal() {
        let made = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&made);
        let secrets = WebhookSecrets::made_on_first_use(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok([9; KEY_LEN])
        });
        assert!(secrets.open("ffenc1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").is_err());
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 0, "opening makes no key");
        let stored = secrets.seal("a").unwrap();
        secrets.seal("b").unwrap();
        assert_eq!(made.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(WebhookSecrets::new(&[9; KEY_LEN]).open(&stored).unwrap(), "a");
        let failing = WebhookSecrets::made_on_first_use(|| Err(Error::internal("disk full")));
        assert!(failing.seal("a").unwrap_err().message.contains("disk full"));
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
