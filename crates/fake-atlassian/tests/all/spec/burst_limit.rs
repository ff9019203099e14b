//! The burst limit: at most N calls per window on each endpoint, any credential, then `429`
//! with `Retry-After` and `X-RateLimit-*` (Atlassian's burst limits apply per endpoint and to
//! API-token traffic too).

use std::time::{Duration, Instant};

use fake_atlassian::{BurstLimit, Endpoint};
use serde_json::{json, Value};

use crate::support::{start, MANAGED_VISIBLE};

#[tokio::test]
async fn past_n_calls_a_window_answers_429_until_it_ends() -> anyhow::Result<()> {
    let ctx = start().await?;
    let window = Duration::from_secs(3);
    ctx.fake
        .set_burst_limit(Some(BurstLimit { calls: 3, window }));
    let started = Instant::now();
    for remaining in ["2", "1", "0"] {
        let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-ratelimit-limit"], "3");
        assert_eq!(r.headers()["x-ratelimit-remaining"], remaining);
    }
    let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    assert_eq!(r.status(), 429);
    let h = r.headers().clone();
    let wait: u64 = h["retry-after"].to_str()?.parse()?;
    assert!(
        (1..=3).contains(&wait),
        "whole seconds to the window's end: {wait}"
    );
    assert_eq!(h["x-ratelimit-limit"], "3");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert!(h["x-ratelimit-reset"].to_str()?.ends_with('Z'));
    assert!(
        h.get("ratelimit-reason").is_none(),
        "none documented for a burst limit"
    );
    let body: Value = r.json().await?;
    assert_eq!(body["code"], 429);

    // Another endpoint, another credential: its own window.
    let r = ctx.admin(json!({})).send().await?;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "2");
    // Still refused until the window ends; then a new window.
    assert_eq!(
        ctx.users_bulk_gateway(&[MANAGED_VISIBLE])
            .send()
            .await?
            .status(),
        429
    );
    tokio::time::sleep(window.saturating_sub(started.elapsed())).await;
    let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-ratelimit-remaining"], "2");

    let refused: Vec<_> = ctx
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.status == 429)
        .collect();
    assert_eq!(refused.len(), 2);
    assert!(refused.iter().all(
        |r| r.fault.as_deref() == Some("burstLimit") && r.endpoint == Some(Endpoint::UsersBulk)
    ));

    ctx.fake.set_burst_limit(None);
    let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    assert!(r.headers().get("x-ratelimit-limit").is_none());
    Ok(())
}

#[tokio::test]
async fn the_control_api_sets_and_clears_the_burst_limit() -> anyhow::Result<()> {
    let ctx = start().await?;
    let control = format!("{}/__control", ctx.fake.url());
    let r = ctx
        .http
        .put(format!("{control}/burst-limit"))
        .json(&json!({"limit": {"calls": 1, "windowMs": 60000}}))
        .send()
        .await?;
    assert_eq!(r.status(), 204);
    let limits: Value = ctx.control_get("limits").await?;
    assert_eq!(limits["burstLimit"], json!({"calls": 1, "windowMs": 60000}));
    assert_eq!(ctx.admin(json!({})).send().await?.status(), 200);
    let r = ctx.admin(json!({})).send().await?;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"].to_str()?.parse()?;
    assert!((59..=60).contains(&wait), "{wait}");
    ctx.http
        .put(format!("{control}/burst-limit"))
        .json(&json!({"limit": null}))
        .send()
        .await?;
    assert_eq!(ctx.admin(json!({})).send().await?.status(), 200);
    let r = ctx
        .http
        .put(format!("{control}/burst-limit"))
        .json(&json!({"limit": {"calls": 1}}))
        .send()
        .await?;
    assert_eq!(r.status(), 400, "windowMs is required");
    Ok(())
}
