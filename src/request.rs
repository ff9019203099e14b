//! The lookup request: checked once, at the door.
//!
//! Limits, in the order they apply: the body is at most [`MAX_BODY_BYTES`] (checked while reading,
//! before parsing); it must be a JSON object whose `accountIds` field appears once and is an
//! array of strings; each id is 1 to [`MAX_ID_CHARS`] characters with no whitespace or control
//! characters; distinct ids are at most `max_account_ids`. What comes out is [`LookupRequest`],
//! which later code takes as proof that these rules hold.

use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::error::ApiError;

/// The largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The longest account id accepted, in characters.
pub const MAX_ID_CHARS: usize = 128;

/// A checked lookup request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupRequest {
    /// Distinct ids in the order they first appear.
    pub ids: Vec<String>,
    /// How many ids the caller sent, duplicates included.
    pub requested: usize,
    /// Whether unresolved ids appear in the answer with a `null` email.
    pub include_unresolved: bool,
}

/// Whether a `Content-Type` value is acceptable: absent or `application/json`, parameters allowed.
pub fn is_json_content_type(value: Option<&[u8]>) -> bool {
    let Some(value) = value else { return true };
    let Ok(value) = std::str::from_utf8(value) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

/// Whether every `Content-Encoding` value (all header lines, comma-separated codings) is
/// `identity`, or there is none: the body is read as sent, never decoded, so any other coding
/// (`gzip`, `br`, ...) is refused with `415` before the body is read (RFC 9110 §8.4, §15.5.16).
pub fn is_identity_content_encoding<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> bool {
    values.into_iter().all(|value| {
        std::str::from_utf8(value).is_ok_and(|value| {
            value
                .split(',')
                .map(str::trim)
                .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case("identity"))
        })
    })
}

/// The raw body: `accountIds` kept as untyped JSON so its shape can be reported precisely;
/// other fields are skipped; a repeated `accountIds` is remembered, not silently overwritten.
#[derive(Default)]
struct RawBody {
    account_ids: Option<serde_json::Value>,
    include_unresolved: Option<serde_json::Value>,
    repeated: bool,
}

impl<'de> Deserialize<'de> for RawBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RawVisitor;
        impl<'de> Visitor<'de> for RawVisitor {
            type Value = RawBody;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawBody, A::Error> {
                let mut raw = RawBody::default();
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let slot = match key.as_ref() {
                        "accountIds" => &mut raw.account_ids,
                        "includeUnresolved" => &mut raw.include_unresolved,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if slot.is_some() {
                        raw.repeated = true;
                        map.next_value::<IgnoredAny>()?;
                    } else {
                        *slot = Some(map.next_value()?);
                    }
                }
                Ok(raw)
            }
        }
        deserializer.deserialize_map(RawVisitor)
    }
}

const NOT_JSON: &str = "The request body is not valid JSON.";
const NOT_OBJECT: &str = "The request body must be a JSON object with an accountIds array.";
const NOT_ARRAY: &str = "accountIds must be an array of strings.";
const REPEATED: &str = "The request body names accountIds or includeUnresolved more than once.";
const NOT_BOOL: &str = "includeUnresolved must be true or false.";

/// Parses and checks a body already bounded to [`MAX_BODY_BYTES`].
pub fn parse_lookup(body: &[u8], max_account_ids: usize) -> Result<LookupRequest, ApiError> {
    // JSON is UTF-8 (RFC 8259 §8.1). serde_json checks strings it decodes, not the ones it
    // skips: invalid UTF-8 in an ignored field would otherwise pass.
    let body = std::str::from_utf8(body).map_err(|_| ApiError::InvalidJson(NOT_JSON))?;
    let raw: RawBody = serde_json::from_str(body)
        .map_err(|e| ApiError::InvalidJson(if e.is_data() { NOT_OBJECT } else { NOT_JSON }))?;
    if raw.repeated {
        return Err(ApiError::InvalidJson(REPEATED));
    }
    let include_unresolved = match raw.include_unresolved {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => b,
        Some(_) => return Err(ApiError::InvalidJson(NOT_BOOL)),
    };
    let items = match raw.account_ids {
        Some(serde_json::Value::Array(items)) => items,
        _ => return Err(ApiError::InvalidJson(NOT_ARRAY)),
    };

    let requested = items.len();
    let mut seen = HashSet::with_capacity(items.len());
    let mut ids = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let serde_json::Value::String(id) = item else {
            return Err(ApiError::InvalidJson(NOT_ARRAY));
        };
        check_id(&id).map_err(|reason| ApiError::InvalidAccountId { index, reason })?;
        if seen.insert(id.clone()) {
            ids.push(id);
        }
    }
    if ids.len() > max_account_ids {
        return Err(ApiError::TooManyAccountIds {
            max: max_account_ids,
        });
    }
    Ok(LookupRequest {
        ids,
        requested,
        include_unresolved,
    })
}

/// Checks one account id. Ids are opaque (ATLASSIAN.md): only length and whitespace or control
/// characters are ruled out; everything else reaches Atlassian as an exact JSON string.
fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("is empty");
    }
    if id.chars().count() > MAX_ID_CHARS {
        return Err("is longer than 128 characters");
    }
    if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("holds whitespace or control characters");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> Result<LookupRequest, ApiError> {
        parse_lookup(body.as_bytes(), 1000)
    }

    #[test]
    fn dedups_keeping_first_order() {
        let r = parse(r#"{"accountIds": ["b", "a", "b", "c", "a"]}"#).unwrap();
        assert_eq!(r.ids, vec!["b", "a", "c"]);
        assert_eq!(r.requested, 5);
        assert!(!r.include_unresolved);
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let r = parse(r#"{"x": {"deep": [1,2]}, "accountIds": ["a"], "includeUnresolved": true}"#)
            .unwrap();
        assert_eq!(r.ids, vec!["a"]);
        assert!(r.include_unresolved);
    }

    #[test]
    fn rejects_non_json() {
        assert_eq!(parse("not json"), Err(ApiError::InvalidJson(NOT_JSON)));
        assert_eq!(
            parse(r#"{"accountIds": ["a"]"#),
            Err(ApiError::InvalidJson(NOT_JSON))
        );
        assert_eq!(
            parse_lookup(b"{\"accountIds\": [\"\xff\"]}", 10),
            Err(ApiError::InvalidJson(NOT_JSON))
        );
        assert_eq!(
            parse_lookup(b"{\"x\": \"\xba\", \"accountIds\": [\"b\"]}", 10),
            Err(ApiError::InvalidJson(NOT_JSON)),
            "invalid UTF-8 in an ignored field"
        );
    }

    #[test]
    fn rejects_wrong_shapes() {
        assert_eq!(parse("[]"), Err(ApiError::InvalidJson(NOT_OBJECT)));
        assert_eq!(parse("{}"), Err(ApiError::InvalidJson(NOT_ARRAY)));
        assert_eq!(
            parse(r#"{"accountIds": "a"}"#),
            Err(ApiError::InvalidJson(NOT_ARRAY))
        );
        assert_eq!(
            parse(r#"{"accountIds": [1]}"#),
            Err(ApiError::InvalidJson(NOT_ARRAY))
        );
        assert_eq!(
            parse(r#"{"accountIds": [null]}"#),
            Err(ApiError::InvalidJson(NOT_ARRAY))
        );
        assert_eq!(
            parse(r#"{"accountIds": [{"a":1}]}"#),
            Err(ApiError::InvalidJson(NOT_ARRAY))
        );
        assert_eq!(
            parse(r#"{"accountIds": null}"#),
            Err(ApiError::InvalidJson(NOT_ARRAY))
        );
        assert_eq!(
            parse(r#"{"accountIds": [], "includeUnresolved": "yes"}"#),
            Err(ApiError::InvalidJson(NOT_BOOL))
        );
    }

    #[test]
    fn rejects_repeated_account_ids_key() {
        assert_eq!(
            parse(r#"{"accountIds": ["a"], "accountIds": ["b"]}"#),
            Err(ApiError::InvalidJson(REPEATED))
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{{\"x\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        // Skipped fields are walked without recursion; the body is valid JSON without ids.
        assert_eq!(parse(&deep), Err(ApiError::InvalidJson(NOT_ARRAY)));
        let deep_ids = format!(
            "{{\"accountIds\": {}{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(parse(&deep_ids).is_err());
    }

    #[test]
    fn rejects_bad_ids_with_their_index() {
        let cases = [
            (r#"{"accountIds": ["ok", ""]}"#, 1, "is empty"),
            (
                r#"{"accountIds": ["a b"]}"#,
                0,
                "holds whitespace or control characters",
            ),
            (
                r#"{"accountIds": ["a", "b", "x\ny"]}"#,
                2,
                "holds whitespace or control characters",
            ),
            (
                r#"{"accountIds": ["\u0000"]}"#,
                0,
                "holds whitespace or control characters",
            ),
            (
                r#"{"accountIds": ["a\u00a0b"]}"#,
                0,
                "holds whitespace or control characters",
            ),
        ];
        for (body, index, reason) in cases {
            assert_eq!(
                parse(body),
                Err(ApiError::InvalidAccountId { index, reason }),
                "{body}"
            );
        }
    }

    #[test]
    fn id_length_is_counted_in_characters() {
        let ok = "é".repeat(128);
        assert!(parse(&format!(r#"{{"accountIds": ["{ok}"]}}"#)).is_ok());
        let long = "a".repeat(129);
        assert_eq!(
            parse(&format!(r#"{{"accountIds": ["{long}"]}}"#)),
            Err(ApiError::InvalidAccountId {
                index: 0,
                reason: "is longer than 128 characters"
            })
        );
    }

    #[test]
    fn odd_but_valid_ids_pass_unchanged() {
        let body = r#"{"accountIds": ["a&b", "a/b", "..", "%2F", "a?b", "q\"uote", "ünï", "\u200fx", "qm:1:2"]}"#;
        let r = parse(body).unwrap();
        assert_eq!(
            r.ids,
            vec![
                "a&b",
                "a/b",
                "..",
                "%2F",
                "a?b",
                "q\"uote",
                "ünï",
                "\u{200f}x",
                "qm:1:2"
            ]
        );
    }

    #[test]
    fn counts_distinct_ids_against_the_limit() {
        let ids: Vec<String> = (0..4).map(|i| format!("\"id{i}\"")).collect();
        let body = format!(r#"{{"accountIds": [{}, "id0", "id1"]}}"#, ids.join(","));
        assert!(parse_lookup(body.as_bytes(), 4).is_ok());
        assert_eq!(
            parse_lookup(body.as_bytes(), 3),
            Err(ApiError::TooManyAccountIds { max: 3 })
        );
    }

    #[test]
    fn content_type_rules() {
        assert!(is_json_content_type(None));
        assert!(is_json_content_type(Some(b"application/json")));
        assert!(is_json_content_type(Some(
            b"Application/JSON; charset=utf-8"
        )));
        assert!(!is_json_content_type(Some(b"text/plain")));
        assert!(!is_json_content_type(Some(b"application/jsonx")));
        assert!(!is_json_content_type(Some(
            b"application/x-www-form-urlencoded"
        )));
        assert!(!is_json_content_type(Some(b"\xff")));
    }

    #[test]
    fn only_the_identity_content_coding_is_accepted() {
        let none: [&[u8]; 0] = [];
        assert!(is_identity_content_encoding(none));
        for ok in [&b"identity"[..], b"IDENTITY", b" identity , identity", b""] {
            assert!(is_identity_content_encoding([ok]), "{ok:?}");
        }
        for refused in [
            &b"gzip"[..],
            b"x-gzip",
            b"deflate",
            b"br",
            b"zstd",
            b"identity, gzip",
            b"gzip, identity",
            b"identityx",
            b"\xff",
        ] {
            assert!(!is_identity_content_encoding([refused]), "{refused:?}");
        }
        assert!(!is_identity_content_encoding([&b"identity"[..], b"gzip"]));
    }
}
