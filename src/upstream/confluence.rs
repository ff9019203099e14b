//! The Confluence source: the Confluence user API — emails whose owners let them be seen.
//!
//! `POST /wiki/api/v2/users-bulk` with `{"accountIds": [...]}`, at most [`MAX_ACCOUNT_IDS`] (250)
//! ids a call — 25 times the admin search's 10, which is why `email_sources=auto` asks this
//! source first:
//! - basic auth (`confluence_email` + `confluence_api_token`) against `confluence_url`;
//! - bearer auth (scoped token, service account, OAuth) against
//!   `{atlassian_api_url}/ex/confluence/{cloudId}`.
//!
//! Unknown ids are missing from `results`; a hidden email is `""`, which is never returned as an
//! email: that id stays unresolved.
//!
//! **Paged answers.** The published spec documents `_links.next` and a `Link` header on this
//! response type. When an answer carries either, the ids of the chunk that did not appear in
//! `results` are asked again (same call, same retry policy, same deadline) until they all
//! appeared or an answer has no next link. A paged answer in which no new requested id
//! appeared is an upstream error, so the rounds are bounded by the chunk's size: an id is
//! never silently dropped and the loop always ends.

use std::collections::HashSet;

use base64::Engine;
use serde::Deserialize;

use super::{json_headers, page, retry, CallContext, Kept, SourceKind, UpstreamError};
use crate::auth::Secret;
use crate::platform::{Method, OutboundRequest, OutboundResponse, TransportError};

/// The most `accountIds` one `users-bulk` call accepts: `1` to `250` in Atlassian's Confluence
/// REST v2 spec (`openapi-v2.v3.json`, `POST /wiki/api/v2/users-bulk`). The chunk size.
pub const MAX_ACCOUNT_IDS: usize = 250;

/// How the Confluence source authenticates.
#[derive(Debug, Clone)]
pub enum ConfluenceAuth {
    /// A classic API token for an account, against the site URL.
    Basic {
        /// The account's email (not secret, but not logged either).
        email: String,
        /// The API token.
        token: Secret,
    },
    /// A bearer token, against `/ex/confluence/{cloudId}`.
    Bearer(Secret),
}

/// The Confluence source's settings.
#[derive(Debug, Clone)]
pub struct ConfluenceSource {
    url: String,
    auth: ConfluenceAuth,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    next: Option<serde::de::IgnoredAny>,
}

/// Parses a `users-bulk` answer body for the ids of `chunk`: what it holds for them (the kept
/// pairs, and which of them it listed at all) and whether it carries `_links.next` (any
/// non-null value). The rows are filtered as they are read, never collected. `None` when it is
/// not an answer.
pub fn parse_bulk(body: &[u8], chunk: &[String]) -> Option<(Kept, bool)> {
    let (kept, links) = page::parse::<Links>(body, chunk, "Bulk", &["results", "_links"])?;
    Some((kept, links.is_some_and(|l| l.next.is_some())))
}

/// Whether a `Link` header value (RFC 8288) holds a link with relation type `next`.
pub fn link_has_next(value: &str) -> bool {
    value.split(',').any(|link| {
        link.split(';').skip(1).any(|param| {
            let Some((name, rel)) = param.split_once('=') else {
                return false;
            };
            name.trim().eq_ignore_ascii_case("rel")
                && rel
                    .trim()
                    .trim_matches('"')
                    .split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        })
    })
}

/// One answer: what it holds for the ids asked, and whether it pointed at a next page.
struct Answer {
    kept: Kept,
    next: bool,
}

fn read_answer(chunk: &[String], response: &OutboundResponse) -> Option<Answer> {
    let (kept, body_next) = parse_bulk(&response.body, chunk)?;
    let header_next = response
        .headers
        .iter()
        .any(|(name, value)| name.eq_ignore_ascii_case("link") && link_has_next(value));
    Some(Answer {
        kept,
        next: body_next || header_next,
    })
}

impl ConfluenceSource {
    /// A source whose API lives at `base` (a site URL, or `.../ex/confluence/{cloudId}`).
    pub fn new(base: &str, auth: ConfluenceAuth) -> ConfluenceSource {
        ConfluenceSource {
            url: format!("{base}/wiki/api/v2/users-bulk"),
            auth,
        }
    }

    fn authorization(&self) -> String {
        match &self.auth {
            ConfluenceAuth::Basic { email, token } => format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{email}:{}", token.expose()))
            ),
            ConfluenceAuth::Bearer(token) => format!("Bearer {}", token.expose()),
        }
    }

    /// Whether this source authenticates with a bearer token through the gateway (else basic
    /// auth against the site): says which variables to check when the check fails.
    pub fn uses_bearer(&self) -> bool {
        matches!(self.auth, ConfluenceAuth::Bearer(_))
    }

    /// The admin page's live check: `users-bulk` with `{"accountIds": ["unknown"]}` (the id
    /// Atlassian itself uses for deleted records; the API requires 1–250 ids), which proves the
    /// URL and the credentials and returns no one. One attempt ([`retry::call_once`]).
    pub async fn check(&self, ctx: &CallContext<'_>) -> Result<OutboundResponse, TransportError> {
        let request = OutboundRequest {
            method: Method::Post,
            url: self.url.clone(),
            headers: json_headers(self.authorization()),
            body: br#"{"accountIds":["unknown"]}"#.to_vec(),
        };
        retry::call_once(ctx, request).await
    }

    /// Looks up one chunk of at most [`MAX_ACCOUNT_IDS`] ids, asking again for the ids a paged
    /// answer left out (see the module docs).
    pub async fn lookup(
        &self,
        ctx: &CallContext<'_>,
        chunk: &[String],
    ) -> Result<Vec<(String, String)>, UpstreamError> {
        debug_assert!((1..=MAX_ACCOUNT_IDS).contains(&chunk.len()));
        let mut found: Vec<(String, String)> = Vec::new();
        let mut pending: Vec<String> = chunk.to_vec();
        loop {
            let body = serde_json::to_vec(&serde_json::json!({ "accountIds": pending }))
                .unwrap_or_default();
            let answer = retry::call(
                ctx,
                SourceKind::Confluence,
                || OutboundRequest {
                    method: Method::Post,
                    url: self.url.clone(),
                    headers: json_headers(self.authorization()),
                    body: body.clone(),
                },
                |response: &OutboundResponse| read_answer(&pending, response),
            )
            .await?;
            found.extend(answer.kept.found);
            if !answer.next {
                return Ok(found);
            }
            let listed: HashSet<&str> = answer.kept.listed.iter().map(String::as_str).collect();
            let rest: Vec<String> = pending
                .iter()
                .filter(|id| !listed.contains(id.as_str()))
                .cloned()
                .collect();
            if rest.is_empty() {
                return Ok(found);
            }
            if rest.len() == pending.len() {
                return Err(UpstreamError::Failed {
                    origin: SourceKind::Confluence,
                    detail: "answered with a next page but none of the ids asked for",
                });
            }
            pending = rest;
        }
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

    fn run(
        source: &ConfluenceSource,
        t: &FakeTransport,
        chunk: &[&str],
    ) -> Result<Vec<(String, String)>, UpstreamError> {
        let stats = Stats::default();
        let ctx = CallContext {
            transport: t,
            runtime: &*t.runtime,
            deadline: t.runtime.now.get() + Duration::from_secs(25),
            stats: &stats,
        };
        let chunk: Vec<String> = chunk.iter().map(|s| s.to_string()).collect();
        block_on(source.lookup(&ctx, &chunk))
    }

    #[test]
    fn basic_auth_against_the_site() {
        let s = ConfluenceSource::new(
            "https://acme.atlassian.net",
            ConfluenceAuth::Basic {
                email: "bot@acme.com".into(),
                token: Secret::new("tok"),
            },
        );
        let t = FakeTransport::new(FakeRuntime::new(), |_| json(200, json!({"results": []})));
        run(&s, &t, &["a"]).unwrap();
        let calls = t.calls.borrow();
        assert_eq!(
            calls[0].0.url,
            "https://acme.atlassian.net/wiki/api/v2/users-bulk"
        );
        // base64("bot@acme.com:tok")
        assert!(calls[0].0.headers.contains(&(
            "authorization".into(),
            "Basic Ym90QGFjbWUuY29tOnRvaw==".into()
        )));
    }

    #[test]
    fn bearer_auth_through_the_gateway() {
        let s = ConfluenceSource::new(
            "https://api.atlassian.com/ex/confluence/cloud-1",
            ConfluenceAuth::Bearer(Secret::new("bt")),
        );
        let t = FakeTransport::new(FakeRuntime::new(), |_| json(200, json!({"results": []})));
        run(&s, &t, &["a"]).unwrap();
        let calls = t.calls.borrow();
        assert_eq!(
            calls[0].0.url,
            "https://api.atlassian.com/ex/confluence/cloud-1/wiki/api/v2/users-bulk"
        );
        assert!(calls[0]
            .0
            .headers
            .contains(&("authorization".into(), "Bearer bt".into())));
    }

    #[test]
    fn hidden_email_is_unresolved_and_matching_is_by_id() {
        let s = ConfluenceSource::new(
            "https://acme.atlassian.net",
            ConfluenceAuth::Bearer(Secret::new("bt")),
        );
        let t = FakeTransport::new(FakeRuntime::new(), |_| {
            // Out of order, one hidden, one not asked for.
            json(
                200,
                json!({"results": [
                {"accountId": "c", "email": "c@x.com"},
                {"accountId": "a", "email": ""},
                {"accountId": "zzz", "email": "z@x.com"},
            ], "_links": {}}),
            )
        });
        let found = run(&s, &t, &["a", "b", "c"]).unwrap();
        assert_eq!(found, vec![("c".into(), "c@x.com".into())]);
        assert_eq!(t.bodies()[0], json!({"accountIds": ["a", "b", "c"]}));
    }

    fn bearer() -> ConfluenceSource {
        ConfluenceSource::new(
            "https://acme.atlassian.net",
            ConfluenceAuth::Bearer(Secret::new("bt")),
        )
    }

    /// A paging upstream: answers at most `per_page` of the asked ids (all known, visible),
    /// with a next link in the body (or the `Link` header) while more remain.
    fn paging(
        per_page: usize,
        in_header: bool,
    ) -> impl Fn(&crate::platform::OutboundRequest) -> Reply {
        move |req| {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            let asked: Vec<String> = serde_json::from_value(body["accountIds"].clone()).unwrap();
            let page: Vec<_> = asked
                .iter()
                .take(per_page)
                .map(|id| json!({"accountId": id, "email": format!("{id}@x.com")}))
                .collect();
            let more = asked.len() > per_page;
            let next = "/wiki/api/v2/users-bulk?cursor=abc";
            if in_header {
                let reply = json(200, json!({"results": page, "_links": {}}));
                if more {
                    with_header(reply, "Link", &format!("<{next}>; rel=\"next\""))
                } else {
                    reply
                }
            } else if more {
                json(200, json!({"results": page, "_links": {"next": next}}))
            } else {
                json(200, json!({"results": page, "_links": {}}))
            }
        }
    }

    #[test]
    fn a_paged_answer_has_the_missing_ids_asked_again() {
        for in_header in [false, true] {
            let t = FakeTransport::new(FakeRuntime::new(), paging(2, in_header));
            let found = run(&bearer(), &t, &["a", "b", "c", "d", "e"]).unwrap();
            let ids: Vec<&str> = found.iter().map(|(id, _)| id.as_str()).collect();
            assert_eq!(ids, ["a", "b", "c", "d", "e"], "header: {in_header}");
            assert_eq!(
                t.bodies(),
                vec![
                    json!({"accountIds": ["a", "b", "c", "d", "e"]}),
                    json!({"accountIds": ["c", "d", "e"]}),
                    json!({"accountIds": ["e"]}),
                ]
            );
        }
    }

    #[test]
    fn a_next_link_with_every_id_listed_ends_the_chunk() {
        // Hidden and known: listed with "", so not asked again even though a next link came.
        let t = FakeTransport::new(FakeRuntime::new(), |_| {
            json(
                200,
                json!({"results": [{"accountId": "a", "email": ""}, {"accountId": "b", "email": "b@x.com"}],
                       "_links": {"next": "/wiki/api/v2/users-bulk?cursor=x"}}),
            )
        });
        let found = run(&bearer(), &t, &["a", "b"]).unwrap();
        assert_eq!(found, vec![("b".into(), "b@x.com".into())]);
        assert_eq!(t.calls.borrow().len(), 1);
    }

    #[test]
    fn a_next_link_without_progress_is_an_error_not_a_loop_or_a_drop() {
        let t = FakeTransport::new(FakeRuntime::new(), |_| {
            json(
                200,
                json!({"results": [{"accountId": "zz", "email": "z@x.com"}],
                       "_links": {"next": "/wiki/api/v2/users-bulk?cursor=x"}}),
            )
        });
        assert!(matches!(
            run(&bearer(), &t, &["a", "b"]),
            Err(UpstreamError::Failed {
                origin: SourceKind::Confluence,
                ..
            })
        ));
        assert_eq!(t.calls.borrow().len(), 1);
    }

    #[test]
    fn without_a_next_link_missing_ids_are_unknown_not_asked_again() {
        let t = FakeTransport::new(FakeRuntime::new(), |_| {
            json(
                200,
                json!({"results": [{"accountId": "a", "email": "a@x.com"}], "_links": {"base": "https://x"}}),
            )
        });
        let found = run(&bearer(), &t, &["a", "b"]).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(t.calls.borrow().len(), 1);
    }

    #[test]
    fn link_header_next_detection() {
        assert!(link_has_next(
            "</wiki/api/v2/users-bulk?cursor=a>; rel=\"next\""
        ));
        assert!(link_has_next(
            "<https://x/a>; rel=\"prev\", <https://x/b>; rel=next"
        ));
        assert!(link_has_next("<https://x/b>; REL=\"prev next\""));
        assert!(!link_has_next("<https://x/a>; rel=\"prev\""));
        assert!(!link_has_next("<https://x/next>; title=\"next\""));
        assert!(!link_has_next(""));
    }

    #[test]
    fn check_is_one_users_bulk_for_the_unknown_id() {
        let s = ConfluenceSource::new(
            "https://acme.atlassian.net",
            ConfluenceAuth::Basic {
                email: "bot@acme.com".into(),
                token: Secret::new("tok"),
            },
        );
        assert!(!s.uses_bearer());
        let t = FakeTransport::new(FakeRuntime::new(), |_| json(503, json!({})));
        let stats = Stats::default();
        let ctx = CallContext {
            transport: &t,
            runtime: &*t.runtime,
            deadline: t.runtime.now.get() + Duration::from_secs(5),
            stats: &stats,
        };
        assert_eq!(block_on(s.check(&ctx)).unwrap().status, 503);
        assert_eq!(t.bodies(), vec![json!({"accountIds": ["unknown"]})]);
        assert_eq!(t.calls.borrow().len(), 1, "never retried");
    }
}
