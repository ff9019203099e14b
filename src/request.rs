//! The lookup request: checked once, at the door, as it is parsed.
//!
//! Limits, in the order they apply: the body is at most [`MAX_BODY_BYTES`] (checked while reading,
//! before parsing); it must be a JSON object whose `accountIds` field appears once and is an
//! array of strings; each id is 1 to [`MAX_ID_CHARS`] characters with no whitespace or control
//! characters; distinct ids are at most `max_account_ids`. What comes out is [`LookupRequest`],
//! which later code takes as proof that these rules hold.
//!
//! **Parsed as it is read, never held twice.** The body is walked once by serde visitors: no
//! value is built before it is checked. Each `accountIds` element is checked as it is met (a
//! string, then the id rules), borrowed from the body when it holds no escape; a duplicate is
//! dropped on the spot; the set of distinct ids is sized for at most `max_account_ids` entries
//! (fewer when the body cannot hold that many) and never grows past it: the id that would be one
//! too many ends the parse with `too_many_account_ids`. Unknown fields are skipped without
//! building anything. So the parser holds, besides the body, at most `max_account_ids` distinct
//! ids (each at most 512 bytes of UTF-8) whatever the body holds.
//!
//! **The first fault wins**, in the order the body is written: the parse stops at it, and the
//! rest of the body is not looked at. A body that is not UTF-8 is `invalid_json` first (checked
//! in one pass before parsing). A body with one fault gets the answer it always got; one with
//! several gets the answer for the first. (Before, the body was parsed whole first: a syntax
//! error anywhere, then a repeated key, then a wrong `includeUnresolved`, then the `accountIds`
//! elements in order, then the distinct count.)

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashSet;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

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

const NOT_JSON: &str = "The request body is not valid JSON.";
const NOT_OBJECT: &str = "The request body must be a JSON object with an accountIds array.";
const NOT_ARRAY: &str = "accountIds must be an array of strings.";
const REPEATED: &str = "The request body names accountIds or includeUnresolved more than once.";
const NOT_BOOL: &str = "includeUnresolved must be true or false.";

/// Where a visitor leaves the caller's fault before it stops the parse: serde errors carry
/// text only, and the answer needs the [`ApiError`].
type Fault = Cell<Option<ApiError>>;

/// Notes `error` as the request's fault and stops the parse.
fn refuse<T, E: de::Error>(fault: &Fault, error: ApiError) -> Result<T, E> {
    fault.set(Some(error));
    Err(E::custom("refused"))
}

/// Parses and checks a body already bounded to [`MAX_BODY_BYTES`], stopping at the first fault.
pub fn parse_lookup(body: &[u8], max_account_ids: usize) -> Result<LookupRequest, ApiError> {
    // JSON is UTF-8 (RFC 8259 §8.1). serde_json checks strings it decodes, not the ones it
    // skips: invalid UTF-8 in an ignored field would otherwise pass.
    let body = std::str::from_utf8(body).map_err(|_| ApiError::InvalidJson(NOT_JSON))?;
    let fault = Fault::default();
    // The shortest element, `"x"` and a comma, is 4 bytes: a body holds at most len/4 + 1 ids.
    let capacity = max_account_ids.min(body.len() / 4 + 1);
    let mut parser = serde_json::Deserializer::from_str(body);
    let visitor = BodyVisitor {
        fault: &fault,
        max: max_account_ids,
        capacity,
    };
    let parsed = parser
        .deserialize_map(visitor)
        .and_then(|parsed| parser.end().map(|()| parsed));
    match parsed {
        Ok(Parsed {
            ids: Some(ids),
            include_unresolved,
        }) => Ok(LookupRequest {
            ids: ids.ids,
            requested: ids.requested,
            include_unresolved: include_unresolved.unwrap_or(false),
        }),
        Ok(Parsed { ids: None, .. }) => Err(ApiError::InvalidJson(NOT_ARRAY)),
        // A visitor's refusal; else serde_json's own: the wrong type at the top (every value
        // below it is taken by a visitor that accepts any type), or not JSON at all.
        Err(e) => Err(fault
            .take()
            .unwrap_or(ApiError::InvalidJson(if e.is_data() {
                NOT_OBJECT
            } else {
                NOT_JSON
            }))),
    }
}

/// What the top-level object gave.
struct Parsed {
    ids: Option<CheckedIds>,
    include_unresolved: Option<bool>,
}

/// `accountIds`, checked: distinct ids in first-appearance order, and how many were sent.
struct CheckedIds {
    ids: Vec<String>,
    requested: usize,
}

/// The top level: an object; `accountIds` and `includeUnresolved` each at most once, every other
/// field skipped unread.
struct BodyVisitor<'f> {
    fault: &'f Fault,
    max: usize,
    capacity: usize,
}

impl<'de> Visitor<'de> for BodyVisitor<'_> {
    type Value = Parsed;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Parsed, A::Error> {
        let mut parsed = Parsed {
            ids: None,
            include_unresolved: None,
        };
        let mut flag_seen = false;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::AccountIds if parsed.ids.is_some() => {
                    return refuse(self.fault, ApiError::InvalidJson(REPEATED))
                }
                Key::IncludeUnresolved if flag_seen => {
                    return refuse(self.fault, ApiError::InvalidJson(REPEATED))
                }
                Key::AccountIds => {
                    parsed.ids = Some(map.next_value_seed(IdsVisitor {
                        fault: self.fault,
                        max: self.max,
                        capacity: self.capacity,
                    })?);
                }
                Key::IncludeUnresolved => {
                    flag_seen = true;
                    parsed.include_unresolved = map.next_value_seed(FlagVisitor(self.fault))?;
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(parsed)
    }
}

/// A field name, compared where it lies: never copied.
enum Key {
    AccountIds,
    IncludeUnresolved,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
                Ok(match name {
                    "accountIds" => Key::AccountIds,
                    "includeUnresolved" => Key::IncludeUnresolved,
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// `accountIds`: an array whose elements are checked one by one as they are parsed.
struct IdsVisitor<'f> {
    fault: &'f Fault,
    max: usize,
    capacity: usize,
}

impl<'de> DeserializeSeed<'de> for IdsVisitor<'_> {
    type Value = CheckedIds;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<CheckedIds, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for IdsVisitor<'_> {
    type Value = CheckedIds;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of strings")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<CheckedIds, A::Error> {
        // Borrowed from the body unless the id holds an escape; one owned copy per distinct id.
        let mut seen: HashSet<Cow<'de, str>> = HashSet::with_capacity(self.capacity);
        let mut ids: Vec<String> = Vec::with_capacity(self.capacity);
        let mut index = 0;
        while let Some(id) = seq.next_element_seed(IdVisitor(self.fault))? {
            if let Err(reason) = check_id(&id) {
                return refuse(self.fault, ApiError::InvalidAccountId { index, reason });
            }
            if !seen.contains(id.as_ref()) {
                if ids.len() == self.max {
                    return refuse(self.fault, ApiError::TooManyAccountIds { max: self.max });
                }
                ids.push(id.to_string());
                seen.insert(id);
            }
            index += 1;
        }
        Ok(CheckedIds {
            ids,
            requested: index,
        })
    }

    // Anything but an array.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<CheckedIds, E> {
        refuse(self.fault, ApiError::InvalidJson(NOT_ARRAY))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<CheckedIds, E> {
        refuse(self.fault, ApiError::InvalidJson(NOT_ARRAY))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<CheckedIds, E> {
        refuse(self.fault, ApiError::InvalidJson(NOT_ARRAY))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<CheckedIds, E> {
        refuse(self.fault, ApiError::InvalidJson(NOT_ARRAY))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<CheckedIds, E> {
        refuse(self.fault, ApiError::InvalidJson(NOT_ARRAY))
    }
    fn visit_unit<E: de::Error>(self) -> Result<CheckedIds, E> {
        refuse(self.fault, ApiError::InvalidJson(NOT_ARRAY))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<CheckedIds, A::Error> {
        refuse(self.fault, ApiError::InvalidJson(NOT_ARRAY))
    }
}

/// One `accountIds` element: a string, borrowed when it holds no escape; anything else is
/// refused where it stands, unread.
struct IdVisitor<'f>(&'f Fault);

impl<'de> DeserializeSeed<'de> for IdVisitor<'_> {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for IdVisitor<'_> {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, id: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(id))
    }
    fn visit_str<E: de::Error>(self, id: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(id.to_string()))
    }

    // Anything but a string.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        refuse(self.0, ApiError::InvalidJson(NOT_ARRAY))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        refuse(self.0, ApiError::InvalidJson(NOT_ARRAY))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        refuse(self.0, ApiError::InvalidJson(NOT_ARRAY))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        refuse(self.0, ApiError::InvalidJson(NOT_ARRAY))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        refuse(self.0, ApiError::InvalidJson(NOT_ARRAY))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        refuse(self.0, ApiError::InvalidJson(NOT_ARRAY))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        refuse(self.0, ApiError::InvalidJson(NOT_ARRAY))
    }
}

/// `includeUnresolved`: `true`, `false` or `null` (false); anything else is refused unread.
struct FlagVisitor<'f>(&'f Fault);

impl<'de> DeserializeSeed<'de> for FlagVisitor<'_> {
    type Value = Option<bool>;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<bool>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for FlagVisitor<'_> {
    type Value = Option<bool>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("true, false or null")
    }

    fn visit_bool<E: de::Error>(self, flag: bool) -> Result<Option<bool>, E> {
        Ok(Some(flag))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<bool>, E> {
        Ok(None)
    }

    // Anything else.
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Option<bool>, E> {
        refuse(self.0, ApiError::InvalidJson(NOT_BOOL))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Option<bool>, E> {
        refuse(self.0, ApiError::InvalidJson(NOT_BOOL))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Option<bool>, E> {
        refuse(self.0, ApiError::InvalidJson(NOT_BOOL))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Option<bool>, E> {
        refuse(self.0, ApiError::InvalidJson(NOT_BOOL))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Option<bool>, A::Error> {
        refuse(self.0, ApiError::InvalidJson(NOT_BOOL))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Option<bool>, A::Error> {
        refuse(self.0, ApiError::InvalidJson(NOT_BOOL))
    }
}

/// Checks one account id. Ids are opaque (ATLASSIAN.md): only length and whitespace or control
/// characters are ruled out; everything else reaches Atlassian as an exact JSON string.
fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("is empty");
    }
    // Counted no further than one past the limit: a 1 MiB id costs no more than a 129-char one.
    if id.chars().nth(MAX_ID_CHARS).is_some() {
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
    fn escaped_and_plain_spellings_of_an_id_are_one_id() {
        let r = parse(r#"{"accountIds": ["ab", "a\u0062", "\u0061b", "c"]}"#).unwrap();
        assert_eq!(r.ids, vec!["ab", "c"]);
        assert_eq!(r.requested, 4);
    }

    #[test]
    fn include_unresolved_null_is_false() {
        let r = parse(r#"{"includeUnresolved": null, "accountIds": ["a"]}"#).unwrap();
        assert!(!r.include_unresolved);
        assert_eq!(
            parse(r#"{"includeUnresolved": true, "includeUnresolved": true, "accountIds": []}"#),
            Err(ApiError::InvalidJson(REPEATED))
        );
    }

    #[test]
    fn too_many_ids_stops_the_parse_at_the_first_id_past_the_limit() {
        // Three distinct ids, then the fourth: refused there, before the (broken) rest is read.
        let body = r#"{"accountIds": ["a", "b", "a", "c", "d", "not json"#;
        assert_eq!(
            parse_lookup(body.as_bytes(), 3),
            Err(ApiError::TooManyAccountIds { max: 3 })
        );
        // Exactly the limit, with duplicates after it, passes.
        let r = parse_lookup(br#"{"accountIds": ["a", "b", "c", "a", "c"]}"#, 3).unwrap();
        assert_eq!((r.ids.len(), r.requested), (3, 5));
    }

    /// The first fault in the order the body is written wins. Each case's second fault used to
    /// win (shown), when the body was parsed whole before any check.
    #[test]
    fn the_first_fault_in_the_body_wins() {
        let cases: [(&str, usize, ApiError); 6] = [
            // Was "not valid JSON" (the trailing garbage).
            (
                r#"{"accountIds": ["a b"]} x"#,
                10,
                ApiError::InvalidAccountId {
                    index: 0,
                    reason: "holds whitespace or control characters",
                },
            ),
            // Was "not valid JSON" (the body is cut short).
            (
                r#"{"accountIds": [1, "a"#,
                10,
                ApiError::InvalidJson(NOT_ARRAY),
            ),
            // Was REPEATED.
            (
                r#"{"accountIds": [1], "accountIds": []}"#,
                10,
                ApiError::InvalidJson(NOT_ARRAY),
            ),
            // Was NOT_BOOL.
            (
                r#"{"accountIds": [null], "includeUnresolved": 1}"#,
                10,
                ApiError::InvalidJson(NOT_ARRAY),
            ),
            // Was the invalid id at index 3.
            (
                r#"{"accountIds": ["a", "b", "c", ""]}"#,
                2,
                ApiError::TooManyAccountIds { max: 2 },
            ),
            // Unchanged: a fault before the ids still wins over them.
            (
                r#"{"includeUnresolved": "x", "accountIds": [1]}"#,
                10,
                ApiError::InvalidJson(NOT_BOOL),
            ),
        ];
        for (body, max, want) in cases {
            assert_eq!(parse_lookup(body.as_bytes(), max), Err(want), "{body}");
        }
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
