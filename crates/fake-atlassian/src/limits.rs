//! Atlassian's rate limits, as the fake enforces them when told to (both off by default). From
//! Atlassian's "Rate limiting" pages (Confluence Cloud, 2026;
//! <https://developer.atlassian.com/cloud/confluence/rate-limiting/>):
//!
//! - **Burst limit** ([`BurstLimit`], any credential, every API endpoint): at most `calls` calls
//!   per `window` for each endpoint (Atlassian's burst limits apply per tenant, endpoint and
//!   method, and to API-token traffic too). Windows are fixed, each starting at the first call
//!   after the previous one ended. Past the limit: `429` with `Retry-After` (whole seconds until
//!   the window ends, at least 1), `X-RateLimit-Limit: <calls>`, `X-RateLimit-Remaining: 0` and
//!   `X-RateLimit-Reset` (the window's end, ISO 8601, rounded up to the second). Answers within
//!   the limit carry `X-RateLimit-Limit` and `X-RateLimit-Remaining`. Atlassian documents no
//!   `RateLimit-Reason` for a Confluence burst limit, so none is sent.
//! - **Points quota** ([`PointsQuota`], app traffic only): Confluence calls made with an OAuth
//!   2.0 bearer token or an app token cost 1 point plus 2 per user object returned (`users-bulk`
//!   results; privacy email API entries); API-token (basic auth) traffic and the admin API are
//!   not metered. Each metered answer carries `X-RateLimit-Limit: <quota>`,
//!   `X-RateLimit-Remaining`, `Beta-RateLimit-Policy: "<policy>";q=<quota>;w=3600`, and, once
//!   less than 20% is left, `X-RateLimit-NearLimit: true` and
//!   `Beta-RateLimit: "<policy>";r=<remaining>;t=<seconds to reset>` (Atlassian shows `r` only
//!   past ~80% use). Once spent, every metered call is refused until the quota is set again:
//!   `429` with `RateLimit-Reason: confluence-quota-global-based` (or `-tenant-based`),
//!   `X-RateLimit-NearLimit: true`, `X-RateLimit-Reset` at the top of the next UTC hour and
//!   `Retry-After` until then. Atlassian resets quotas at the top of each UTC hour; the fake
//!   resets only when the quota is set again, so a test never flakes across an hour.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use hyper::header::{HeaderName, RETRY_AFTER};
use hyper::StatusCode;
use serde::{Deserialize, Serialize};

use crate::endpoint::Endpoint;
use crate::reply::{ErrorShape, Reply};

/// At most `calls` calls per `window`, per endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BurstLimit {
    /// Calls allowed in one window (0 acts as 1).
    pub calls: u32,
    /// The window.
    #[serde(rename = "windowMs", with = "millis")]
    pub window: Duration,
}

/// Whose quota a points quota is: the `RateLimit-Reason` and policy name it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum QuotaScope {
    /// Tier 1, the default: one pool for the app across every tenant
    /// (`confluence-quota-global-based`, `global-app-quota`).
    Global,
    /// Tier 2: a pool per tenant (`confluence-quota-tenant-based`, `tenant-app-quota`).
    Tenant,
}

impl QuotaScope {
    /// The `RateLimit-Reason` of a call this quota refuses.
    pub fn reason(self) -> &'static str {
        match self {
            QuotaScope::Global => "confluence-quota-global-based",
            QuotaScope::Tenant => "confluence-quota-tenant-based",
        }
    }

    /// The policy name in `Beta-RateLimit-Policy` and `Beta-RateLimit`.
    pub fn policy(self) -> &'static str {
        match self {
            QuotaScope::Global => "global-app-quota",
            QuotaScope::Tenant => "tenant-app-quota",
        }
    }
}

/// An hourly points quota for app traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PointsQuota {
    /// Points per hour (Atlassian's tier 1 default: 65,000).
    pub points: u64,
    /// Whose pool it is.
    pub scope: QuotaScope,
}

/// Points one call costs: 1, plus 2 per user object returned.
pub fn points(objects: u64) -> u64 {
    1 + 2 * objects
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// The limits' state: configuration, the current window per endpoint, points used.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    burst: Option<BurstLimit>,
    windows: HashMap<Endpoint, (Instant, u32)>,
    quota: Option<PointsQuota>,
    used: u64,
}

/// The wall-clock time `after` from now, rounded up to the second.
pub(crate) fn ceil_second(now: SystemTime, after: Duration) -> SystemTime {
    let since = (now + after)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs() + u64::from(since.subsec_nanos() > 0);
    SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
}

/// The top of the next UTC hour.
pub(crate) fn next_hour(now: SystemTime) -> SystemTime {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_secs((secs / 3600 + 1) * 3600)
}

/// `d` in whole seconds, rounded up, at least 1.
fn whole_seconds(d: Duration) -> u64 {
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1)
}

/// Whole seconds from `now` until `at`, at least 1.
fn seconds_until(now: SystemTime, at: SystemTime) -> u64 {
    whole_seconds(at.duration_since(now).unwrap_or_default())
}

impl Limits {
    pub fn set_burst(&mut self, burst: Option<BurstLimit>) {
        self.burst = burst;
        self.windows.clear();
    }

    pub fn burst(&self) -> Option<BurstLimit> {
        self.burst
    }

    /// Sets the quota and forgets the points used.
    pub fn set_quota(&mut self, quota: Option<PointsQuota>) {
        self.quota = quota;
        self.used = 0;
    }

    pub fn quota(&self) -> Option<PointsQuota> {
        self.quota
    }

    pub fn used(&self) -> u64 {
        self.used
    }

    /// Counts a call of `endpoint` against the burst limit: `Err` with the `429` past it, else
    /// the `(limit, remaining)` to report (none without a burst limit).
    pub fn admit(
        &mut self,
        endpoint: Endpoint,
        now: Instant,
        wall: SystemTime,
        shape: ErrorShape,
    ) -> Result<Option<(u32, u32)>, Reply> {
        let Some(burst) = self.burst else {
            return Ok(None);
        };
        let calls = burst.calls.max(1);
        let window = burst.window.max(Duration::from_millis(1));
        let (started, used) = self.windows.entry(endpoint).or_insert((now, 0));
        if now.duration_since(*started) >= window {
            *started = now;
            *used = 0;
        }
        if *used >= calls {
            let left = window.saturating_sub(now.duration_since(*started));
            let reset = ceil_second(wall, left);
            let reply =
                Reply::error_in(shape, StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded")
                    .with_header(RETRY_AFTER, &whole_seconds(left).to_string())
                    .with_header(
                        HeaderName::from_static("x-ratelimit-limit"),
                        &calls.to_string(),
                    )
                    .with_header(HeaderName::from_static("x-ratelimit-remaining"), "0")
                    .with_rate_limit_reset(reset);
            return Err(reply);
        }
        *used += 1;
        Ok(Some((calls, calls - *used)))
    }

    /// The `429` for a metered call when the quota is spent.
    pub fn refuse_spent(&self, wall: SystemTime) -> Option<Reply> {
        let quota = self.quota?;
        (self.used >= quota.points)
            .then(|| quota_exhausted(quota, quota.scope.reason(), None, wall))
    }

    /// Charges a metered answer `points` and adds the quota headers to it.
    pub fn charge(&mut self, reply: Reply, points: u64, wall: SystemTime) -> Reply {
        let Some(quota) = self.quota else {
            return reply;
        };
        self.used = self.used.saturating_add(points);
        let remaining = quota.points.saturating_sub(self.used);
        let mut reply = reply
            .with_header(
                HeaderName::from_static("x-ratelimit-limit"),
                &quota.points.to_string(),
            )
            .with_header(
                HeaderName::from_static("x-ratelimit-remaining"),
                &remaining.to_string(),
            )
            .with_header(
                HeaderName::from_static("beta-ratelimit-policy"),
                &format!("\"{}\";q={};w=3600", quota.scope.policy(), quota.points),
            );
        if remaining * 5 < quota.points {
            reply = reply
                .with_header(HeaderName::from_static("x-ratelimit-nearlimit"), "true")
                .with_header(
                    HeaderName::from_static("beta-ratelimit"),
                    &format!(
                        "\"{}\";r={remaining};t={}",
                        quota.scope.policy(),
                        seconds_until(wall, next_hour(wall))
                    ),
                );
        }
        reply
    }
}

/// Adds the burst limit's `X-RateLimit-Limit` / `-Remaining` to an answer within it.
pub(crate) fn with_burst_headers(reply: Reply, limit: u32, remaining: u32) -> Reply {
    reply
        .with_header(
            HeaderName::from_static("x-ratelimit-limit"),
            &limit.to_string(),
        )
        .with_header(
            HeaderName::from_static("x-ratelimit-remaining"),
            &remaining.to_string(),
        )
}

/// The `429` of a spent points quota (Confluence's documented headers): `RateLimit-Reason`,
/// `X-RateLimit-Limit`, `X-RateLimit-Remaining: 0`, `X-RateLimit-NearLimit: true`,
/// `X-RateLimit-Reset` at the top of the next UTC hour and `Retry-After` (`retry_after`, else
/// the seconds until that reset).
pub(crate) fn quota_exhausted(
    quota: PointsQuota,
    reason: &str,
    retry_after: Option<String>,
    wall: SystemTime,
) -> Reply {
    let reset = next_hour(wall);
    let retry_after = retry_after.unwrap_or_else(|| seconds_until(wall, reset).to_string());
    Reply::error_in(
        ErrorShape::Confluence,
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded",
    )
    .with_header(RETRY_AFTER, &retry_after)
    .with_header(HeaderName::from_static("ratelimit-reason"), reason)
    .with_header(
        HeaderName::from_static("x-ratelimit-limit"),
        &quota.points.to_string(),
    )
    .with_header(HeaderName::from_static("x-ratelimit-remaining"), "0")
    .with_header(HeaderName::from_static("x-ratelimit-nearlimit"), "true")
    .with_rate_limit_reset(reset)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reply::rfc3339;

    fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
        reply
            .headers
            .iter()
            .find(|(n, _)| n.as_str() == name)
            .and_then(|(_, v)| v.to_str().ok())
    }

    #[test]
    fn next_hour_is_the_top_of_the_next_utc_hour() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(784_887_151); // 08:12:31
        assert_eq!(rfc3339(next_hour(t)), "1994-11-15T09:00:00Z");
        let top = SystemTime::UNIX_EPOCH + Duration::from_secs(3600);
        assert_eq!(rfc3339(next_hour(top)), "1970-01-01T02:00:00Z");
    }

    #[test]
    fn burst_windows_are_fixed_and_per_endpoint() {
        let mut limits = Limits::default();
        limits.set_burst(Some(BurstLimit {
            calls: 2,
            window: Duration::from_secs(10),
        }));
        let t0 = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let admit = |l: &mut Limits, e, at: Duration| {
            l.admit(e, t0 + at, wall + at, ErrorShape::Confluence)
        };
        let s = Duration::from_secs;
        assert_eq!(
            admit(&mut limits, Endpoint::UsersBulk, s(0)).ok(),
            Some(Some((2, 1)))
        );
        assert_eq!(
            admit(&mut limits, Endpoint::UsersBulk, s(1)).ok(),
            Some(Some((2, 0)))
        );
        let refused = admit(&mut limits, Endpoint::UsersBulk, s(3)).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(header(&refused, "retry-after"), Some("7"));
        assert_eq!(header(&refused, "x-ratelimit-remaining"), Some("0"));
        assert_eq!(header(&refused, "x-ratelimit-limit"), Some("2"));
        assert_eq!(
            header(&refused, "x-ratelimit-reset"),
            Some(rfc3339(wall + s(10)).as_str())
        );
        assert!(admit(&mut limits, Endpoint::UsersBulk, s(9)).is_err());
        // Another endpoint has its own window.
        assert!(admit(&mut limits, Endpoint::AdminSearch, s(9)).is_ok());
        // The next window.
        assert_eq!(
            admit(&mut limits, Endpoint::UsersBulk, s(10)).ok(),
            Some(Some((2, 1)))
        );
    }

    #[test]
    fn points_are_charged_and_reported_then_refused() {
        let mut limits = Limits::default();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(784_887_151);
        limits.set_quota(Some(PointsQuota {
            points: 1000,
            scope: QuotaScope::Tenant,
        }));
        let ok = || Reply::json(StatusCode::OK, &serde_json::json!({}));
        let r = limits.charge(ok(), points(250), wall);
        assert_eq!(limits.used(), 501);
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some("499"));
        assert_eq!(
            header(&r, "beta-ratelimit-policy"),
            Some("\"tenant-app-quota\";q=1000;w=3600")
        );
        assert_eq!(header(&r, "x-ratelimit-nearlimit"), None, "half left");
        assert!(limits.refuse_spent(wall).is_none());
        let r = limits.charge(ok(), points(200), wall);
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some("98"));
        assert_eq!(header(&r, "x-ratelimit-nearlimit"), Some("true"));
        assert_eq!(
            header(&r, "beta-ratelimit"),
            Some("\"tenant-app-quota\";r=98;t=2849")
        );
        let r = limits.charge(ok(), points(100), wall);
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some("0"));
        let refused = limits.refuse_spent(wall).expect("spent");
        assert_eq!(
            header(&refused, "ratelimit-reason"),
            Some("confluence-quota-tenant-based")
        );
        assert_eq!(header(&refused, "retry-after"), Some("2849"));
        assert_eq!(
            header(&refused, "x-ratelimit-reset"),
            Some("1994-11-15T09:00:00Z")
        );
        limits.set_quota(limits.quota());
        assert_eq!(limits.used(), 0, "setting the quota again resets it");
    }
}
