//! The `rateLimitReset` fault: a 429 whose only wait hint is `X-RateLimit-Reset`.

use std::time::{Duration, SystemTime};

use fake_atlassian::{Endpoint, Fault};
use serde_json::json;

use crate::support::{start, MANAGED_VISIBLE};

/// Parses `YYYY-MM-DDTHH:MM:SSZ` into Unix seconds (test-side, independent of the fake).
fn unix_of(iso: &str) -> u64 {
    let n = |r: std::ops::Range<usize>| iso[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    (days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19)) as u64
}

#[tokio::test]
async fn a_429_with_only_x_ratelimit_reset() -> anyhow::Result<()> {
    let ctx = start().await?;
    let fault = Fault::RateLimitReset {
        after: Duration::from_secs(7),
    };
    ctx.fake.inject(Endpoint::UsersBulk, fault.clone(), 1);
    ctx.fake.inject(Endpoint::AdminSearch, fault, 1);
    let before = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)?
        .as_secs();
    for response in [
        ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?,
        ctx.admin(json!({})).send().await?,
    ] {
        assert_eq!(response.status(), 429);
        let h = response.headers();
        assert!(h.get("retry-after").is_none());
        let reset = h["x-ratelimit-reset"].to_str()?;
        assert!(reset.ends_with('Z') && reset.len() == 20, "{reset}");
        let at = unix_of(reset);
        assert!(at >= before + 7 && at <= before + 9, "{reset}");
    }
    Ok(())
}

#[tokio::test]
async fn a_blind_429_carries_no_wait_hint() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.fake.inject(
        Endpoint::UsersBulk,
        Fault::RateLimited { retry_after: None },
        1,
    );
    let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_none());
    assert!(r.headers().get("x-ratelimit-reset").is_none());
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    Ok(())
}
