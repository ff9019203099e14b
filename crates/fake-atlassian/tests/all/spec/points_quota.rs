//! The points quota of app traffic (Confluence Cloud "Rate limiting", enforced from
//! 2026-03-02): OAuth 2.0 and app calls cost 1 point plus 2 per user object returned;
//! API-token traffic and the admin API are not metered. The answers carry the quota headers, and
//! a spent quota refuses every metered call with `RateLimit-Reason`.

use fake_atlassian::{points, PointsQuota, QuotaScope};
use serde_json::{json, Value};

use crate::support::{start, MANAGED_HIDDEN, MANAGED_VISIBLE, UNMANAGED_VISIBLE};

#[tokio::test]
async fn oauth_calls_cost_one_point_plus_two_per_user() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.fake.set_points_quota(Some(PointsQuota {
        points: 1000,
        scope: QuotaScope::Global,
    }));
    // Three known ids and one unknown: three user objects.
    let ids = [
        MANAGED_VISIBLE,
        MANAGED_HIDDEN,
        UNMANAGED_VISIBLE,
        "no-such-id",
    ];
    let r = ctx.users_bulk_gateway(&ids).send().await?;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let body: Value = r.json().await?;
    assert_eq!(body["results"].as_array().map(Vec::len), Some(3));
    assert_eq!(points(3), 7);
    assert_eq!(ctx.fake.points_used(), 7);
    assert_eq!(h["x-ratelimit-limit"], "1000");
    assert_eq!(h["x-ratelimit-remaining"], "993");
    assert_eq!(
        h["beta-ratelimit-policy"],
        "\"global-app-quota\";q=1000;w=3600"
    );
    assert!(h.get("x-ratelimit-nearlimit").is_none());
    assert!(
        h.get("beta-ratelimit").is_none(),
        "r appears only past ~80% use"
    );

    // API tokens (site and scoped, basic auth) and the admin API are not metered.
    let r = ctx.users_bulk_site(&ids).send().await?;
    assert!(r.headers().get("x-ratelimit-limit").is_none());
    let scoped = ctx
        .http
        .post(format!("{}/wiki/api/v2/users-bulk", ctx.gateway()))
        .basic_auth(&ctx.creds.site_email, Some(&ctx.creds.scoped_api_token))
        .json(&json!({ "accountIds": ids }))
        .send()
        .await?;
    assert_eq!(scoped.status(), 200);
    assert!(scoped.headers().get("x-ratelimit-limit").is_none());
    ctx.admin(json!({})).send().await?;
    assert_eq!(ctx.fake.points_used(), 7);
    Ok(())
}

#[tokio::test]
async fn near_the_limit_it_says_so_and_a_spent_quota_refuses() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.fake.set_points_quota(Some(PointsQuota {
        points: 20,
        scope: QuotaScope::Tenant,
    }));
    let three = [MANAGED_VISIBLE, MANAGED_HIDDEN, UNMANAGED_VISIBLE];
    // 7 + 7 = 14 of 20: 6 left, 30%.
    for _ in 0..2 {
        let r = ctx.users_bulk_gateway(&three).send().await?;
        assert!(r.headers().get("x-ratelimit-nearlimit").is_none());
    }
    // 21 of 20: nothing left.
    let r = ctx.users_bulk_gateway(&three).send().await?;
    assert_eq!(r.status(), 200);
    let h = r.headers();
    assert_eq!(h["x-ratelimit-remaining"], "0");
    assert_eq!(h["x-ratelimit-nearlimit"], "true");
    let beta = h["beta-ratelimit"].to_str()?;
    assert!(beta.starts_with("\"tenant-app-quota\";r=0;t="), "{beta}");

    let r = ctx.users_bulk_gateway(&three).send().await?;
    assert_eq!(r.status(), 429);
    let h = r.headers();
    assert_eq!(h["ratelimit-reason"], "confluence-quota-tenant-based");
    assert_eq!(h["x-ratelimit-nearlimit"], "true");
    assert!(h["retry-after"].to_str()?.parse::<u64>()? <= 3600);
    assert!(h["x-ratelimit-reset"].to_str()?.ends_with(":00:00Z"));
    assert_eq!(ctx.fake.points_used(), 21, "a refused call costs nothing");
    let last = ctx.fake.requests().pop().expect("recorded");
    assert_eq!(last.fault.as_deref(), Some("pointsQuota"));
    // API-token traffic is not blocked by the app quota.
    assert_eq!(ctx.users_bulk_site(&three).send().await?.status(), 200);

    // Setting the quota again starts a new hour.
    let control = format!("{}/__control", ctx.fake.url());
    ctx.http
        .put(format!("{control}/points-quota"))
        .json(&json!({"quota": {"points": 20, "scope": "tenant"}}))
        .send()
        .await?;
    assert_eq!(ctx.users_bulk_gateway(&three).send().await?.status(), 200);
    let limits: Value = ctx.control_get("limits").await?;
    assert_eq!(limits["pointsUsed"], 7);
    assert_eq!(
        limits["pointsQuota"],
        json!({"points": 20, "scope": "tenant"})
    );
    Ok(())
}
