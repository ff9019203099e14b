//! The hostile request bodies of the memory measurements: each at most 1 MiB (the component's
//! `MAX_BODY_BYTES`), each built to make one part of the request parser hold as much as it can,
//! with the answer the contract gives it. `bench parse-memory` and `bench memory-cap` measure
//! them; the end-to-end test `tests/e2e/memory.rs` includes this file (`#[path]`) and checks the
//! same bodies under a cap, so what is measured is what is tested.

use identity_accessor::request::{MAX_BODY_BYTES, MAX_ID_CHARS};

/// One hostile body and its documented answer.
pub struct Hostile {
    /// A short name for tables.
    pub name: &'static str,
    /// The body: at most [`MAX_BODY_BYTES`].
    pub body: Vec<u8>,
    /// The status it must get.
    pub status: u16,
    /// The `error` code it must get (`None` for a `200`).
    pub code: Option<&'static str>,
}

/// `{"accountIds":[` + as many `element`s (comma-separated) as fit + `tail` + `]}`.
fn fill(element: impl Fn(usize) -> String, tail: &str) -> Vec<u8> {
    let head = "{\"accountIds\":[";
    let end = "]}";
    let mut body = String::with_capacity(MAX_BODY_BYTES);
    body.push_str(head);
    let mut i = 0;
    loop {
        let next = element(i);
        let sep = usize::from(i > 0);
        let tail_len = if tail.is_empty() { 0 } else { tail.len() + 1 };
        if body.len() + sep + next.len() + tail_len + end.len() > MAX_BODY_BYTES {
            break;
        }
        if sep == 1 {
            body.push(',');
        }
        body.push_str(&next);
        i += 1;
    }
    if !tail.is_empty() {
        body.push(',');
        body.push_str(tail);
    }
    body.push_str(end);
    body.into_bytes()
}

/// The `i`-th id of `len` characters from a 62-letter alphabet (distinct for distinct `i`
/// below 62^len).
fn distinct_id(mut i: usize, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut id = vec![b'A'; len];
    for slot in id.iter_mut().rev() {
        *slot = ALPHABET[i % ALPHABET.len()];
        i /= ALPHABET.len();
    }
    String::from_utf8(id).unwrap_or_default()
}

/// A 128-character id, distinct for each `i` (the most the contract accepts).
fn long_id(i: usize) -> String {
    format!("{:0>width$}", i, width = MAX_ID_CHARS)
}

/// The hostile bodies, for a component whose `max_account_ids` is `max_ids` (the default 1000).
pub fn bodies(max_ids: usize) -> Vec<Hostile> {
    let huge_id = format!(
        "{{\"accountIds\":[\"{}\"]}}",
        "a".repeat(MAX_BODY_BYTES - 20)
    );
    let deep = format!(
        "{{\"accountIds\":{}",
        "[".repeat(MAX_BODY_BYTES - "{\"accountIds\":".len())
    );
    // An unknown field is skipped without being built, but serde_json's skipper keeps one byte
    // per open bracket: the deepest skip the body allows.
    let skipped_levels = (MAX_BODY_BYTES - r#"{"x":,"accountIds":[]}"#.len()) / 2;
    let deep_skipped = format!(
        r#"{{"x":{}{},"accountIds":[]}}"#,
        "[".repeat(skipped_levels),
        "]".repeat(skipped_levels)
    );
    let deep_skipped_open = format!(r#"{{"x":{}"#, "[".repeat(MAX_BODY_BYTES - r#"{"x":"#.len()));
    vec![
        Hostile {
            // 524,280 elements, each one refused: the first decides.
            name: "[0,0,…]",
            body: fill(|_| "0".into(), ""),
            status: 400,
            code: Some("invalid_json"),
        },
        Hostile {
            // 174,761 distinct 3-character ids: the distinct count passes max_account_ids.
            name: "3-char distinct",
            body: fill(|i| format!("\"{}\"", distinct_id(i, 3)), ""),
            status: 400,
            code: Some("too_many_account_ids"),
        },
        Hostile {
            // Distinct ids written with \u escapes: each decodes into a fresh string.
            name: "escaped distinct",
            body: fill(
                |i| {
                    let id = distinct_id(i, 3);
                    let escaped: String =
                        id.chars().map(|c| format!("\\u{:04x}", c as u32)).collect();
                    format!("\"{escaped}\"")
                },
                "",
            ),
            status: 400,
            code: Some("too_many_account_ids"),
        },
        Hostile {
            // Distinct ids of the longest accepted length.
            name: "128-char distinct",
            body: fill(|i| format!("\"{}\"", long_id(i)), ""),
            status: 400,
            code: Some("too_many_account_ids"),
        },
        Hostile {
            // max_account_ids distinct 128-character ids, repeated until the body is full, then
            // one element that is not a string: refused only at the very end.
            name: "max ids, then 1",
            body: fill(|i| format!("\"{}\"", long_id(i % max_ids)), "1"),
            status: 400,
            code: Some("invalid_json"),
        },
        Hostile {
            // One id of almost 1 MiB.
            name: "one 1 MiB id",
            body: huge_id.into_bytes(),
            status: 400,
            code: Some("invalid_account_id"),
        },
        Hostile {
            // 1 MiB of opening brackets where the ids belong.
            name: "deep nesting",
            body: deep.into_bytes(),
            status: 400,
            code: Some("invalid_json"),
        },
        Hostile {
            // An unknown field nested half a million deep, closed: valid, no ids.
            name: "deep unknown field",
            body: deep_skipped.into_bytes(),
            status: 200,
            code: None,
        },
        Hostile {
            // An unknown field of 1 MiB of opening brackets, never closed.
            name: "deep unknown, open",
            body: deep_skipped_open.into_bytes(),
            status: 400,
            code: Some("invalid_json"),
        },
        Hostile {
            // A valid body: one 3-character id 174,761 times.
            name: "one id repeated",
            body: fill(|_| "\"abc\"".into(), ""),
            status: 200,
            code: None,
        },
        Hostile {
            // A valid body: max_account_ids distinct 128-character ids, repeated to 1 MiB; the
            // largest lookup the contract accepts, with its upstream calls.
            name: "max ids repeated",
            body: fill(|i| format!("\"{}\"", long_id(i % max_ids)), ""),
            status: 200,
            code: None,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_fit_the_limit_and_are_what_they_say() {
        let all = bodies(1000);
        for h in &all {
            assert!(h.body.len() <= MAX_BODY_BYTES, "{}", h.name);
            assert!(
                h.body.len() > MAX_BODY_BYTES - 200,
                "{} is not full",
                h.name
            );
        }
        let zeros: serde_json::Value = serde_json::from_slice(&all[0].body).unwrap();
        assert_eq!(zeros["accountIds"].as_array().map(Vec::len), Some(524_280));
        let short: serde_json::Value = serde_json::from_slice(&all[1].body).unwrap();
        let ids = short["accountIds"].as_array().unwrap();
        let distinct: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        assert!(ids.len() > 170_000);
        let escaped: serde_json::Value = serde_json::from_slice(&all[2].body).unwrap();
        assert_eq!(escaped["accountIds"][1], "AAB");
    }
}
