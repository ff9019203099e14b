//! The `rateLimitReset` fault: a 429 whose only wait hint is `X-RateLimit-Reset`.

use std::time::{Duration, SystemTime};

use fake_atlassian::{Endpoint, Fault};
use serde_json::json;

use crate::support::{start, MANAGED_VISIBLE};

/// Parses `YYYY-MM-DDTHH:MM:SSZ` into Unix seconds (humantime's strict RFC 3339 parser, not
/// the fake's formatter).
fn unix_of(rfc3339: &str) -> anyhow::Result<u64> {
    let at = humantime::parse_rfc3339(rfc3339)?;
    Ok(at.duration_since(SystemTime::UNIX_EPOCH)?.as_secs())
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
        let at = unix_of(reset)?;
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
