//! Stable identities: the `userKey` a client keeps becomes its user id.
//!
//! The id is an HMAC-SHA-256 of the key under a secret kept in the database,
//! so every process sharing the database derives the same id, the same key
//! always gives the same id, and nobody can work out an id from a key (or the
//! other way round) without the secret. The key is never stored, logged or
//! sent anywhere: only its id is.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::ChatError;
use crate::store::{Store, StoreError};

/// Shortest and longest `userKey`: 22 base64url characters are 132 bits.
pub const KEY_LEN: std::ops::RangeInclusive<usize> = 22..=128;

/// Derives user ids from user keys.
#[derive(Clone)]
pub struct Identities {
    secret: [u8; 32],
}

impl std::fmt::Debug for Identities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identities { .. }")
    }
}

impl Identities {
    /// Identities under `secret`.
    pub fn new(secret: [u8; 32]) -> Self {
        Self { secret }
    }

    /// Identities under the secret the store keeps (made on first use).
    pub async fn load(store: &dyn Store) -> Result<Self, StoreError> {
        Ok(Self::new(store.identity_secret().await?))
    }

    /// The user id of a (valid) key: 32 lowercase hex digits.
    pub fn user_id(&self, key: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(b"rtchat user id\0");
        mac.update(key.as_bytes());
        let digest = mac.finalize().into_bytes();
        digest[..16].iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Checks a `userKey`: 22 to 128 characters of the base64url alphabet.
pub fn check_key(key: &str) -> Result<&str, ChatError> {
    let alphabet = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if KEY_LEN.contains(&key.len()) && key.chars().all(alphabet) {
        Ok(key)
    } else {
        Err(ChatError::bad_request(
            "auth.userKey must be 22 to 128 base64url characters (A-Z a-z 0-9 - _), made from at least 128 random bits",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_stable_per_key_and_secret() {
        let ids = Identities::new([1; 32]);
        let key = "a".repeat(22);
        let id = ids.user_id(&key);
        assert_eq!(id.len(), 32);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_eq!(ids.user_id(&key), id, "the same key gives the same id");
        assert_ne!(ids.user_id(&"b".repeat(22)), id, "another key gives another id");
        assert_ne!(Identities::new([2; 32]).user_id(&key), id, "the id depends on the secret");
        assert!(!id.contains(&key));
    }

    #[test]
    fn keys_are_checked() {
        for good in ["a".repeat(22), "A-_9".repeat(32), "x".repeat(128)] {
            assert!(check_key(&good).is_ok(), "{good}");
        }
        for bad in
            ["a".repeat(21), "a".repeat(129), format!("{}=", "a".repeat(22)), "é".repeat(22), String::new()]
        {
            assert!(check_key(&bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn different_keys_give_different_ids(a in "[A-Za-z0-9_-]{22,40}", b in "[A-Za-z0-9_-]{22,40}") {
            let ids = Identities::new([9; 32]);
            prop_assert_eq!(a == b, ids.user_id(&a) == ids.user_id(&b));
        }
    }
}
