//! The door: `request::parse_lookup` on arbitrary bytes and limits. Checks the invariants the
//! rest of the component relies on (`LookupRequest` is proof of them) and that every refusal
//! is a clean `400` with the `{"error","message"}` body.

#![no_main]

use std::collections::HashSet;

use identity_accessor::request::{parse_lookup, MAX_ID_CHARS};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the limit: small ones reach too_many_account_ids, else the default.
    let (max, body) = match data.split_first() {
        Some((b, rest)) if b & 0x80 == 0 => (1 + usize::from(b & 0x0f), rest),
        Some((_, rest)) => (1000, rest),
        None => (1000, data),
    };
    match parse_lookup(body, max) {
        Ok(r) => {
            assert!(r.ids.len() <= max, "over the limit");
            assert!(r.requested >= r.ids.len());
            let mut seen = HashSet::new();
            for id in &r.ids {
                assert!(seen.insert(id), "ids are distinct");
                let chars = id.chars().count();
                assert!((1..=MAX_ID_CHARS).contains(&chars), "id length {chars}");
                assert!(
                    !id.chars().any(|c| c.is_whitespace() || c.is_control()),
                    "id with whitespace or control characters"
                );
            }
            // What was accepted is JSON whose accountIds are exactly these ids, deduplicated.
            let json: Value = serde_json::from_slice(body).expect("accepted body is JSON");
            let items = json["accountIds"].as_array().expect("accountIds array");
            assert_eq!(items.len(), r.requested);
            let mut first = HashSet::new();
            let expected: Vec<&str> = items
                .iter()
                .map(|v| v.as_str().expect("string ids"))
                .filter(|s| first.insert(*s))
                .collect();
            assert_eq!(r.ids, expected);
        }
        Err(e) => {
            assert_eq!(e.status(), 400, "{e:?}");
            let response = e.to_response();
            let json: Value = serde_json::from_slice(&response.body).expect("error is JSON");
            let object = json.as_object().expect("error is an object");
            assert_eq!(object.len(), 2);
            assert_eq!(json["error"], e.code());
            let message = json["message"].as_str().expect("message");
            assert!(message.ends_with('.') && !message.contains('@'));
        }
    }
});
