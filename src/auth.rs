//! Caller authentication: the `X-Api-Key` header against the keys in `api_key`.
//!
//! The auth model:
//! - `api_key` holds one or more accepted keys, separated by commas or whitespace, so a key can
//!   be rotated with overlap (add the new one, switch the caller, remove the old one).
//! - Each key is given either as the plain key (at least [`MIN_KEY_LEN`] characters: a
//!   guessable key is worse than none) or as `sha256:<64 hex digits>` of it, so the secret store
//!   need not hold plaintext.
//! - Only SHA-256 digests are kept. A presented key is hashed and compared with **every**
//!   accepted digest in constant time (`subtle`); there is no early exit on a match, so timing
//!   says nothing about which key, or how much of one, matched.
//! - An empty, missing, repeated or oversized presented key is refused with the same answer as a
//!   wrong one.

use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

/// The shortest plaintext key accepted in `api_key`.
pub const MIN_KEY_LEN: usize = 32;
/// At most this many keys in `api_key`.
pub const MAX_KEYS: usize = 16;
/// A presented key longer than this is refused without hashing.
pub const MAX_PRESENTED_KEY_LEN: usize = 4096;

/// A secret string: never printed, never logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The value, for the one place that must send it (an `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// Why `api_key` was refused. The texts name the rule, never the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyConfigError {
    /// No key at all.
    #[error("is empty")]
    Empty,
    /// A plaintext key is too short.
    #[error("holds a plain key shorter than 32 characters")]
    TooShort,
    /// A `sha256:` entry is not 64 hex digits.
    #[error("holds a sha256: entry that is not 64 hex digits")]
    BadDigest,
    /// More keys than [`MAX_KEYS`].
    #[error("holds more than 16 keys")]
    TooMany,
}

/// The accepted keys, as SHA-256 digests.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.digests.len())
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

fn parse_hex_digest(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl ApiKeys {
    /// Parses the `api_key` variable.
    pub fn parse(value: &str) -> Result<ApiKeys, KeyConfigError> {
        let mut digests = Vec::new();
        for entry in value
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            let digest = match entry.strip_prefix("sha256:") {
                Some(hex) => parse_hex_digest(hex).ok_or(KeyConfigError::BadDigest)?,
                None if entry.chars().count() < MIN_KEY_LEN => {
                    return Err(KeyConfigError::TooShort)
                }
                None => sha256(entry.as_bytes()),
            };
            if !digests.contains(&digest) {
                digests.push(digest);
            }
        }
        if digests.is_empty() {
            return Err(KeyConfigError::Empty);
        }
        if digests.len() > MAX_KEYS {
            return Err(KeyConfigError::TooMany);
        }
        Ok(ApiKeys { digests })
    }

    /// Whether `presented` is one of the accepted keys. Compares against every key, in constant
    /// time for each; refuses empty and oversized keys.
    pub fn verify(&self, presented: &[u8]) -> bool {
        if presented.is_empty() || presented.len() > MAX_PRESENTED_KEY_LEN {
            return false;
        }
        let digest = sha256(presented);
        let mut matched = Choice::from(0);
        for accepted in &self.digests {
            matched |= accepted.ct_eq(&digest);
        }
        bool::from(matched)
    }

    /// The first 8 hex digits of each accepted key's SHA-256: tells keys apart without
    /// revealing them.
    pub fn fingerprints(&self) -> Vec<String> {
        self.digests
            .iter()
            .map(|d| d[..4].iter().map(|b| format!("{b:02x}")).collect())
            .collect()
    }

    /// How many keys are accepted.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Always false: a parsed set holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_A: &str = "a-very-long-test-key-0123456789abcdef";
    const KEY_B: &str = "another-long-test-key-fedcba9876543210";

    fn hex(d: [u8; 32]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn accepts_the_plain_key_and_refuses_others() {
        let keys = ApiKeys::parse(KEY_A).unwrap();
        assert!(keys.verify(KEY_A.as_bytes()));
        assert!(!keys.verify(KEY_B.as_bytes()));
        assert!(!keys.verify(b"a-very-long-test-key-0123456789abcde"));
    }

    #[test]
    fn accepts_the_hashed_form() {
        let keys = ApiKeys::parse(&format!("sha256:{}", hex(sha256(KEY_A.as_bytes())))).unwrap();
        assert!(keys.verify(KEY_A.as_bytes()));
        assert!(!keys.verify(KEY_B.as_bytes()));
    }

    #[test]
    fn uppercase_hex_digest_is_accepted() {
        let upper = hex(sha256(KEY_A.as_bytes())).to_uppercase();
        let keys = ApiKeys::parse(&format!("sha256:{upper}")).unwrap();
        assert!(keys.verify(KEY_A.as_bytes()));
    }

    #[test]
    fn several_keys_for_rotation_with_commas_or_whitespace() {
        for sep in [",", " ", "\n", " , ", "\t"] {
            let keys = ApiKeys::parse(&format!("{KEY_A}{sep}{KEY_B}\n")).unwrap();
            assert_eq!(keys.len(), 2);
            assert!(keys.verify(KEY_A.as_bytes()));
            assert!(keys.verify(KEY_B.as_bytes()));
        }
    }

    #[test]
    fn rejects_short_plain_key() {
        assert_eq!(ApiKeys::parse("short-key"), Err(KeyConfigError::TooShort));
        let k31 = "x".repeat(31);
        assert_eq!(ApiKeys::parse(&k31), Err(KeyConfigError::TooShort));
        assert!(ApiKeys::parse(&"x".repeat(32)).is_ok());
    }

    #[test]
    fn rejects_bad_digest() {
        assert_eq!(ApiKeys::parse("sha256:abc"), Err(KeyConfigError::BadDigest));
        assert_eq!(
            ApiKeys::parse(&format!("sha256:{}", "g".repeat(64))),
            Err(KeyConfigError::BadDigest)
        );
    }

    #[test]
    fn rejects_empty_key() {
        assert_eq!(ApiKeys::parse(""), Err(KeyConfigError::Empty));
        assert_eq!(ApiKeys::parse(" ,\n "), Err(KeyConfigError::Empty));
    }

    #[test]
    fn rejects_too_many_keys() {
        let many: Vec<String> = (0..17).map(|i| format!("{KEY_A}{i}")).collect();
        assert_eq!(
            ApiKeys::parse(&many.join(",")),
            Err(KeyConfigError::TooMany)
        );
    }

    #[test]
    fn empty_presented_key_never_matches_even_the_hash_of_empty() {
        let keys = ApiKeys::parse(&format!("sha256:{}", hex(sha256(b"")))).unwrap();
        assert!(!keys.verify(b""));
    }

    #[test]
    fn oversized_presented_key_is_refused() {
        let huge = "k".repeat(MAX_PRESENTED_KEY_LEN + 1);
        let keys = ApiKeys::parse(&huge).unwrap();
        assert!(!keys.verify(huge.as_bytes()));
    }

    #[test]
    fn constant_time_path_checks_every_key() {
        // The match may be the first or the last key: both succeed, and verify() has no early
        // return inside the loop (the fold is a subtle::Choice).
        let keys = ApiKeys::parse(&format!("{KEY_A},{KEY_B}")).unwrap();
        assert!(keys.verify(KEY_A.as_bytes()));
        assert!(keys.verify(KEY_B.as_bytes()));
    }

    #[test]
    fn fingerprints_are_8_hex_digits_of_the_digest() {
        let keys = ApiKeys::parse(KEY_A).unwrap();
        let fp = keys.fingerprints();
        assert_eq!(fp, vec![hex(sha256(KEY_A.as_bytes()))[..8].to_string()]);
    }

    #[test]
    fn debug_never_prints_secrets() {
        let s = Secret::new("super-secret-token");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        let keys = ApiKeys::parse(KEY_A).unwrap();
        assert!(!format!("{keys:?}").contains(KEY_A));
    }
}
