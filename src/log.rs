//! The request log: one JSON line per request, on stdout.
//!
//! A line holds the time, the request id, the method, the *route* (a fixed name, never the raw
//! path), the status, the error code, counts (ids requested, distinct, resolved per source,
//! unresolved), upstream calls, retries and the duration, and which accepted key was presented
//! (its 1-based position in `api_key`, for a leaked-key investigation; never its fingerprint,
//! which would help guess a weak key offline). When Atlassian throttled a call it also holds
//! Atlassian's `RateLimit-Reason` (e.g. `confluence-quota-tenant-based` against
//! `confluence-quota-global-based`), made safe by [`rate_limit_reason`], and `nearLimit` when an
//! answer said less than 20% of a quota is left. It never holds keys, tokens, `Authorization`
//! values, emails, account ids or bodies: the struct has no field that could.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat};
use serde::Serialize;

/// One request's log line.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RequestLog {
    /// RFC 3339 UTC time the request arrived.
    pub time: String,
    /// The request id (also sent back as `X-Request-Id`).
    pub request_id: String,
    /// The method, or `OTHER` for a non-standard one.
    pub method: &'static str,
    /// A fixed route name: `/`, `/health`, `/admin`, `/admin/app.js`, `/admin/app.css`,
    /// `/admin/favicon.svg`, `/admin/status`, or `unknown`.
    pub route: &'static str,
    /// The status answered.
    pub status: u16,
    /// Which accepted key the caller presented: its 1-based position in `api_key` (absent when
    /// no valid key was presented or the route takes none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<usize>,
    /// The error code, if the answer was an error.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'static str>,
    /// Ids in the request, duplicates included.
    pub ids_requested: usize,
    /// Distinct ids.
    pub ids_distinct: usize,
    /// Ids resolved by each source asked, by source name.
    pub resolved: Vec<(&'static str, usize)>,
    /// Distinct ids no source resolved (only meaningful on success).
    pub unresolved: usize,
    /// Upstream calls made.
    pub upstream_calls: u32,
    /// Of those, retries.
    pub retries: u32,
    /// Atlassian's `RateLimit-Reason` on the latest throttled answer (429/503) that carried one,
    /// through [`rate_limit_reason`]: which limit was hit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate_limit_reason: Option<String>,
    /// Whether an answer carried `X-RateLimit-NearLimit: true` (less than 20% of a quota left).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub near_limit: bool,
    /// Time spent, in milliseconds.
    pub duration_ms: u64,
}

impl RequestLog {
    /// The line, without a trailing newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The method as a fixed string: a client cannot put arbitrary text in the log through it.
pub fn method_name(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT",
    ];
    KNOWN
        .iter()
        .find(|m| m.eq_ignore_ascii_case(method))
        .copied()
        .unwrap_or("OTHER")
}

/// The longest `RateLimit-Reason` value logged as sent. Atlassian's documented values are at
/// most 29 characters (`confluence-quota-tenant-based`).
pub const MAX_RATE_LIMIT_REASON: usize = 48;

/// A `RateLimit-Reason` value as the log keeps it: lowercased, if it is 1 to
/// [`MAX_RATE_LIMIT_REASON`] characters of ASCII letters and `-` (every value Atlassian
/// documents: `confluence-quota-global-based`, `confluence-quota-tenant-based`,
/// `jira-burst-based`, ...); anything else is `unrecognized`. No digit, `@`, `.`, `:`, quote,
/// backslash or control character ever reaches the log through it, so it can neither break the
/// JSON line nor carry an id, an email or a token.
pub fn rate_limit_reason(value: &str) -> String {
    let value = value.trim();
    let plain = (1..=MAX_RATE_LIMIT_REASON).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-');
    if plain {
        value.to_ascii_lowercase()
    } else {
        "unrecognized".to_string()
    }
}

/// Formats time since the Unix epoch as RFC 3339 UTC with milliseconds
/// (`2026-11-29T05:33:33.250Z`). A time past chrono's range (the year 262143) prints the epoch.
pub fn rfc3339(since_epoch: Duration) -> String {
    i64::try_from(since_epoch.as_secs())
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, since_epoch.subsec_nanos()))
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339(Duration::from_millis(1_795_930_413_250)),
            "2026-11-29T05:33:33.250Z"
        );
        assert_eq!(
            rfc3339(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn unknown_methods_are_not_echoed() {
        assert_eq!(method_name("post"), "POST");
        assert_eq!(method_name("user@example.com"), "OTHER");
    }

    #[test]
    fn rate_limit_reasons_are_kept_only_when_plain() {
        for documented in [
            "confluence-quota-global-based",
            "confluence-quota-tenant-based",
            "jira-burst-based",
            "jira-per-issue-on-write",
        ] {
            assert_eq!(rate_limit_reason(documented), documented);
        }
        assert_eq!(
            rate_limit_reason(" Confluence-Quota-Tenant-Based "),
            "confluence-quota-tenant-based"
        );
        for hostile in [
            "",
            "   ",
            "ada@example.com",
            "5b10ac8d82e05b22cc7d4ef5",
            "557058:0b1c2d3e-0000-4000-8000-000000000001",
            "quota\",\"x\":\"y",
            "quota\nsecond-line",
            "quota based",
            "über-quota",
            &"a".repeat(MAX_RATE_LIMIT_REASON + 1),
        ] {
            assert_eq!(rate_limit_reason(hostile), "unrecognized", "{hostile:?}");
        }
        assert_eq!(
            rate_limit_reason(&"a".repeat(MAX_RATE_LIMIT_REASON)).len(),
            MAX_RATE_LIMIT_REASON
        );
    }

    #[test]
    fn rate_limit_fields_appear_only_when_set() {
        let quiet: serde_json::Value =
            serde_json::from_str(&RequestLog::default().to_line()).unwrap();
        assert!(quiet.get("rateLimitReason").is_none() && quiet.get("nearLimit").is_none());
        let throttled = RequestLog {
            rate_limit_reason: Some(rate_limit_reason("confluence-quota-tenant-based")),
            near_limit: true,
            ..Default::default()
        };
        let v: serde_json::Value = serde_json::from_str(&throttled.to_line()).unwrap();
        assert_eq!(v["rateLimitReason"], "confluence-quota-tenant-based");
        assert_eq!(v["nearLimit"], true);
    }

    #[test]
    fn line_is_one_json_object() {
        let line = RequestLog {
            request_id: "r1".into(),
            method: "POST",
            route: "/",
            status: 200,
            resolved: vec![("admin", 2)],
            ..Default::default()
        }
        .to_line();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["requestId"], "r1");
        assert_eq!(v["resolved"][0][0], "admin");
        assert!(v.get("error").is_none());
    }
}
