//! Caller authentication: the `X-Api-Key` header against the keys in `api_key`.
//!
//! The auth model:
//! - `api_key` holds one or more accepted keys, separated by commas or whitespace, so a key can
//!   be rotated with overlap (add the new one, switch the caller, remove the old one).
//! - Each key is given either as the plain key or as `sha256:<64 hex digits>` of it, so the
//!   secret store need not hold plaintext. A `sha256:` entry must be the digest of a *generated*
//!   key: its digest is all the component sees, so it cannot check the key's strength.
//! - A plain key must look generated, at least 128 bits by this rule ([`check_strength`]): only
//!   characters of the base64 and base64url alphabets (`A-Z a-z 0-9 - _ + / =`), and either
//!   - at least [`MIN_HEX_KEY_LEN`] (32) characters if every one is a hex digit of one case
//!     (16 choices, 4 bits each: `openssl rand -hex 16` or more), or
//!   - at least [`MIN_KEY_LEN`] (22) characters otherwise (6 bits each: `openssl rand -base64
//!     16`, a UUID);
//!
//!   and, whatever the length, characters of at least two of the classes lowercase, uppercase,
//!   digits, and at least [`MIN_DISTINCT_CHARS`] different characters, so 32 × `a`, 40 digits
//!   or `abab…` are refused. A guessable key is worse than none; it is refused as an
//!   `invalid` setting with a message saying how to make one.
//! - Only SHA-256 digests are kept. A presented key is hashed and compared with **every**
//!   accepted digest in constant time (`subtle`); there is no early exit on a match, so timing
//!   says nothing about which key, or how much of one, matched.
//! - An empty, missing, repeated or oversized presented key is refused with the same answer as a
//!   wrong one.

use sha2::{Digest, Sha256};
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

/// The shortest plaintext key accepted in `api_key` (base64-like keys: 22 × 6 bits ≥ 128).
pub const MIN_KEY_LEN: usize = 22;
/// The shortest all-hex plaintext key accepted (32 × 4 bits = 128).
pub const MIN_HEX_KEY_LEN: usize = 32;
/// The fewest different characters a plaintext key may hold.
pub const MIN_DISTINCT_CHARS: usize = 8;
/// How to make a key, for the message that refuses a weak one.
pub const HOW_TO_MAKE_A_KEY: &str = "holds a plain key that does not look generated: use at least \
     32 hex digits or 22 base64 characters from a random generator, e.g. openssl rand -hex 32";
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
    /// A plaintext key does not look generated (see [`check_strength`]).
    #[error("holds a plain key that does not look generated")]
    Weak,
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
    /// The 1-based position in `api_key` of each digest's first entry.
    positions: Vec<u32>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.digests.len())
    }
}

impl KeyConfigError {
    /// The fixed reason shown for `api_key` ("api_key <reason>").
    pub fn reason(self) -> &'static str {
        match self {
            KeyConfigError::Empty => "is empty",
            KeyConfigError::Weak => HOW_TO_MAKE_A_KEY,
            KeyConfigError::BadDigest => "holds a sha256: entry that is not 64 hex digits",
            KeyConfigError::TooMany => "holds more than 16 keys",
        }
    }
}

/// Whether a plaintext key looks generated: the rule in the module docs.
pub fn check_strength(key: &str) -> Result<(), KeyConfigError> {
    let bytes = key.as_bytes();
    let alphabet = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'/' | b'='));
    let mut seen = [false; 128];
    let mut distinct = 0;
    for &b in bytes.iter().filter(|b| b.is_ascii()) {
        if !seen[b as usize] {
            seen[b as usize] = true;
            distinct += 1;
        }
    }
    let all_hex = bytes.iter().all(u8::is_ascii_hexdigit)
        && !(bytes.iter().any(u8::is_ascii_lowercase) && bytes.iter().any(u8::is_ascii_uppercase));
    let classes = [
        bytes.iter().any(u8::is_ascii_lowercase),
        bytes.iter().any(u8::is_ascii_uppercase),
        bytes.iter().any(u8::is_ascii_digit),
    ]
    .iter()
    .filter(|c| **c)
    .count();
    let min_len = if all_hex {
        MIN_HEX_KEY_LEN
    } else {
        MIN_KEY_LEN
    };
    let long_enough = bytes.len() >= min_len && classes >= 2;
    if alphabet && long_enough && distinct >= MIN_DISTINCT_CHARS {
        Ok(())
    } else {
        Err(KeyConfigError::Weak)
    }
}

/// The one `X-Api-Key` value presented among request `headers` (names in any case); empty when
/// absent or repeated (a repeated header is ambiguous: refused like a wrong key).
pub fn presented_key(headers: &[(String, Vec<u8>)]) -> &[u8] {
    let mut values = headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("x-api-key"));
    match (values.next(), values.next()) {
        (Some((_, value)), None) => value,
        _ => b"",
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
        let mut positions = Vec::new();
        for (position, entry) in (1u32..).zip(
            value
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|s| !s.is_empty()),
        ) {
            let digest = match entry.strip_prefix("sha256:") {
                Some(hex) => parse_hex_digest(hex).ok_or(KeyConfigError::BadDigest)?,
                None => {
                    check_strength(entry)?;
                    sha256(entry.as_bytes())
                }
            };
            if !digests.contains(&digest) {
                digests.push(digest);
                positions.push(position);
            }
        }
        if digests.is_empty() {
            return Err(KeyConfigError::Empty);
        }
        if digests.len() > MAX_KEYS {
            return Err(KeyConfigError::TooMany);
        }
        Ok(ApiKeys { digests, positions })
    }

    /// Whether `presented` is one of the accepted keys. Compares against every key, in constant
    /// time for each; refuses empty and oversized keys.
    pub fn verify(&self, presented: &[u8]) -> bool {
        self.position(presented).is_some()
    }

    /// Which accepted key `presented` is: its entry's 1-based position in `api_key`, for the
    /// log line and the admin page. Compares against every key in constant
    /// time, with no early exit: the position is selected, not branched on.
    pub fn position(&self, presented: &[u8]) -> Option<usize> {
        if presented.is_empty() || presented.len() > MAX_PRESENTED_KEY_LEN {
            return None;
        }
        let digest = sha256(presented);
        let mut matched = Choice::from(0);
        let mut position = 0u32;
        for (accepted, i) in self.digests.iter().zip(&self.positions) {
            let here = accepted.ct_eq(&digest);
            position.conditional_assign(i, here);
            matched |= here;
        }
        bool::from(matched).then_some(position as usize)
    }

    /// The first 8 hex digits of a presented key's SHA-256: lets its holder tell which key they
    /// are using during a rotation (`printf %s "$KEY" | sha256sum | cut -c1-8`). Only ever shown
    /// for the key the caller presented, never for the other accepted keys.
    pub fn fingerprint(presented: &[u8]) -> String {
        sha256(presented)[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
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
        assert_eq!(ApiKeys::parse("short-key"), Err(KeyConfigError::Weak));
        // 31 hex digits: 124 bits.
        let hex31 = &hex(sha256(b"x"))[..31];
        assert_eq!(ApiKeys::parse(hex31), Err(KeyConfigError::Weak));
        assert!(ApiKeys::parse(&hex(sha256(b"x"))[..32]).is_ok());
        // 21 base64url characters: 126 bits.
        assert_eq!(
            ApiKeys::parse("Xk3_pQ9-Zr7Lm2Nv8Bt4W"),
            Err(KeyConfigError::Weak)
        );
        assert!(ApiKeys::parse("Xk3_pQ9-Zr7Lm2Nv8Bt4Wy").is_ok());
    }

    #[test]
    fn rejects_keys_that_do_not_look_generated() {
        for weak in [
            "a".repeat(32),                             // one character
            "ab".repeat(20),                            // two characters
            "0123456789".repeat(4),                     // digits only: 3.3 bits each
            "abcdefghijklmnopqrstuvwxyzabcdef".into(),  // one class
            "correct horse battery staple 1234".into(), // not a key alphabet
            "pässwörd-pässwörd-pässwörd-1234".into(),   // not a key alphabet
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1".into(),  // two distinct characters
        ] {
            assert_eq!(ApiKeys::parse(&weak), Err(KeyConfigError::Weak), "{weak}");
        }
    }

    #[test]
    fn accepts_what_generators_make() {
        for generated in [
            "9f86d081884c7d659a2feaa0c55ad015",     // openssl rand -hex 16
            "9F86D081884C7D659A2FEAA0C55AD015",     // the same, upper case
            "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is",     // openssl rand -base64 24
            "3f2b8c1e-5d4a-4b9e-8f7c-2a1d0e9b6c5f", // a UUID
            "Xk3_pQ9-Zr7Lm2Nv8Bt4Wy",               // 22 base64url characters
        ] {
            assert!(ApiKeys::parse(generated).is_ok(), "{generated}");
        }
        assert!(KeyConfigError::Weak
            .reason()
            .contains("openssl rand -hex 32"));
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
        let huge = "0123456789abcdef".repeat(MAX_PRESENTED_KEY_LEN / 16 + 1);
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
    fn fingerprint_is_8_hex_digits_of_the_presented_key() {
        assert_eq!(
            ApiKeys::fingerprint(KEY_A.as_bytes()),
            hex(sha256(KEY_A.as_bytes()))[..8]
        );
    }

    #[test]
    fn position_says_which_key_matched() {
        let keys = ApiKeys::parse(&format!("{KEY_A},{KEY_A} {KEY_B}")).unwrap();
        assert_eq!(keys.position(KEY_A.as_bytes()), Some(1));
        assert_eq!(keys.position(KEY_B.as_bytes()), Some(3));
        assert_eq!(
            keys.position(b"a-very-long-test-key-0123456789abcdeX"),
            None
        );
        assert_eq!(keys.position(b""), None);
    }

    #[test]
    fn debug_never_prints_secrets() {
        let s = Secret::new("super-secret-token");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        let keys = ApiKeys::parse(KEY_A).unwrap();
        assert!(!format!("{keys:?}").contains(KEY_A));
    }

    #[test]
    fn presented_key_is_the_one_x_api_key_value_else_empty() {
        let h = |pairs: &[(&str, &str)]| -> Vec<(String, Vec<u8>)> {
            pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
                .collect()
        };
        let one = h(&[("Accept", "x"), ("X-API-Key", KEY_A)]);
        assert_eq!(presented_key(&one), KEY_A.as_bytes());
        assert_eq!(presented_key(&h(&[("accept", "x")])), b"");
        let twice = h(&[("x-api-key", KEY_A), ("X-Api-Key", KEY_A)]);
        assert_eq!(presented_key(&twice), b"", "a repeated header is ambiguous");
    }
}
