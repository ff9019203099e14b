//! The upstream cost of one request, through the compiled component: the largest request a key
//! holder can send, against a fake Atlassian that pages and throttles, stays within the bound
//! `upstream::cost::most` computes (and RELIABILITY.md quotes); and under a burst limit, a
//! request whose calls need more windows than its deadline leaves fails at once with
//! `Retry-After`, as the sizing arithmetic in docs/CONNECTOR.md says.

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use fake_atlassian::{
    BurstLimit, Directory, Endpoint, Fault, PointsQuota, QuotaScope, RetryAfter, User, Visibility,
};
use identity_accessor::config::LARGEST_MAX_ACCOUNT_IDS;
use identity_accessor::upstream::cost::{most, Upstream};
use identity_accessor::upstream::retry::MAX_ATTEMPTS;
use identity_accessor::upstream::SourceKind;
use serde_json::{json, Value};

use crate::support::*;

/// Users-bulk results per answer, so each chunk of 250 takes ⌈250/100⌉ = 3 rounds.
const USERS_BULK_PAGE: usize = 100;
/// Admin rows per page, so each chunk of 10 takes ⌈10/4⌉ = 3 pages.
const ADMIN_PAGE: usize = 4;

/// `n` users: by `i % 8`, managed and hidden (only the admin source resolves them), unmanaged
/// and hidden (nobody does: the admin search lists them without an email), and visible, managed
/// or not (the Confluence source resolves them). A quarter of the ids reach the admin source.
fn directory(n: usize) -> Directory {
    let users = (0..n)
        .map(|i| {
            let (managed, visibility) = match i % 8 {
                0 => (true, Visibility::Hidden),
                4 => (false, Visibility::Hidden),
                2 | 6 => (true, Visibility::Visible),
                _ => (false, Visibility::Visible),
            };
            User {
                managed,
                visibility,
                ..User::new(
                    format!("557058:cost-{i:05}"),
                    format!("cost{i}@example.com"),
                )
            }
        })
        .collect();
    Directory { users }
}

/// Queues, for each of `calls` logical calls of `endpoint`, `MAX_ATTEMPTS - 1` throttled
/// answers with a zero wait (cycling through `throttles`) and then a pass (a zero-latency no-op):
/// with one call in flight at a time, every logical call takes every attempt it may.
fn throttle_every_call(env: &Env, endpoint: Endpoint, calls: usize, throttles: &[Fault]) {
    let mut kinds = throttles.iter().cycle();
    for _ in 0..calls {
        for _ in 1..MAX_ATTEMPTS {
            env.fake
                .inject(endpoint, kinds.next().expect("cycle").clone(), 1);
        }
        env.fake.inject(endpoint, Fault::Latency(Duration::ZERO), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_request_stays_within_the_upstream_cost_bound() -> Result<()> {
    // Thousands of calls through devhost: never beside the fault matrix's deadline bounds.
    let _alone = CPU_HEAVY.lock().await;
    let n = LARGEST_MAX_ACCOUNT_IDS;
    let directory = directory(n);
    let fake = fake(directory.clone()).await?;
    let c = fake.credentials().clone();
    // Confluence through an OAuth 2.0 bearer token (metered in points), then the admin source.
    // One call in flight, so every logical call meets exactly the faults queued for it; the
    // count bound does not depend on concurrency. A deadline long enough that a slow machine
    // cannot turn the run into a timeout: the bound does not depend on it either.
    let vars = with(
        source_vars(&fake, Sources::Bearer),
        &[
            ("atlassian_org_id", c.org_id.as_str()),
            ("atlassian_admin_api_key", c.admin_api_key.as_str()),
            ("max_account_ids", &n.to_string()),
            ("upstream_concurrency", "1"),
            ("request_timeout_ms", "600000"),
        ],
    );
    let server = serve(vars).await?;
    let env = Env::assemble(fake, server, directory)?;
    env.fake.set_users_bulk_page_cap(Some(USERS_BULK_PAGE));
    env.fake.set_admin_page_cap(Some(ADMIN_PAGE));
    env.fake.set_points_quota(Some(PointsQuota {
        points: 10_000_000,
        scope: QuotaScope::Global,
    }));

    // What this directory and these page caps make, worked out here from the published chunk
    // sizes: every id is known, so a users-bulk chunk of 250 takes 3 rounds; the admin source
    // gets the quarter Confluence cannot resolve (the hidden), in chunks of 10, each listed on
    // 3 pages.
    let users_bulk_rounds = n.div_ceil(250) * 250usize.div_ceil(USERS_BULK_PAGE);
    let unresolved_by_confluence = env.directory.users.iter().filter(|u| u.is_hidden()).count();
    ensure!(unresolved_by_confluence == n / 4);
    let admin_pages = unresolved_by_confluence.div_ceil(10) * 10usize.div_ceil(ADMIN_PAGE);
    let attempts = MAX_ATTEMPTS as usize;
    let zero = || Some(RetryAfter::Seconds(0));
    throttle_every_call(
        &env,
        Endpoint::UsersBulk,
        users_bulk_rounds,
        &[
            Fault::RateLimited {
                retry_after: zero(),
            },
            Fault::Status {
                status: 503,
                retry_after: zero(),
            },
            Fault::QuotaExhausted {
                reason: Some("confluence-quota-tenant-based".into()),
                retry_after: zero(),
            },
            Fault::BetaRateLimited {
                after: Duration::ZERO,
            },
        ],
    );
    throttle_every_call(
        &env,
        Endpoint::AdminSearch,
        admin_pages,
        &[
            Fault::RateLimited {
                retry_after: zero(),
            },
            Fault::Status {
                status: 503,
                retry_after: zero(),
            },
        ],
    );

    let ids = env.ids();
    let body = json!({ "accountIds": ids });
    ensure!(
        body.to_string().len() < 1024 * 1024,
        "fits the 1 MiB body limit"
    );
    let started = Instant::now();
    let (status, _, answer) = env.lookup(body).await?;
    let elapsed = started.elapsed();
    ensure!(status == 200, "{status}: {answer}");
    // The ids are the directory's, in its order: the expected answer follows it (without a
    // directory scan per id).
    let expected: Vec<Value> = env
        .directory
        .users
        .iter()
        .filter_map(|u| {
            expected_email(u, Sources::Chain)
                .map(|email| json!({"accountId": u.account_id, "emailAddress": email}))
        })
        .collect();
    ensure!(
        answer == Value::Array(expected),
        "the answer is complete and exact"
    );

    let users_bulk = env.fake.request_count(Endpoint::UsersBulk) as u64;
    let admin = env.fake.request_count(Endpoint::AdminSearch) as u64;
    let points = env.fake.points_used();
    wait_for_log_lines(env.server.log_dir(), 1).await;
    let log = std::fs::read_to_string(env.server.log_dir().join("identity-accessor_stdout.txt"))?;
    let line: Value = serde_json::from_str(log.lines().next().unwrap_or_default())?;

    let order = [SourceKind::Confluence, SourceKind::Admin];
    let bound = most(n, &order, Upstream::RetriedAndPaged);
    // What retries alone make for the ids each source was asked about: paging must add to it.
    let unpaged_users_bulk = most(n, &[SourceKind::Confluence], Upstream::Retried);
    let unpaged_admin = most(
        unresolved_by_confluence,
        &[SourceKind::Admin],
        Upstream::Retried,
    );
    eprintln!(
        "cost: {n} ids -> {} upstream calls ({users_bulk} users-bulk + {admin} admin, {} retries) \
         and {points} Confluence points in {elapsed:.1?}; bound {} calls ({} + {}), {} points; \
         retries without paging would make {} + {}",
        users_bulk + admin,
        line["retries"],
        bound.calls(),
        bound.users_bulk_calls,
        bound.admin_calls,
        bound.confluence_points,
        unpaged_users_bulk.users_bulk_calls,
        unpaged_admin.admin_calls,
    );
    // Exactly what the fake was set up to make, the log agreeing with the fake's count...
    ensure!(users_bulk == (users_bulk_rounds * attempts) as u64);
    ensure!(admin == (admin_pages * attempts) as u64);
    ensure!(line["upstreamCalls"] == json!(users_bulk + admin), "{line}");
    ensure!(
        line["retries"] == json!((users_bulk_rounds + admin_pages) * (attempts - 1)),
        "{line}"
    );
    ensure!(points == (users_bulk_rounds + 2 * n) as u64, "{points}");
    // ...past what the published maxima and retries alone would make (paging added rounds and
    // pages), and within the bound, source by source.
    ensure!(users_bulk > unpaged_users_bulk.users_bulk_calls);
    ensure!(admin > unpaged_admin.admin_calls);
    ensure!(users_bulk <= bound.users_bulk_calls && admin <= bound.admin_calls);
    ensure!(points <= bound.confluence_points);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_burst_limit_the_deadline_decides() -> Result<()> {
    // 200 ids the admin source is asked for: 20 calls, against 10 calls per 3 s.
    let ids: Vec<String> = (0..200).map(|i| format!("burst-{i:03}")).collect();
    let burst = BurstLimit {
        calls: 10,
        window: Duration::from_secs(3),
    };
    let windows = ids.len().div_ceil(10).div_ceil(burst.calls as usize);
    assert_eq!(windows, 2);

    // Deadline 10 s: room for (2 - 1) windows of waiting (each Retry-After at most 3 s) plus
    // 2 s for the retry. Served, having waited for the second window; every refused call
    // retried once.
    let env = Env::start(Sources::Admin, &[("request_timeout_ms", "10000")]).await?;
    env.fake.set_burst_limit(Some(burst));
    let started = Instant::now();
    let (status, _, body) = env.lookup(json!({ "accountIds": ids })).await?;
    ensure!(status == 200, "{status}: {body}");
    ensure!(
        started.elapsed() >= burst.window,
        "waited for the second window"
    );
    let requests = env.requests_to(Endpoint::AdminSearch);
    let refused = requests.iter().filter(|r| r.status == 429).count();
    ensure!(
        refused >= 1 && requests.len() == 20 + refused,
        "{}",
        requests.len()
    );
    wait_for_log_lines(env.server.log_dir(), 1).await;
    let log = std::fs::read_to_string(env.server.log_dir().join("identity-accessor_stdout.txt"))?;
    let line: Value = serde_json::from_str(log.lines().next().unwrap_or_default())?;
    ensure!(line["retries"] == json!(refused), "{line}");
    env.finish().await?;

    // Deadline 4.5 s, under one window + 2 s: a refusal at time t asks for the rest of the
    // window, W - t (rounded up), and W - t + 2 s for a useful retry never fits in the 4.5 s - t
    // left. Answered at once, with the wait, instead of spending the deadline.
    let env = Env::start(Sources::Admin, &[("request_timeout_ms", "4500")]).await?;
    env.fake.set_burst_limit(Some(burst));
    let (status, headers, body) = env.lookup(json!({ "accountIds": ids })).await?;
    ensure!(
        (status, body["error"].as_str()) == (503, Some("upstream_rate_limited")),
        "{status}: {body}"
    );
    let retry_after: u64 = headers["retry-after"].to_str()?.parse()?;
    ensure!((1..=3).contains(&retry_after), "{retry_after}");
    // The window's 10 calls were let through (a call still in flight when the lookup ended is
    // recorded unanswered), the next refused, and the lookup did not wait: no retry.
    let requests = env.requests_to(Endpoint::AdminSearch);
    let (refused, let_through): (Vec<_>, Vec<_>) = requests.iter().partition(|r| r.status == 429);
    ensure!(
        !refused.is_empty() && let_through.len() <= 10,
        "{requests:?}"
    );
    ensure!(refused
        .iter()
        .all(|r| r.fault.as_deref() == Some("burstLimit")));
    wait_for_log_lines(env.server.log_dir(), 1).await;
    let log = std::fs::read_to_string(env.server.log_dir().join("identity-accessor_stdout.txt"))?;
    let line: Value = serde_json::from_str(log.lines().next().unwrap_or_default())?;
    ensure!(line["retries"] == 0, "{line}");
    env.finish().await
}
