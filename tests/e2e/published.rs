//! Atlassian as published: the admin search's 10 ids a call, the cheapest source first under
//! `auto`, paged `users-bulk` answers, `X-RateLimit-Reset`, unmanaged rows without an email,
//! and `Content-Length` on every upstream request — against the strict fake.

use std::time::Duration;

use anyhow::Result;
use fake_atlassian::{Directory, Endpoint, Fault};
use serde_json::{json, Value};

use crate::support::*;

/// The ids a lookup under `auto` leaves to the admin source: those Confluence shows no email
/// for (hidden, whatever their management).
fn hidden_ids(directory: &Directory) -> Vec<String> {
    directory
        .users
        .iter()
        .filter(|u| u.is_hidden())
        .map(|u| u.account_id.clone())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_asks_confluence_first_then_admin_for_the_rest_in_tens() -> Result<()> {
    let env = Env::with_directory(Directory::generated(1000), Sources::Chain, &[]).await?;
    env.lookup_all_expecting(Sources::Chain).await?;
    let bulk = env.requests_to(Endpoint::UsersBulk);
    let admin = env.requests_to(Endpoint::AdminSearch);
    let hidden = hidden_ids(&env.directory);
    assert_eq!(bulk.len(), 1000_usize.div_ceil(250), "users-bulk calls");
    assert_eq!(admin.len(), hidden.len().div_ceil(10), "admin calls");
    assert!(bulk.iter().all(|r| r.account_ids.len() == 250));
    assert!(admin
        .iter()
        .all(|r| (1..=10).contains(&r.account_ids.len())));
    assert!(admin.iter().all(|r| r.limit == Some(100)));
    let asked: Vec<String> = admin.iter().flat_map(|r| r.account_ids.clone()).collect();
    assert_eq!(
        sorted(asked),
        sorted(hidden),
        "admin sees only what is left"
    );
    // Every users-bulk call came before the first admin call.
    let order: Vec<Option<Endpoint>> = env.fake.requests().iter().map(|r| r.endpoint).collect();
    let first_admin = order
        .iter()
        .position(|e| *e == Some(Endpoint::AdminSearch))
        .unwrap();
    assert!(order[first_admin..]
        .iter()
        .all(|e| *e == Some(Endpoint::AdminSearch)));
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_admin_first_order_is_kept_and_chunks_at_10() -> Result<()> {
    let env = Env::with_directory(
        Directory::generated(1000),
        Sources::Chain,
        &[("email_sources", "admin,confluence")],
    )
    .await?;
    env.lookup_all_expecting(Sources::Chain).await?;
    let admin = env.requests_to(Endpoint::AdminSearch);
    let bulk = env.requests_to(Endpoint::UsersBulk);
    assert_eq!(admin.len(), 100, "1000 ids / 10");
    assert!(admin.iter().all(|r| r.account_ids.len() == 10));
    // Unmanaged ids come back from admin without an email: Confluence is asked for them.
    let unmanaged: Vec<String> = env
        .directory
        .users
        .iter()
        .filter(|u| !u.managed)
        .map(|u| u.account_id.clone())
        .collect();
    assert_eq!(bulk.len(), unmanaged.len().div_ceil(250));
    let asked: Vec<String> = bulk.iter().flat_map(|r| r.account_ids.clone()).collect();
    assert_eq!(sorted(asked), sorted(unmanaged));
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmanaged_rows_without_email_do_not_stop_the_next_source() -> Result<()> {
    // The demo directory: the admin search (no claimStatus) answers unmanaged accounts too,
    // without an email; those ids must still reach Confluence.
    let env = Env::start(Sources::Chain, &[("email_sources", "admin,confluence")]).await?;
    let body = env.lookup_all_expecting(Sources::Chain).await?;
    let unmanaged_visible: Vec<&str> = env
        .directory
        .users
        .iter()
        .filter(|u| !u.managed && !u.is_hidden())
        .map(|u| u.account_id.as_str())
        .collect();
    assert!(!unmanaged_visible.is_empty());
    for id in unmanaged_visible {
        assert!(
            body.as_array()
                .unwrap()
                .iter()
                .any(|e| e["accountId"] == id && e["emailAddress"].is_string()),
            "an unmanaged visible id resolved through Confluence"
        );
    }
    // 32 ids: 4 admin calls of at most 10 (the demo has more than 10 managed accounts).
    assert_eq!(env.requests_to(Endpoint::AdminSearch).len(), 4);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_under_auto_sends_admin_more_than_one_chunk() -> Result<()> {
    let env = Env::start(Sources::Chain, &[]).await?;
    env.lookup_all_expecting(Sources::Chain).await?;
    let hidden = hidden_ids(&env.directory);
    assert!(hidden.len() > 10);
    assert_eq!(env.requests_to(Endpoint::UsersBulk).len(), 1);
    assert_eq!(
        env.requests_to(Endpoint::AdminSearch).len(),
        hidden.len().div_ceil(10)
    );
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paged_users_bulk_answer_has_the_missing_ids_asked_again() -> Result<()> {
    let env = Env::with_directory(Directory::generated(500), Sources::Basic, &[]).await?;
    env.fake.set_users_bulk_page_cap(Some(100));
    env.lookup_all_expecting(Sources::Basic).await?;
    // Two chunks of 250 known ids, each answered 100 + 100 + 50.
    let bulk = env.requests_to(Endpoint::UsersBulk);
    let mut sizes: Vec<usize> = bulk.iter().map(|r| r.account_ids.len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [50, 50, 150, 150, 250, 250]);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_ratelimit_reset_alone_is_honoured() -> Result<()> {
    let env = Env::start(Sources::Basic, &[]).await?;
    env.fake.inject(
        Endpoint::UsersBulk,
        Fault::RateLimitReset {
            after: Duration::from_secs(1),
        },
        1,
    );
    let started = std::time::Instant::now();
    env.lookup_all_expecting(Sources::Basic).await?;
    // The reset is a whole second on the wall clock: at least a little wait, never a blind
    // 100–200 ms backoff retry before it.
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(env.requests_to(Endpoint::UsersBulk).len(), 2);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_ratelimit_reset_past_the_deadline_is_503_with_retry_after() -> Result<()> {
    let env = Env::start(Sources::Basic, &[("request_timeout_ms", "3000")]).await?;
    env.fake.inject(
        Endpoint::UsersBulk,
        Fault::RateLimitReset {
            after: Duration::from_secs(60),
        },
        1,
    );
    let started = std::time::Instant::now();
    let (status, headers, body) = env.lookup(json!({ "accountIds": env.ids() })).await?;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "upstream_rate_limited");
    let retry_after: u64 = headers["retry-after"].to_str()?.parse()?;
    assert!((55..=61).contains(&retry_after), "{retry_after}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "answered at once"
    );
    assert_eq!(env.requests_to(Endpoint::UsersBulk).len(), 1);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_upstream_request_has_a_content_length_not_a_chunked_body() -> Result<()> {
    let env = Env::start(Sources::Chain, &[]).await?;
    env.lookup_all_expecting(Sources::Chain).await?;
    let (status, _, _) = env
        .send(
            env.request(reqwest::Method::GET, "/admin/status")
                .header("x-api-key", KEY),
        )
        .await?;
    assert_eq!(status, 200);
    let requests = env.fake.requests();
    assert!(requests.len() >= 4, "lookups and live checks");
    for r in &requests {
        assert!(!r.chunked, "{:?} sent a chunked body", r.endpoint);
        assert_eq!(r.status, 200, "{:?}", r.endpoint);
    }
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_status_says_which_order_runs_and_why() -> Result<()> {
    for (extra, sources, order) in [
        (vec![], json!(["confluence", "admin"]), "auto"),
        (
            vec![("email_sources", "admin,confluence")],
            json!(["admin", "confluence"]),
            "explicit",
        ),
    ] {
        let env = Env::start(Sources::Chain, &extra).await?;
        let (status, _, bytes) = env
            .send(
                env.request(reqwest::Method::GET, "/admin/status")
                    .header("x-api-key", KEY),
            )
            .await?;
        assert_eq!(status, 200);
        let s: Value = serde_json::from_slice(&bytes)?;
        assert_eq!(s["sources"], sources);
        assert_eq!(s["order"], order);
        assert!(s["orderReason"].as_str().is_some_and(|r| !r.is_empty()));
        env.finish().await?;
    }
    Ok(())
}
