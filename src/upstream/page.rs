//! Reading an upstream page while filtering it: only the requested ids' rows are kept.
//!
//! Both sources answer with an object holding an array of user rows (`data`, `results`) and a
//! links object. A row is deserialized on its own, offered to a [`Filter`] and dropped, so a
//! page costs memory in proportion to the chunk asked for, not to the rows it holds: a 2 MiB
//! page of 700,000 `{}` rows is read without ever holding them (see `bench parse-memory`).
//!
//! What is accepted is exactly what `serde_json::from_slice` accepts for
//! `struct Page { rows: Vec<Row>, #[serde(default)] links: Option<L> }` with `#[derive(Deserialize)]`:
//! the object form or the positional array form, unknown fields skipped (invalid UTF-8 inside
//! them tolerated, as serde_json skips without decoding), a duplicate or missing rows field
//! rejected, every row (requested or not) a readable `Row`. The tests check this against that
//! struct.
//!
//! Hand-written on purpose: serde's own `Visitor`/`DeserializeSeed` over serde_json is how a
//! sequence is read element by element; no crate does it for us without buffering the page or
//! adding a second JSON parser whose grammar would differ from serde_json's.

use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor,
};
use serde::{Deserialize, Deserializer};

/// One user row as both sources give it; either field possibly absent or `null`.
#[derive(Deserialize)]
struct Row {
    #[serde(rename = "accountId", default)]
    account_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// What a page holds for the ids asked for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Kept {
    /// `(accountId, email)` for requested ids with a non-blank email, first occurrence of each
    /// id only, in page order.
    pub found: Vec<(String, String)>,
    /// The requested ids that appeared in a row at all (whatever their email, even none), each
    /// once, in page order.
    pub listed: Vec<String>,
}

/// Keeps the rows whose id was asked for in the chunk and whose email is not blank, first
/// occurrence of each id only; notes every requested id seen.
pub(crate) struct Filter<'c> {
    wanted: HashSet<&'c str>,
    kept_ids: HashSet<&'c str>,
    listed_ids: HashSet<&'c str>,
    kept: Kept,
}

impl<'c> Filter<'c> {
    /// A filter for the ids of `chunk`.
    pub(crate) fn new(chunk: &'c [String]) -> Filter<'c> {
        Filter {
            wanted: chunk.iter().map(String::as_str).collect(),
            kept_ids: HashSet::new(),
            listed_ids: HashSet::new(),
            kept: Kept::default(),
        }
    }

    /// Offers one row; keeps it only under the rule above.
    pub(crate) fn offer(&mut self, id: Option<String>, email: Option<String>) {
        let Some(id) = id else {
            return;
        };
        let Some(&wanted) = self.wanted.get(id.as_str()) else {
            return;
        };
        if self.listed_ids.insert(wanted) {
            self.kept.listed.push(id.clone());
        }
        let Some(email) = email else {
            return;
        };
        if email.trim().is_empty() || !self.kept_ids.insert(wanted) {
            return;
        }
        self.kept.found.push((id, email));
    }

    /// What was kept.
    pub(crate) fn finish(self) -> Kept {
        self.kept
    }
}

/// Parses `body` as a page whose rows are under `fields[0]` and whose links object (`L`) is
/// under `fields[1]`, filtering the rows through a [`Filter`] for `chunk` as they are read.
/// `None` when the body is not such a page.
pub(crate) fn parse<L: DeserializeOwned>(
    body: &[u8],
    chunk: &[String],
    name: &'static str,
    fields: &'static [&'static str; 2],
) -> Option<(Kept, Option<L>)> {
    let mut filter = Filter::new(chunk);
    let mut de = serde_json::Deserializer::from_slice(body);
    let links = de
        .deserialize_struct(
            name,
            fields,
            PageVisitor {
                filter: &mut filter,
                fields,
                links: PhantomData::<L>,
            },
        )
        .ok()?;
    de.end().ok()?;
    Some((filter.finish(), links))
}

/// The rows array, each row read, offered and dropped.
struct Rows<'f, 'c>(&'f mut Filter<'c>);

impl<'de> DeserializeSeed<'de> for Rows<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Rows<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(row) = seq.next_element::<Row>()? {
            self.0.offer(row.account_id, row.email);
        }
        Ok(())
    }
}

/// Which field of the page a key names.
enum Field {
    Rows,
    Links,
    Other,
}

/// A key of the page object, matched as `#[derive(Deserialize)]` matches field names.
struct Key(&'static [&'static str; 2]);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Field;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Field, D::Error> {
        deserializer.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_u64<E: de::Error>(self, index: u64) -> Result<Field, E> {
        Ok(match index {
            0 => Field::Rows,
            1 => Field::Links,
            _ => Field::Other,
        })
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Field, E> {
        self.visit_bytes(name.as_bytes())
    }

    fn visit_bytes<E: de::Error>(self, name: &[u8]) -> Result<Field, E> {
        Ok(if name == self.0[0].as_bytes() {
            Field::Rows
        } else if name == self.0[1].as_bytes() {
            Field::Links
        } else {
            Field::Other
        })
    }
}

/// The page itself: the rows through the filter, the links kept.
struct PageVisitor<'f, 'c, L> {
    filter: &'f mut Filter<'c>,
    fields: &'static [&'static str; 2],
    links: PhantomData<L>,
}

impl<'de, L: DeserializeOwned> Visitor<'de> for PageVisitor<'_, '_, L> {
    type Value = Option<L>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a page")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<L>, A::Error> {
        if seq.next_element_seed(Rows(self.filter))?.is_none() {
            return Err(de::Error::invalid_length(0, &"a page with 2 elements"));
        }
        Ok(seq.next_element::<Option<L>>()?.flatten())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<L>, A::Error> {
        let mut rows = false;
        let mut links: Option<Option<L>> = None;
        while let Some(key) = map.next_key_seed(Key(self.fields))? {
            match key {
                Field::Rows => {
                    if rows {
                        return Err(de::Error::duplicate_field(self.fields[0]));
                    }
                    map.next_value_seed(Rows(&mut *self.filter))?;
                    rows = true;
                }
                Field::Links => {
                    if links.is_some() {
                        return Err(de::Error::duplicate_field(self.fields[1]));
                    }
                    links = Some(map.next_value()?);
                }
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if !rows {
            return Err(de::Error::missing_field(self.fields[0]));
        }
        Ok(links.flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    fn chunk(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn keeps_only_requested_non_empty_first_seen() {
        let chunk = chunk(&["a", "b", "c", "d"]);
        let mut filter = Filter::new(&chunk);
        for (id, email) in [
            (s("a"), s("a@x.com")),
            (s("zz"), s("intruder@x.com")),
            (s("b"), s("")),
            (s("c"), s("  ")),
            (s("a"), s("second@x.com")),
            (None, s("orphan@x.com")),
            (s("c"), None),
            (s("b"), s("b@x.com")),
        ] {
            filter.offer(id, email);
        }
        let kept = filter.finish();
        assert_eq!(
            kept.found,
            vec![
                ("a".into(), "a@x.com".into()),
                ("b".into(), "b@x.com".into())
            ]
        );
        assert_eq!(kept.listed, chunk[..3].to_vec(), "d never appeared");
    }

    /// The page as it was read before rows were filtered as they arrive: the whole array
    /// collected, then filtered. The reference for what is accepted.
    #[derive(Deserialize)]
    struct Collected {
        data: Vec<Row>,
        #[serde(default)]
        links: Option<RefLinks>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct RefLinks {
        #[serde(default)]
        next: Option<String>,
    }

    fn reference(body: &[u8], chunk: &[String]) -> Option<(Kept, Option<Option<String>>)> {
        let page: Collected = serde_json::from_slice(body).ok()?;
        let mut filter = Filter::new(chunk);
        for row in page.data {
            filter.offer(row.account_id, row.email);
        }
        Some((filter.finish(), page.links.map(|l| l.next)))
    }

    fn streamed(body: &[u8], chunk: &[String]) -> Option<(Kept, Option<Option<String>>)> {
        let (kept, links) = parse::<RefLinks>(body, chunk, "Page", &["data", "links"])?;
        Some((kept, links.map(|l| l.next)))
    }

    #[test]
    fn accepts_exactly_what_the_collected_page_accepts() {
        let chunk = chunk(&["a", "b"]);
        let bodies: Vec<&[u8]> = vec![
            br#"{"data": [{"accountId": "a", "email": "a@x"}], "links": {"next": "n"}}"#,
            br#"{"links": null, "data": [{"accountId": "b", "email": "b@x", "x": [1, {"y": 2}]}]}"#,
            br#"{"data": [], "links": {}}"#,
            br#"{"data": []}"#,
            br#"{"data": [], "extra": "\u00e9", "links": {"next": null}}"#,
            br#"[[{"accountId": "a", "email": "a@x"}], {"next": "n"}]"#,
            br#"[[["a", "a@x"], ["b"]]]"#,
            br#"[[]]"#,
            br#"[]"#,
            br#"[[], null, 1]"#,
            br#"{"data": [], "data": []}"#,
            br#"{"data": [], "links": {}, "links": {}}"#,
            br#"{"links": {}}"#,
            br#"{"data": null}"#,
            br#"{"data": {}}"#,
            br#"{"data": [1]}"#,
            br#"{"data": [null]}"#,
            br#"{"data": [{"accountId": 5}]}"#,
            br#"{"data": [{"accountId": "zz", "email": 7}]}"#,
            br#"{"data": [{"accountId": "a", "accountId": "b"}]}"#,
            br#"{"data": [{}, {}, {"email": "o@x"}]}"#,
            br#"{"data": [], "links": {"next": 3}}"#,
            br#"{"data": [], "links": "x"}"#,
            br#"{"data": []} trailing"#,
            br#"{"data": [],}"#,
            b"{\"data\": [], \"skipped\": \"\xff\xfe\"}",
            b"{\"data\": [{\"accountId\": \"a\", \"email\": \"a@x\", \"name\": \"\xc3\x28\"}]}",
            b"{\"data\": [{\"accountId\": \"zz\", \"email\": \"\xff\"}]}",
            b"{\"data\": [{\"accountId\": \"a\", \"email\": \"\xff\"}]}",
            b"{\"\xff\": 1, \"data\": []}",
            b"",
            b"null",
            b"\xef\xbb\xbf{\"data\": []}",
        ];
        for body in bodies {
            assert_eq!(
                streamed(body, &chunk),
                reference(body, &chunk),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        // Deep nesting: in a skipped field, in a row, and as the rows themselves.
        for deep in [
            format!(
                r#"{{"data": [], "x": {}{}}}"#,
                "[".repeat(200),
                "]".repeat(200)
            ),
            format!(
                r#"{{"data": [{{"x": {}{}}}]}}"#,
                "[".repeat(200),
                "]".repeat(200)
            ),
            format!(r#"{{"data": [{}{}]}}"#, "[".repeat(200), "]".repeat(200)),
        ] {
            assert_eq!(
                streamed(deep.as_bytes(), &chunk),
                reference(deep.as_bytes(), &chunk)
            );
        }
    }

    #[test]
    fn a_page_of_many_unrequested_and_empty_rows_yields_only_the_requested_pairs() {
        let chunk = chunk(&["a", "b", "c"]);
        let mut body = String::from(r#"{"data": ["#);
        for i in 0..50_000 {
            match i % 5 {
                0 => body.push_str("{},"),
                1 => body.push_str(&format!(r#"{{"accountId": "u{i}", "email": "u{i}@x"}},"#)),
                2 => body.push_str(r#"{"accountId": "a", "email": ""},"#),
                3 => body.push_str(r#"{"accountId": "b"},"#),
                _ => body.push_str(r#"{"email": "orphan@x"},"#),
            }
        }
        body.push_str(
            r#"{"accountId": "c", "email": "c@x"}, {"accountId": "c", "email": "c2@x"}]}"#,
        );
        let (kept, links) = streamed(body.as_bytes(), &chunk).unwrap();
        assert_eq!(kept.found, vec![("c".into(), "c@x".into())]);
        assert_eq!(kept.listed, vec!["a".to_string(), "b".into(), "c".into()]);
        assert_eq!(links, None);
        assert_eq!(Some((kept, links)), reference(body.as_bytes(), &chunk));
    }
}
