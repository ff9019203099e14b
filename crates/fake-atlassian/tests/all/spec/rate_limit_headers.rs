//! The throttling answers Atlassian documents (Confluence Cloud "Rate limiting", 2026; the
//! Organizations REST API's 429): a spent points quota with `RateLimit-Reason`, the beta
//! `Beta-Retry-After` form, and a `503` with `Retry-After`, each with the headers of the API called.

use std::time::{Duration, SystemTime};

use fake_atlassian::{Endpoint, Fault, RetryAfter};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

use crate::support::{start, MANAGED_VISIBLE};

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// Seconds from now to the top of the next UTC hour (test-side, independent of the fake).
fn to_next_hour() -> u64 {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (now / 3600 + 1) * 3600 - now
}

#[tokio::test]
async fn a_spent_quota_says_which_quota_on_the_confluence_apis() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.fake.inject(
        Endpoint::UsersBulk,
        Fault::QuotaExhausted {
            reason: Some("confluence-quota-tenant-based".into()),
            retry_after: Some(RetryAfter::Seconds(2)),
        },
        1,
    );
    ctx.fake.inject(
        Endpoint::UsersBulk,
        Fault::QuotaExhausted {
            reason: None,
            retry_after: None,
        },
        1,
    );
    let r = ctx.users_bulk_gateway(&[MANAGED_VISIBLE]).send().await?;
    assert_eq!(r.status(), 429);
    let h = r.headers().clone();
    assert_eq!(
        header(&h, "ratelimit-reason"),
        Some("confluence-quota-tenant-based")
    );
    assert_eq!(header(&h, "retry-after"), Some("2"));
    assert_eq!(header(&h, "x-ratelimit-limit"), Some("65000"));
    assert_eq!(header(&h, "x-ratelimit-remaining"), Some("0"));
    assert_eq!(header(&h, "x-ratelimit-nearlimit"), Some("true"));
    let reset = header(&h, "x-ratelimit-reset").unwrap_or_default();
    assert!(reset.ends_with(":00:00Z"), "the top of an hour: {reset}");
    let body: Value = r.json().await?;
    assert_eq!(body["code"], 429);

    // Without a Retry-After of its own: until the quota resets.
    let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    let h = r.headers();
    assert_eq!(
        header(h, "ratelimit-reason"),
        Some("confluence-quota-global-based")
    );
    let wait: u64 = header(h, "retry-after").unwrap_or_default().parse()?;
    let expected = to_next_hour();
    assert!(wait.abs_diff(expected) <= 2, "{wait} vs {expected}");
    Ok(())
}

#[tokio::test]
async fn the_admin_api_gets_only_its_documented_headers() -> anyhow::Result<()> {
    let ctx = start().await?;
    let quota = Fault::QuotaExhausted {
        reason: Some("confluence-quota-tenant-based".into()),
        retry_after: Some(RetryAfter::Seconds(3)),
    };
    ctx.fake.inject(Endpoint::AdminSearch, quota, 1);
    ctx.fake.inject(
        Endpoint::AdminSearch,
        Fault::BetaRateLimited {
            after: Duration::from_secs(4),
        },
        1,
    );
    for expect_retry_after in [Some("3"), None] {
        let r = ctx.admin(json!({})).send().await?;
        assert_eq!(r.status(), 429);
        let h = r.headers().clone();
        assert_eq!(header(&h, "retry-after"), expect_retry_after);
        assert!(header(&h, "x-ratelimit-reset").is_some());
        assert_eq!(header(&h, "x-ratelimit-remaining"), Some("0"));
        for undocumented in [
            "ratelimit-reason",
            "x-ratelimit-nearlimit",
            "beta-retry-after",
            "beta-ratelimit-policy",
        ] {
            assert!(h.get(undocumented).is_none(), "{undocumented}");
        }
        let body: Value = r.json().await?;
        super::assert_admin_error(&body, 429, "admin 429");
    }
    Ok(())
}

#[tokio::test]
async fn a_beta_429_carries_only_beta_retry_after() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.fake.inject(
        Endpoint::UsersBulk,
        Fault::BetaRateLimited {
            after: Duration::from_secs(5),
        },
        1,
    );
    let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    assert_eq!(r.status(), 429);
    let h = r.headers();
    assert_eq!(header(h, "beta-retry-after"), Some("5"));
    assert_eq!(
        header(h, "beta-ratelimit-policy"),
        Some("\"global-app-quota\";q=65000;w=3600")
    );
    assert_eq!(
        header(h, "beta-ratelimit"),
        Some("\"global-app-quota\";r=0;t=5")
    );
    assert_eq!(
        header(h, "ratelimit-reason"),
        Some("confluence-quota-global-based")
    );
    assert!(h.get("retry-after").is_none());
    assert!(h.get("x-ratelimit-reset").is_none());
    Ok(())
}

#[tokio::test]
async fn a_503_may_carry_retry_after() -> anyhow::Result<()> {
    let ctx = start().await?;
    let date = httpdate_in(30);
    for retry_after in [
        Some(RetryAfter::Seconds(7)),
        Some(RetryAfter::Raw(date.clone())),
        None,
    ] {
        let sent = retry_after.as_ref().map(RetryAfter::header_value);
        ctx.fake.inject(
            Endpoint::Any,
            Fault::Status {
                status: 503,
                retry_after,
            },
            2,
        );
        for r in [
            ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?,
            ctx.admin(json!({})).send().await?,
        ] {
            assert_eq!(r.status(), 503);
            assert_eq!(header(r.headers(), "retry-after"), sent.as_deref());
        }
    }
    Ok(())
}

/// An HTTP date `secs` from now (the fake sends `Raw` verbatim).
fn httpdate_in(secs: u64) -> String {
    httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(secs))
}
