//! Resolution: ids in, emails out, through the configured sources in order.
//!
//! Each source is asked only for the ids still unresolved; its ids are cut into chunks of the
//! source's published maximum (250 for Confluence `users-bulk`, 10 for the admin search), and
//! at most `upstream_concurrency` chunks are in flight at once. The first source to give an id
//! a non-empty email wins. Under `email_sources=auto` the order is Confluence then admin
//! (see `config`): the admin source, 25 times costlier per id, only sees the ids Confluence
//! could not resolve. Any failure fails the whole lookup: a partial answer would silently drop
//! ids whose result is unknown.

use std::collections::HashMap;

use futures::stream::{self, StreamExt};

use crate::upstream::{CallContext, Source, SourceKind, UpstreamError};

/// The emails found, and how many each source found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// Account id → email, for resolved ids only.
    pub emails: HashMap<String, String>,
    /// Ids resolved by each source asked, in order.
    pub resolved_by: Vec<(SourceKind, usize)>,
}

/// Resolves `ids` (distinct) through `sources`.
pub async fn resolve(
    sources: &[Source],
    concurrency: usize,
    ids: &[String],
    ctx: &CallContext<'_>,
) -> Result<Resolution, UpstreamError> {
    let mut resolution = Resolution::default();
    for source in sources {
        let pending: Vec<String> = ids
            .iter()
            .filter(|id| !resolution.emails.contains_key(*id))
            .cloned()
            .collect();
        if pending.is_empty() {
            break;
        }
        let mut found = 0;
        let mut chunks = stream::iter(pending.chunks(source.batch_size()))
            .map(|chunk| source.lookup(ctx, chunk))
            .buffer_unordered(concurrency.max(1));
        while let Some(result) = chunks.next().await {
            for (id, email) in result? {
                if let std::collections::hash_map::Entry::Vacant(slot) = resolution.emails.entry(id)
                {
                    slot.insert(email);
                    found += 1;
                }
            }
        }
        resolution.resolved_by.push((source.kind(), found));
    }
    Ok(resolution)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Secret;
    use crate::platform::OutboundRequest;
    use crate::testing::*;
    use crate::upstream::cost::{most, Upstream};
    use crate::upstream::{AdminSource, ConfluenceAuth, ConfluenceSource, Stats};
    use futures::executor::block_on;
    use serde_json::{json, Value};
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;
    use std::rc::Rc;
    use std::time::Duration;

    fn sources() -> Vec<Source> {
        vec![
            Source::Admin(AdminSource::new(
                "https://api.example",
                "org",
                Secret::new("k"),
            )),
            Source::Confluence(ConfluenceSource::new(
                "https://site.example",
                ConfluenceAuth::Bearer(Secret::new("b")),
            )),
        ]
    }

    /// A directory: ids "m*" are managed (admin knows them), "v*" visible, "h*" hidden.
    fn directory(req: &crate::platform::OutboundRequest) -> Reply {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        let ids: Vec<String> = serde_json::from_value(body["accountIds"].clone()).unwrap();
        if req.url.contains("/admin/") {
            let data: Vec<_> = ids
                .iter()
                .filter(|id| id.starts_with('m'))
                .map(|id| json!({"accountId": id, "email": format!("{id}@admin.example")}))
                .collect();
            json(200, json!({"data": data, "links": {}}))
        } else {
            let results: Vec<_> = ids
                .iter()
                .filter(|id| id.starts_with('v') || id.starts_with('h') || id.starts_with('m'))
                .map(|id| {
                    let email = if id.starts_with('v') {
                        format!("{id}@site.example")
                    } else {
                        String::new()
                    };
                    json!({"accountId": id, "email": email})
                })
                .collect();
            json(200, json!({"results": results}))
        }
    }

    fn run(
        t: &FakeTransport,
        ids: &[String],
        concurrency: usize,
    ) -> Result<Resolution, UpstreamError> {
        let stats = Stats::default();
        let ctx = CallContext {
            transport: t,
            runtime: &*t.runtime,
            deadline: t.runtime.now.get() + Duration::from_secs(25),
            stats: &stats,
        };
        block_on(resolve(&sources(), concurrency, ids, &ctx))
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn later_sources_get_only_what_is_unresolved() {
        let t = FakeTransport::new(FakeRuntime::new(), directory);
        let r = run(&t, &ids(&["m1", "v1", "h1", "u1"]), 4).unwrap();
        assert_eq!(r.emails.len(), 2);
        assert_eq!(r.emails["m1"], "m1@admin.example");
        assert_eq!(r.emails["v1"], "v1@site.example");
        assert_eq!(
            r.resolved_by,
            vec![(SourceKind::Admin, 1), (SourceKind::Confluence, 1)]
        );
        let bodies = t.bodies();
        assert_eq!(bodies[1]["accountIds"], json!(["v1", "h1", "u1"]));
    }

    #[test]
    fn stops_when_everything_is_resolved() {
        let t = FakeTransport::new(FakeRuntime::new(), directory);
        run(&t, &ids(&["m1", "m2"]), 4).unwrap();
        assert_eq!(t.calls.borrow().len(), 1);
    }

    #[test]
    fn chunks_at_each_source_batch_size() {
        let t = FakeTransport::new(FakeRuntime::new(), directory);
        let many: Vec<String> = (0..1000).map(|i| format!("u{i}")).collect();
        let r = run(&t, &many, 4).unwrap();
        assert!(r.emails.is_empty());
        let calls = t.calls.borrow();
        let admin: Vec<_> = calls
            .iter()
            .filter(|(c, _)| c.url.contains("/admin/"))
            .collect();
        let site: Vec<_> = calls
            .iter()
            .filter(|(c, _)| !c.url.contains("/admin/"))
            .collect();
        assert_eq!(admin.len(), 100, "1000 ids / 10");
        assert_eq!(site.len(), 4, "1000 ids / 250");
        for body in t.bodies().iter().filter(|b| b.get("limit").is_some()) {
            let n = body["accountIds"].as_array().unwrap().len();
            assert!((1..=10).contains(&n), "admin chunk of {n}");
        }
        let mut seen: Vec<String> = Vec::new();
        for body in t.bodies().iter().filter(|b| b.get("limit").is_none()) {
            let chunk: Vec<String> = serde_json::from_value(body["accountIds"].clone()).unwrap();
            assert!(chunk.len() <= 250);
            seen.extend(chunk);
        }
        seen.sort();
        let mut expected = many.clone();
        expected.sort();
        assert_eq!(seen, expected, "every id asked exactly once");
    }

    #[test]
    fn one_failed_chunk_fails_the_whole_lookup() {
        let t = FakeTransport::new(FakeRuntime::new(), |req| {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            if body["accountIds"][0] == "u50" {
                json(401, json!({}))
            } else {
                directory(req)
            }
        });
        let many: Vec<String> = (0..120).map(|i| format!("u{i}")).collect();
        // u50 starts the sixth admin chunk of 10.
        assert_eq!(
            run(&t, &many, 2),
            Err(UpstreamError::AuthFailed {
                origin: SourceKind::Admin
            })
        );
    }

    #[test]
    fn confluence_first_sends_admin_only_the_unresolved_in_chunks_of_10() {
        let t = FakeTransport::new(FakeRuntime::new(), directory);
        let mut many: Vec<String> = (0..500).map(|i| format!("v{i}")).collect();
        many.extend((0..25).map(|i| format!("m{i}")));
        let confluence_first = vec![sources().remove(1), sources().remove(0)];
        let stats = Stats::default();
        let ctx = CallContext {
            transport: &t,
            runtime: &*t.runtime,
            deadline: t.runtime.now.get() + Duration::from_secs(25),
            stats: &stats,
        };
        let r = block_on(resolve(&confluence_first, 4, &many, &ctx)).unwrap();
        assert_eq!(r.emails.len(), 525);
        assert_eq!(
            r.resolved_by,
            vec![(SourceKind::Confluence, 500), (SourceKind::Admin, 25)]
        );
        let calls = t.calls.borrow();
        let (admin, site): (Vec<_>, Vec<_>) =
            calls.iter().partition(|(c, _)| c.url.contains("/admin/"));
        assert_eq!(site.len(), 3, "525 ids / 250");
        assert_eq!(admin.len(), 3, "25 unresolved ids / 10");
        assert_eq!(stats.calls.get(), 6);
    }

    #[test]
    fn first_source_wins() {
        // Admin and Confluence both know m1; admin's answer is kept, Confluence is not asked.
        let t = FakeTransport::new(FakeRuntime::new(), directory);
        let r = run(&t, &ids(&["m1"]), 1).unwrap();
        assert_eq!(r.emails["m1"], "m1@admin.example");
    }

    /// An upstream that makes a lookup as costly as the component lets it be: every logical
    /// call is throttled (`Retry-After: 0`) until its last attempt; `users-bulk` lists one asked
    /// id per answer (hidden, so the admin source is asked for it too) with a next link; the
    /// admin search answers [`crate::upstream::admin::MAX_PAGES`] empty pages per chunk. Counts the points
    /// Atlassian would charge: 1 per `users-bulk` call, 2 per user object returned.
    struct Costliest {
        attempts: RefCell<HashMap<String, u32>>,
        points: Cell<u64>,
    }

    impl Costliest {
        fn reply(&self, request: &OutboundRequest) -> Reply {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            let key = format!("{} {body}", request.url);
            let attempt = {
                let mut attempts = self.attempts.borrow_mut();
                let n = attempts.entry(key).or_default();
                *n += 1;
                *n
            };
            let users_bulk = request.url.ends_with("/users-bulk");
            if users_bulk {
                self.points.set(self.points.get() + 1);
            }
            if attempt < crate::upstream::retry::MAX_ATTEMPTS {
                return with_header(json(429, json!({})), "Retry-After", "0");
            }
            if users_bulk {
                let first = &body["accountIds"][0];
                self.points.set(self.points.get() + 2);
                let page = json!({"results": [{"accountId": first, "email": ""}],
                                  "_links": {"next": "/wiki/api/v2/users-bulk?cursor=x"}});
                return json(200, page);
            }
            let page: usize = body["cursor"]
                .as_str()
                .map_or(1, |c| c.trim_start_matches('p').parse().unwrap());
            let next = (page < crate::upstream::admin::MAX_PAGES).then(|| format!("p{}", page + 1));
            json(200, json!({"data": [], "links": {"next": next}}))
        }
    }

    fn confluence_then_admin() -> Vec<Source> {
        vec![
            Source::Confluence(ConfluenceSource::new(
                "https://acme.atlassian.net",
                ConfluenceAuth::Bearer(Secret::new("b")),
            )),
            Source::Admin(AdminSource::new(
                "https://api.example",
                "org",
                Secret::new("k"),
            )),
        ]
    }

    /// Drives `resolve` for `n` ids against [`Costliest`]; returns the calls made per source
    /// and the points charged.
    fn drive_costliest(n: usize) -> (u64, u64, u64) {
        let rt = FakeRuntime::new();
        let upstream = Rc::new(Costliest {
            attempts: RefCell::new(HashMap::new()),
            points: Cell::new(0),
        });
        let script = upstream.clone();
        let transport = FakeTransport::new(rt.clone(), move |r| script.reply(r));
        let stats = Stats::default();
        let ctx = CallContext {
            transport: &transport,
            runtime: &*rt,
            deadline: rt.now.get() + Duration::from_secs(25),
            stats: &stats,
        };
        let ids: Vec<String> = (0..n).map(|i| format!("id-{i}")).collect();
        let resolution: Result<_, UpstreamError> =
            block_on(resolve(&confluence_then_admin(), 4, &ids, &ctx));
        assert!(resolution.unwrap().emails.is_empty());
        let calls = transport.calls.borrow();
        let users_bulk = calls
            .iter()
            .filter(|(r, _)| r.url.ends_with("/users-bulk"))
            .count() as u64;
        assert_eq!(u64::from(stats.calls.get()), calls.len() as u64);
        (
            users_bulk,
            calls.len() as u64 - users_bulk,
            upstream.points.get(),
        )
    }

    /// The upstream cost bound (`upstream::cost::most`) is reached, and never passed, by an
    /// upstream that throttles every call to its last attempt and pages every answer as far as
    /// the sources follow it.
    #[test]
    fn the_costliest_upstream_reaches_the_cost_bound_exactly() {
        const BOTH: [SourceKind; 2] = [SourceKind::Confluence, SourceKind::Admin];
        for n in [1, 9, 10, 11, 249, 250, 251, 1000] {
            let bound = most(n, &BOTH, Upstream::RetriedAndPaged);
            let (users_bulk, admin_calls, points) = drive_costliest(n);
            assert_eq!(
                (users_bulk, admin_calls, points),
                (
                    bound.users_bulk_calls,
                    bound.admin_calls,
                    bound.confluence_points
                ),
                "{n} ids"
            );
        }
    }
}
