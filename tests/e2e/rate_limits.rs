//! Atlassian's rate limits as published, through the compiled component: `Retry-After` on a
//! `503` honoured as on a `429`, `Beta-Retry-After` when `Retry-After` is absent, the throttled
//! answer's `RateLimit-Reason` (made safe) and `X-RateLimit-NearLimit` in the request log, and
//! the points an OAuth 2.0 bearer token spends (API tokens spend none).

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use fake_atlassian::{Directory, Endpoint, Fault, PointsQuota, QuotaScope, RetryAfter};
use serde_json::{json, Value};

use crate::support::*;

fn code(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("")
}

/// The component's log lines so far (after waiting for `n` of them).
async fn log_lines(env: &Env, n: usize) -> Result<Vec<Value>> {
    let lines = component_log_lines(env.server.log_dir(), n).await?;
    ensure!(lines.len() >= n, "{} log lines, wanted {n}", lines.len());
    Ok(lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_with_retry_after_is_waited_out_like_a_429() -> Result<()> {
    let env = Env::start(Sources::Basic, &[]).await?;
    env.fake.inject(
        Endpoint::UsersBulk,
        Fault::Status {
            status: 503,
            retry_after: Some(RetryAfter::Seconds(1)),
        },
        1,
    );
    let ids = env.ids();
    let started = Instant::now();
    let (status, _, body) = env.lookup(json!({ "accountIds": ids })).await?;
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited 1 s");
    assert_eq!(
        body,
        expected_answer(&env.directory, &ids, Sources::Basic, false)
    );
    assert_eq!(env.fake.request_count(Endpoint::UsersBulk), 2);

    // Past the deadline: at once, with the wait Atlassian asked for.
    env.fake.inject(
        Endpoint::UsersBulk,
        Fault::Status {
            status: 503,
            retry_after: Some(RetryAfter::Seconds(120)),
        },
        1,
    );
    let (status, headers, body) = env.lookup(json!({ "accountIds": ids })).await?;
    assert_eq!((status, code(&body)), (503, "upstream_rate_limited"));
    assert_eq!(headers["retry-after"], "120");
    assert_eq!(env.fake.request_count(Endpoint::UsersBulk), 3, "no retry");
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beta_retry_after_is_honoured_when_retry_after_is_absent() -> Result<()> {
    let env = Env::start(Sources::Basic, &[]).await?;
    env.fake.inject(
        Endpoint::UsersBulk,
        Fault::BetaRateLimited {
            after: Duration::from_secs(1),
        },
        1,
    );
    let ids = env.ids();
    let started = Instant::now();
    let (status, _, body) = env.lookup(json!({ "accountIds": ids })).await?;
    assert_eq!(status, 200, "{body}");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited 1 s");
    assert_eq!(env.fake.request_count(Endpoint::UsersBulk), 2);

    env.fake.inject(
        Endpoint::UsersBulk,
        Fault::BetaRateLimited {
            after: Duration::from_secs(90),
        },
        1,
    );
    let (status, headers, body) = env.lookup(json!({ "accountIds": ids })).await?;
    assert_eq!((status, code(&body)), (503, "upstream_rate_limited"));
    assert_eq!(headers["retry-after"], "90");
    let lines = log_lines(&env, 2).await?;
    assert_eq!(lines[0]["rateLimitReason"], "confluence-quota-global-based");
    assert_eq!(lines[0]["retries"], 1);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_tells_a_tenant_quota_from_a_global_one() -> Result<()> {
    let env = Env::start(Sources::Basic, &[]).await?;
    let ids = env.ids();
    let hidden_id = ids[0].clone();
    for reason in [
        Some("confluence-quota-tenant-based".to_string()),
        None,
        // Hostile values never reach the log as sent: an id, an email, a JSON breaker.
        Some(hidden_id.clone()),
        Some("ada@example.com".to_string()),
        Some("x\",\"status\":200,\"y\":\"".to_string()),
    ] {
        env.fake.inject(
            Endpoint::UsersBulk,
            Fault::QuotaExhausted {
                reason,
                retry_after: Some(RetryAfter::Seconds(0)),
            },
            1,
        );
        let (status, _, body) = env.lookup(json!({ "accountIds": ids })).await?;
        assert_eq!(status, 200, "{body}");
    }
    // And one request Atlassian did not throttle.
    env.lookup(json!({ "accountIds": ids })).await?;
    let lines = log_lines(&env, 6).await?;
    let reasons: Vec<&Value> = lines.iter().map(|l| &l["rateLimitReason"]).collect();
    assert_eq!(
        reasons,
        [
            &json!("confluence-quota-tenant-based"),
            &json!("confluence-quota-global-based"),
            &json!("unrecognized"),
            &json!("unrecognized"),
            &json!("unrecognized"),
            &Value::Null,
        ]
    );
    // A spent quota's answer says the quota is near its limit.
    assert!(lines[..5].iter().all(|l| l["nearLimit"] == true));
    assert!(lines[5].get("nearLimit").is_none());
    for line in &lines {
        ensure!(line["status"] == 200, "one JSON object per line: {line}");
    }
    let mut env = env;
    env.never_logged.push("ada@example.com".into());
    env.finish().await
}

/// The directory of the points test: 1,000 users, a third hidden, a third unknown to Atlassian.
fn thousand() -> (Directory, Vec<String>) {
    let directory = Directory::generated(1000);
    let mut ids: Vec<String> = directory.users[..667]
        .iter()
        .map(|u| u.account_id.clone())
        .collect();
    ids.extend((0..333).map(|i| format!("unknown-{i}")));
    (directory, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oauth_token_spends_points_and_an_api_token_none() -> Result<()> {
    let quota = PointsQuota {
        points: 65_000,
        scope: QuotaScope::Global,
    };
    let (directory, ids) = thousand();
    // OAuth 2.0 bearer: 1 point per users-bulk call + 2 per user object returned (every known
    // id, hidden or not).
    let env = Env::with_directory(directory.clone(), Sources::Bearer, &[]).await?;
    env.fake.set_points_quota(Some(quota));
    let (status, _, body) = env.lookup(json!({ "accountIds": ids })).await?;
    assert_eq!(status, 200, "{body}");
    let calls = env.fake.request_count(Endpoint::UsersBulk) as u64;
    assert_eq!(calls, 4, "1,000 ids / 250");
    let users = 667;
    assert_eq!(env.fake.points_used(), calls + 2 * users);
    eprintln!(
        "points: 1,000 ids ({users} known) through an OAuth bearer token cost {} points",
        env.fake.points_used()
    );
    // Every id known: the most a lookup of 1,000 ids costs without retries or paging.
    env.fake.set_points_quota(Some(quota));
    let all: Vec<String> = directory
        .users
        .iter()
        .map(|u| u.account_id.clone())
        .collect();
    env.lookup(json!({ "accountIds": all })).await?;
    let bound = identity_accessor::upstream::cost::most(
        1000,
        &[identity_accessor::upstream::SourceKind::Confluence],
        identity_accessor::upstream::cost::Upstream::Clean,
    );
    assert_eq!(env.fake.points_used(), bound.confluence_points);
    assert_eq!(bound.confluence_points, 2004);

    // A quota too small for the lookup: it is spent part way; the lookup fails at once with
    // Retry-After (the reset is up to an hour away, clamped to 300 s) and the log says which
    // quota it was.
    env.fake.set_points_quota(Some(PointsQuota {
        points: 1200,
        scope: QuotaScope::Tenant,
    }));
    let (status, headers, body) = env.lookup(json!({ "accountIds": all })).await?;
    assert_eq!((status, code(&body)), (503, "upstream_rate_limited"));
    let retry_after: u64 = headers["retry-after"].to_str()?.parse()?;
    assert!((1..=300).contains(&retry_after), "{retry_after}");
    let lines = log_lines(&env, 3).await?;
    assert_eq!(lines[2]["rateLimitReason"], "confluence-quota-tenant-based");
    assert_eq!(lines[2]["nearLimit"], true);
    assert!(
        lines[0].get("nearLimit").is_none(),
        "2,004 of 65,000 is not near"
    );
    env.finish().await?;

    // A classic API token (basic auth): not metered at all.
    let env = Env::with_directory(directory, Sources::Basic, &[]).await?;
    env.fake.set_points_quota(Some(quota));
    let (status, _, _) = env.lookup(json!({ "accountIds": ids })).await?;
    assert_eq!(status, 200);
    assert_eq!(env.fake.request_count(Endpoint::UsersBulk), 4);
    assert_eq!(env.fake.points_used(), 0);
    env.finish().await
}
