//! Caller keys: `auth::ApiKeys::parse` on arbitrary `api_key` values and `verify` on arbitrary
//! presented keys, against a model written independently from the module's docs.

#![no_main]

use identity_accessor::auth::{
    ApiKeys, KeyConfigError, MAX_KEYS, MAX_PRESENTED_KEY_LEN, MIN_GUESSES_LOG10, MIN_KEY_LEN,
};
use identity_accessor::strength;
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

/// The documented rule for a plain key: printable ASCII but `,` (whitespace already split it),
/// at least 20 characters, and at least 10^16 guesses by the strength estimate (the estimate
/// itself is checked against the `zxcvbn` crate by `strength`'s tests; here, that `parse`
/// applies it to every plain entry and nothing else).
fn passes(key: &str) -> bool {
    key.bytes().all(|b| b.is_ascii_graphic() && b != b',')
        && key.len() >= MIN_KEY_LEN
        && strength::guesses_log10(key) >= MIN_GUESSES_LOG10
}

/// The model: the accepted digests, or why the value is refused.
fn model(value: &str) -> Result<Vec<[u8; 32]>, KeyConfigError> {
    let mut digests: Vec<[u8; 32]> = Vec::new();
    for entry in value.split(|c: char| c == ',' || c.is_whitespace()) {
        if entry.is_empty() {
            continue;
        }
        let digest = if let Some(hex) = entry.strip_prefix("sha256:") {
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(KeyConfigError::BadDigest);
            }
            let mut d = [0u8; 32];
            for (i, b) in d.iter_mut().enumerate() {
                *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
            }
            d
        } else if !passes(entry) {
            return Err(KeyConfigError::Weak);
        } else {
            Sha256::digest(entry.as_bytes()).into()
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
    Ok(digests)
}

fuzz_target!(|data: &[u8]| {
    // `configured` NUL `presented`; without a NUL the presented key is the configured value.
    let (configured, presented) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, data),
    };
    let configured = String::from_utf8_lossy(configured);
    let parsed = ApiKeys::parse(&configured);
    let expected = model(&configured);
    match (&parsed, &expected) {
        (Ok(keys), Ok(digests)) => {
            assert_eq!(keys.len(), digests.len());
            assert!(!keys.is_empty());
            let should = !presented.is_empty()
                && presented.len() <= MAX_PRESENTED_KEY_LEN
                && digests.contains(&Sha256::digest(presented).into());
            assert_eq!(keys.verify(presented), should);
            assert!(!keys.verify(b""), "an empty key never matches");
            // Every plain entry of the configuration is accepted as presented.
            for entry in configured.split(|c: char| c == ',' || c.is_whitespace()) {
                if !entry.is_empty()
                    && !entry.starts_with("sha256:")
                    && entry.len() <= MAX_PRESENTED_KEY_LEN
                {
                    assert!(keys.verify(entry.as_bytes()));
                }
            }
            // Debug never shows a configured entry.
            let debug = format!("{keys:?}");
            assert!(!debug.contains(configured.trim()) || configured.trim().len() < 4);
        }
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("parse {parsed:?} but the model says {expected:?}"),
    }
});
