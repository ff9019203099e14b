//! What comes back from Atlassian: the admin search page, the Confluence bulk answer, and the
//! `Retry-After` and `X-RateLimit-Reset` headers, on arbitrary bytes. None may panic; each keeps
//! its documented bounds.

#![no_main]

use std::time::Duration;

use identity_accessor::upstream::{admin, confluence, retry};
use libfuzzer_sys::fuzz_target;

/// Whether `body` is JSON once invalid UTF-8 is replaced. The parsers deliberately tolerate
/// invalid UTF-8 inside fields they skip (an otherwise usable Atlassian answer is not retried
/// for it); every string they return is decoded, hence valid.
fn is_json_modulo_utf8(body: &[u8]) -> bool {
    serde_json::from_str::<serde_json::Value>(&String::from_utf8_lossy(body)).is_ok()
}

/// The ids asked for: short, so the fuzzer finds them in rows.
fn chunk() -> Vec<String> {
    ["a", "b", "c"].map(String::from).to_vec()
}

/// What a parser kept obeys the filter's rule: only requested ids, a non-blank email, each id
/// once; `listed` holds requested ids only, each once, and every kept id.
fn check_kept(kept: &identity_accessor::upstream::Kept, chunk: &[String]) {
    let mut ids = std::collections::HashSet::new();
    for (id, email) in &kept.found {
        assert!(chunk.contains(id), "{id:?} not asked for");
        assert!(!email.trim().is_empty());
        assert!(ids.insert(id.as_str()), "{id:?} kept twice");
        assert!(kept.listed.contains(id));
    }
    let listed: std::collections::HashSet<&String> = kept.listed.iter().collect();
    assert_eq!(listed.len(), kept.listed.len(), "an id listed twice");
    assert!(kept.listed.iter().all(|id| chunk.contains(id)));
}

fuzz_target!(|data: &[u8]| {
    let Some((selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 4 {
        0 => {
            let chunk = chunk();
            if let Some((kept, _next)) = admin::parse_page(rest, &chunk) {
                assert!(is_json_modulo_utf8(rest));
                check_kept(&kept, &chunk);
            }
        }
        1 => {
            let chunk = chunk();
            if let Some((kept, _next)) = confluence::parse_bulk(rest, &chunk) {
                assert!(is_json_modulo_utf8(rest));
                check_kept(&kept, &chunk);
            }
        }
        2 => {
            // Eight bytes of "now" (any wall clock, even far future), then the header value.
            let (now, value) = rest.split_at(rest.len().min(8));
            let mut secs = [0u8; 8];
            secs[..now.len()].copy_from_slice(now);
            let now = Duration::from_secs(u64::from_le_bytes(secs));
            let value = String::from_utf8_lossy(value);
            if let Some(wait) = retry::parse_retry_after(&value, now) {
                assert!(wait <= retry::MAX_RETRY_AFTER, "{wait:?}");
            }
            if let Some(wait) = retry::parse_rate_limit_reset(&value, now) {
                assert!(
                    !wait.is_zero() && wait <= retry::MAX_RETRY_AFTER,
                    "{wait:?}"
                );
            }
            let trimmed = value.trim();
            if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
                assert!(retry::parse_retry_after(&value, now).is_some());
            }
        }
        _ => {
            // The backoff schedule and the status classes, on any input.
            let mut word = [0u8; 12];
            let n = rest.len().min(12);
            word[..n].copy_from_slice(&rest[..n]);
            let attempt = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            let random = u64::from_le_bytes(word[4..12].try_into().unwrap_or_default());
            let wait = retry::backoff(attempt, random);
            assert!(wait <= retry::BACKOFF_CAP, "{wait:?}");
            let _ = retry::classify(u16::from_le_bytes([word[0], word[1]]));
        }
    }
});
