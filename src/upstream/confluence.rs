//! Source 2: the Confluence user API — emails whose owners let them be seen.
//!
//! `POST /wiki/api/v2/users-bulk` with `{"accountIds": [...]}`, at most [`BATCH_SIZE`] ids a call:
//! - basic auth (`confluence_email` + `confluence_api_token`) against `confluence_url`;
//! - bearer auth (scoped token, service account, OAuth) against
//!   `{atlassian_api_url}/ex/confluence/{cloudId}`.
//!
//! Unknown ids are missing from `results`; a hidden email is `""`, which is never returned as an
//! email: that id stays unresolved.

use base64::Engine;
use serde::Deserialize;

use super::{json_headers, keep_requested, retry, CallContext, RawPair, SourceKind, UpstreamError};
use crate::auth::Secret;
use crate::platform::{Method, OutboundRequest, OutboundResponse, TransportError};

/// The most ids `users-bulk` accepts in one call.
pub const BATCH_SIZE: usize = 250;

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
struct Bulk {
    results: Vec<User>,
}

#[derive(Deserialize)]
struct User {
    #[serde(rename = "accountId", default)]
    account_id: Option<String>,
    #[serde(default)]
    email: Option<String>,
}

/// Parses a `users-bulk` answer into `(accountId, email)` pairs; `None` when it is not one.
pub fn parse_bulk(body: &[u8]) -> Option<Vec<RawPair>> {
    let bulk: Bulk = serde_json::from_slice(body).ok()?;
    Some(
        bulk.results
            .into_iter()
            .map(|u| (u.account_id, u.email))
            .collect(),
    )
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

    /// Looks up one chunk of at most [`BATCH_SIZE`] ids.
    pub async fn lookup(
        &self,
        ctx: &CallContext<'_>,
        chunk: &[String],
    ) -> Result<Vec<(String, String)>, UpstreamError> {
        let body =
            serde_json::to_vec(&serde_json::json!({ "accountIds": chunk })).unwrap_or_default();
        let pairs = retry::call(
            ctx,
            SourceKind::Confluence,
            || OutboundRequest {
                method: Method::Post,
                url: self.url.clone(),
                headers: json_headers(self.authorization()),
                body: body.clone(),
            },
            |response: &OutboundResponse| parse_bulk(&response.body),
        )
        .await?;
        Ok(keep_requested(chunk, pairs))
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
