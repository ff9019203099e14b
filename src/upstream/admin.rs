//! The admin source: the organization admin API — managed accounts, whatever their visibility.
//!
//! `POST {atlassian_api_url}/admin/v2/orgs/{orgId}/directories/-/users/search` with
//! `Authorization: Bearer <org admin API key>` and `{"accountIds": [...], "limit": 100}`.
//!
//! Atlassian's published spec for this call (`searchDirectoryUsers`) allows at most
//! [`MAX_ACCOUNT_IDS`] (10) ids a call, so a chunk holds at most 10 ids and the admin source is
//! the expensive one: `email_sources=auto` asks it last, only for ids the Confluence source left
//! unresolved. We ask for the largest page, [`MAX_LIMIT`], so one call answers a chunk even
//! when an account shows up in several directories; `links.next` is still followed every time
//! until absent (pagination naming is inconsistent across admin endpoints, so a `next` that is
//! a URL has its `cursor` parameter taken). A repeated cursor or more than [`MAX_PAGES`] pages
//! is an upstream error, not a loop.
//!
//! No `claimStatus` is sent: the answer may then hold unmanaged accounts as well, usually
//! without an email. A row without a non-empty email resolves nothing, so the next source is
//! still asked for that id. Each page is filtered row by row while it is parsed: only the
//! requested ids' emails are kept, never the page's rows.

use serde::Deserialize;

use super::{json_headers, page, retry, CallContext, Kept, SourceKind, UpstreamError};
use crate::auth::Secret;
use crate::platform::{Method, OutboundRequest, OutboundResponse, TransportError};

/// The most `accountIds` one search accepts: `minItems 1, maxItems 10` in Atlassian's
/// Organizations REST API spec (`swagger.v3.json`, `searchDirectoryUsers`, Aug 2026); more is a
/// `400`. The admin source's chunk size.
pub const MAX_ACCOUNT_IDS: usize = 10;
/// The largest page `limit` one search accepts: integer `1` to `100` (default 50) in the same
/// spec (the July 2026 copy allowed 200). The `limit` we send.
pub const MAX_LIMIT: u32 = 100;
/// The most pages followed for one chunk.
pub const MAX_PAGES: usize = 20;

/// The admin source's settings.
#[derive(Debug, Clone)]
pub struct AdminSource {
    url: String,
    api_key: Secret,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    next: Option<String>,
}

/// The cursor in a `links.next` value: the value itself, or its `cursor` query parameter when
/// it is a URL.
fn cursor_of(next: &str) -> Option<String> {
    let next = next.trim();
    if next.is_empty() {
        return None;
    }
    if let Some((_, query)) = next.split_once('?') {
        for pair in query.split('&') {
            if let Some(value) = pair.strip_prefix("cursor=") {
                return Some(
                    percent_encoding::percent_decode_str(value)
                        .decode_utf8_lossy()
                        .into_owned(),
                );
            }
        }
    }
    Some(next.to_string())
}

/// Parses one page of the admin search: what it holds for the ids of `chunk` (their
/// `(accountId, email)` pairs with a non-blank email, first occurrence of each), and the next
/// cursor. The page's rows are filtered as they are read, never collected. `None` when the
/// body is not a page (the retry policy treats that as a transient fault).
pub fn parse_page(body: &[u8], chunk: &[String]) -> Option<(Kept, Option<String>)> {
    let (kept, links) = page::parse::<Links>(body, chunk, "Page", &["data", "links"])?;
    let next = links.and_then(|l| l.next).and_then(|n| cursor_of(&n));
    Some((kept, next))
}

impl AdminSource {
    /// A source for organization `org_id` (already checked to be path-safe) at `api_url`.
    pub fn new(api_url: &str, org_id: &str, api_key: Secret) -> AdminSource {
        AdminSource {
            url: format!("{api_url}/admin/v2/orgs/{org_id}/directories/-/users/search"),
            api_key,
        }
    }

    fn request(&self, chunk: &[String], cursor: Option<&str>) -> OutboundRequest {
        debug_assert!((1..=MAX_ACCOUNT_IDS).contains(&chunk.len()));
        let mut body = serde_json::json!({ "accountIds": chunk, "limit": MAX_LIMIT });
        if let Some(cursor) = cursor {
            body["cursor"] = cursor.into();
        }
        OutboundRequest {
            method: Method::Post,
            url: self.url.clone(),
            headers: json_headers(format!("Bearer {}", self.api_key.expose())),
            body: serde_json::to_vec(&body).unwrap_or_default(),
        }
    }

    /// The admin page's live check: one search with `{"limit": 1}` and no id filter, the
    /// smallest call that proves the org id and the key. One attempt ([`retry::call_once`]);
    /// the caller reads only the status, never the body.
    pub async fn check(&self, ctx: &CallContext<'_>) -> Result<OutboundResponse, TransportError> {
        let request = OutboundRequest {
            method: Method::Post,
            url: self.url.clone(),
            headers: json_headers(format!("Bearer {}", self.api_key.expose())),
            body: br#"{"limit":1}"#.to_vec(),
        };
        retry::call_once(ctx, request).await
    }

    /// Looks up one chunk of at most [`MAX_ACCOUNT_IDS`] ids, following pages; each page is
    /// filtered to the requested ids as it arrives.
    pub async fn lookup(
        &self,
        ctx: &CallContext<'_>,
        chunk: &[String],
    ) -> Result<Vec<(String, String)>, UpstreamError> {
        let mut found: Vec<(String, String)> = Vec::new();
        let mut cursors: Vec<String> = Vec::new();
        loop {
            let (users, next) = retry::call(
                ctx,
                SourceKind::Admin,
                || self.request(chunk, cursors.last().map(String::as_str)),
                |response: &OutboundResponse| parse_page(&response.body, chunk),
            )
            .await?;
            for (id, email) in users.found {
                if !found.iter().any(|(seen, _)| *seen == id) {
                    found.push((id, email));
                }
            }
            match next {
                None => break,
                Some(cursor) if cursors.contains(&cursor) => {
                    return Err(UpstreamError::Failed {
                        origin: SourceKind::Admin,
                        detail: "repeated a pagination cursor",
                    })
                }
                Some(_) if cursors.len() + 1 >= MAX_PAGES => {
                    return Err(UpstreamError::Failed {
                        origin: SourceKind::Admin,
                        detail: "returned more pages than expected",
                    })
                }
                Some(cursor) => cursors.push(cursor),
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;
    use crate::upstream::Stats;
    use futures::executor::block_on;
    use serde_json::json;
    use std::time::Duration;

    fn source() -> AdminSource {
        AdminSource::new("https://api.example", "org-1", Secret::new("admin-key"))
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn lookup(
        transport: &FakeTransport,
        chunk: &[String],
    ) -> Result<Vec<(String, String)>, UpstreamError> {
        let stats = Stats::default();
        let ctx = CallContext {
            transport,
            runtime: &*transport.runtime,
            deadline: transport.runtime.now.get() + Duration::from_secs(25),
            stats: &stats,
        };
        block_on(source().lookup(&ctx, chunk))
    }

    #[test]
    fn sends_ids_limit_and_bearer_to_the_org_search() {
        let rt = FakeRuntime::new();
        let t = FakeTransport::new(rt, |_| {
            json(
                200,
                json!({"data": [{"accountId": "a", "email": "a@x.com"}], "links": {}}),
            )
        });
        let found = lookup(&t, &ids(&["a", "b"])).unwrap();
        assert_eq!(found, vec![("a".into(), "a@x.com".into())]);
        let calls = t.calls.borrow();
        let (req, _) = &calls[0];
        assert_eq!(
            req.url,
            "https://api.example/admin/v2/orgs/org-1/directories/-/users/search"
        );
        assert!(req
            .headers
            .contains(&("authorization".into(), "Bearer admin-key".into())));
        assert_eq!(
            t.bodies()[0],
            json!({"accountIds": ["a", "b"], "limit": 100})
        );
    }

    #[test]
    fn follows_links_next_until_absent() {
        let rt = FakeRuntime::new();
        let t = FakeTransport::new(rt, |req| {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            match body.get("cursor").and_then(|c| c.as_str()) {
                None => json(
                    200,
                    json!({"data": [{"accountId": "a", "email": "a@x.com"}], "links": {"next": "p2"}}),
                ),
                Some("p2") => json(
                    200,
                    json!({"data": [{"accountId": "b", "email": "b@x.com"}], "links": {"next": "https://api.example/x?limit=50&cursor=p%3D3"}}),
                ),
                Some("p=3") => json(
                    200,
                    json!({"data": [{"accountId": "c", "email": "c@x.com"}]}),
                ),
                Some(other) => panic!("unexpected cursor {other}"),
            }
        });
        let found = lookup(&t, &ids(&["a", "b", "c"])).unwrap();
        assert_eq!(found.len(), 3);
        assert_eq!(t.calls.borrow().len(), 3);
        for body in t.bodies() {
            assert_eq!(
                body["accountIds"],
                json!(["a", "b", "c"]),
                "each page repeats the filter"
            );
        }
    }

    #[test]
    fn a_repeated_cursor_is_an_error_not_a_loop() {
        let rt = FakeRuntime::new();
        let t = FakeTransport::new(rt, |_| {
            json(200, json!({"data": [], "links": {"next": "same"}}))
        });
        assert!(matches!(
            lookup(&t, &ids(&["a"])),
            Err(UpstreamError::Failed { .. })
        ));
        assert_eq!(t.calls.borrow().len(), 2);
    }

    #[test]
    fn ignores_ids_not_asked_for_and_empty_emails() {
        let rt = FakeRuntime::new();
        let t = FakeTransport::new(rt, |_| {
            json(
                200,
                json!({"data": [
                    {"accountId": "x", "email": "x@x.com"},
                    {"accountId": "a", "email": ""},
                    {"accountId": "b", "email": null},
                    {"email": "orphan@x.com"},
                    {"accountId": "c", "email": "c@x.com", "claimStatus": "managed"}
                ]}),
            )
        });
        let found = lookup(&t, &ids(&["a", "b", "c"])).unwrap();
        assert_eq!(found, vec![("c".into(), "c@x.com".into())]);
    }

    #[test]
    fn a_body_without_data_is_unreadable() {
        let rt = FakeRuntime::new();
        let t = FakeTransport::new(rt, |_| json(200, json!({"users": []})));
        assert!(matches!(
            lookup(&t, &ids(&["a"])),
            Err(UpstreamError::Failed { .. })
        ));
        assert_eq!(t.calls.borrow().len(), 3, "retried as unreadable");
    }

    #[test]
    fn unmanaged_rows_without_email_resolve_nothing() {
        // Without claimStatus the search returns unmanaged accounts too, usually email-less.
        let rt = FakeRuntime::new();
        let t = FakeTransport::new(rt, |_| {
            json(
                200,
                json!({"data": [
                    {"accountId": "u", "claimStatus": "unmanaged", "accountStatus": "active"},
                    {"accountId": "m", "email": "m@x.com", "claimStatus": "managed"}
                ], "links": {}}),
            )
        });
        let found = lookup(&t, &ids(&["u", "m"])).unwrap();
        assert_eq!(found, vec![("m".into(), "m@x.com".into())]);
        assert!(t.bodies()[0].get("claimStatus").is_none());
    }

    #[test]
    fn an_id_on_two_pages_is_kept_once() {
        let rt = FakeRuntime::new();
        let t = FakeTransport::new(rt, |req| {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            match body.get("cursor") {
                None => json(
                    200,
                    json!({"data": [{"accountId": "a", "email": "a@x.com"}], "links": {"next": "p2"}}),
                ),
                Some(_) => json(
                    200,
                    json!({"data": [{"accountId": "a", "email": "a2@x.com"}, {"accountId": "zz", "email": "z@x.com"}]}),
                ),
            }
        });
        let found = lookup(&t, &ids(&["a"])).unwrap();
        assert_eq!(found, vec![("a".into(), "a@x.com".into())]);
    }

    #[test]
    fn cursor_extraction() {
        assert_eq!(cursor_of("abc"), Some("abc".into()));
        assert_eq!(cursor_of(" "), None);
        assert_eq!(cursor_of("/x?cursor=a%2Bb&limit=1"), Some("a+b".into()));
    }

    #[test]
    fn check_is_one_search_with_limit_1() {
        let rt = FakeRuntime::new();
        let t = FakeTransport::new(rt, |_| json(401, json!({})));
        let stats = Stats::default();
        let ctx = CallContext {
            transport: &t,
            runtime: &*t.runtime,
            deadline: t.runtime.now.get() + Duration::from_secs(5),
            stats: &stats,
        };
        let answer = block_on(source().check(&ctx)).unwrap();
        assert_eq!(answer.status, 401);
        assert_eq!(t.bodies(), vec![json!({"limit": 1})]);
        let calls = t.calls.borrow();
        assert_eq!(calls.len(), 1, "never retried");
        assert!(calls[0]
            .0
            .url
            .ends_with("/orgs/org-1/directories/-/users/search"));
        assert!(calls[0]
            .0
            .headers
            .contains(&("authorization".into(), "Bearer admin-key".into())));
    }
}
