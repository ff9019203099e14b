//! Faults the fake can inject, and their JSON form for the control API.
//!
//! A fault replaces (or, for [`Fault::Latency`], delays) the answer to one call of an
//! [`crate::Endpoint`]. Faults queue FIFO per endpoint; [`crate::Endpoint::Any`] is a shared
//! queue consulted only when the called endpoint's own queue is empty. Faults are applied
//! before authentication, as an edge layer or overloaded backend would.
//!
//! JSON form (`POST /__control/faults`), `kind` plus the fields that kind takes:
//!
//! | kind             | fields                                                          |
//! |------------------|-----------------------------------------------------------------|
//! | `latency`        | `ms` (required)                                                 |
//! | `rateLimited`    | at most one `retryAfterSeconds` / `retryAfterDate` / `retryAfterRaw` |
//! | `rateLimitReset` | `resetSeconds` (required)                                       |
//! | `quotaExhausted` | `reason` (default `confluence-quota-global-based`, sent verbatim), at most one `retryAfter*` |
//! | `betaRateLimited`| `betaRetryAfterSeconds` (required)                              |
//! | `status`         | `status` (required), at most one `retryAfter*`                  |
//! | `hang`, `malformedJson`, `truncatedJson`, `dropConnection`, `htmlBadRequest`, `oversized`, `oversizedChunked` | none |
//!
//! `retryAfterDate` is an HTTP date (`Tue, 15 Nov 1994 08:12:31 GMT`); `retryAfterRaw` is sent
//! verbatim (e.g. `"9223372036854775807"`).
//!
//! Throttling answers carry the headers Atlassian documents for the called API: the admin API
//! only `X-RateLimit-Limit`, `-Remaining` and `-Reset` (and `Retry-After` where the fault gives
//! one); the Confluence APIs also `RateLimit-Reason`, `X-RateLimit-NearLimit` and the `Beta-`
//! forms of the points quota (see [`crate::limits`] for the limits the fake can enforce).

use std::time::{Duration, SystemTime};

use hyper::header::{HeaderName, RETRY_AFTER};
use hyper::StatusCode;
use serde::{Deserialize, Serialize};

use crate::limits::{self, PointsQuota, QuotaScope};
use crate::reply::{ErrorShape, Reply, JSON};

/// The value of a `Retry-After` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RetryAfter {
    /// Delay in seconds.
    Seconds(u64),
    /// An instant, sent as an HTTP date.
    Date(SystemTime),
    /// Sent verbatim, e.g. `"9223372036854775807"`.
    Raw(String),
}

impl RetryAfter {
    /// The header value as sent.
    pub fn header_value(&self) -> String {
        match self {
            RetryAfter::Seconds(s) => s.to_string(),
            RetryAfter::Date(t) => httpdate::fmt_http_date(*t),
            RetryAfter::Raw(raw) => raw.clone(),
        }
    }
}

/// One injected failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FaultWire", into = "FaultWire")]
pub enum Fault {
    /// Wait this long, then answer normally.
    Latency(Duration),
    /// 429 with `X-RateLimit-Limit` and `X-RateLimit-Remaining`; when `retry_after` is given,
    /// also `Retry-After` and the matching `X-RateLimit-Reset` (ISO 8601). Without it, a blind
    /// 429 (the admin API's spec documents no header on 429).
    RateLimited {
        /// The `Retry-After` header, if any.
        retry_after: Option<RetryAfter>,
    },
    /// 429 whose only wait hint is `X-RateLimit-Reset` (ISO 8601, this long after now, rounded
    /// up to the second): no `Retry-After`.
    RateLimitReset {
        /// How far ahead the reset time is.
        after: Duration,
    },
    /// The 429 of a spent points quota. On the Confluence APIs: `RateLimit-Reason: <reason>`,
    /// `X-RateLimit-Limit: 65000`, `X-RateLimit-Remaining: 0`, `X-RateLimit-NearLimit: true`,
    /// `X-RateLimit-Reset` at the top of the next UTC hour, and `Retry-After` (the given one, or
    /// the seconds until that reset). On the admin API, which documents neither the reason nor
    /// the quota: `X-RateLimit-Limit`, `-Remaining: 0` and `-Reset`, and `Retry-After` if given.
    QuotaExhausted {
        /// The `RateLimit-Reason` value, sent verbatim when it is valid header text (e.g.
        /// `confluence-quota-tenant-based`); `None`: `confluence-quota-global-based`.
        reason: Option<String>,
        /// The `Retry-After` header; `None`: until the top of the next UTC hour.
        retry_after: Option<RetryAfter>,
    },
    /// A 429 as answered while Atlassian's points quota still sent its headers in their beta
    /// form: on the Confluence APIs `Beta-Retry-After: <seconds>`,
    /// `Beta-RateLimit-Policy: "global-app-quota";q=65000;w=3600`,
    /// `Beta-RateLimit: "global-app-quota";r=0;t=<seconds>`,
    /// `RateLimit-Reason: confluence-quota-global-based`, `X-RateLimit-Limit: 65000` and
    /// `X-RateLimit-Remaining: 0`, and neither `Retry-After` nor `X-RateLimit-Reset`. On the admin
    /// API (no beta headers documented) it is [`Fault::RateLimitReset`] with the same wait.
    BetaRateLimited {
        /// The wait, in whole seconds.
        after: Duration,
    },
    /// This status (500 if not a valid status code) with a JSON error body.
    Status {
        /// The HTTP status, e.g. 500, 502, 503, 504.
        status: u16,
        /// The `Retry-After` header, if any.
        retry_after: Option<RetryAfter>,
    },
    /// Never answer, until the server shuts down.
    Hang,
    /// 200, JSON content type, a body that is not JSON.
    MalformedJson,
    /// 200 with the real JSON answer cut in half; `Content-Length` matches the cut body.
    TruncatedJson,
    /// Close the TCP connection without any response.
    DropConnection,
    /// 400 with an HTML body, as Atlassian's edge layer sends.
    HtmlBadRequest,
    /// 200 with the real answer after [`OVERSIZED_PADDING`] bytes of JSON whitespace: valid
    /// JSON, larger than any answer Atlassian gives, sent with its `Content-Length`.
    Oversized,
    /// [`Fault::Oversized`] sent chunked, without `Content-Length`: the client learns the size
    /// only by reading.
    OversizedChunked,
}

impl Fault {
    /// The fault's kind as recorded in [`crate::RecordedRequest::fault`] (its JSON `kind`).
    pub fn name(&self) -> &'static str {
        match self {
            Fault::Latency(_) => "latency",
            Fault::RateLimited { .. } => "rateLimited",
            Fault::RateLimitReset { .. } => "rateLimitReset",
            Fault::QuotaExhausted { .. } => "quotaExhausted",
            Fault::BetaRateLimited { .. } => "betaRateLimited",
            Fault::Status { .. } => "status",
            Fault::Hang => "hang",
            Fault::MalformedJson => "malformedJson",
            Fault::TruncatedJson => "truncatedJson",
            Fault::DropConnection => "dropConnection",
            Fault::HtmlBadRequest => "htmlBadRequest",
            Fault::Oversized => "oversized",
            Fault::OversizedChunked => "oversizedChunked",
        }
    }
}

/// The `X-RateLimit-Limit` value sent with injected 429s.
const RATE_LIMIT: &str = "100";
/// The points quota the quota faults report: Atlassian's tier 1 default, 65,000 an hour.
const DEFAULT_QUOTA: PointsQuota = PointsQuota {
    points: 65_000,
    scope: QuotaScope::Global,
};
/// The reset delay announced with a `Retry-After` that is not a number or a date.
const DEFAULT_RESET: Duration = Duration::from_secs(60);

fn limited(shape: ErrorShape) -> Reply {
    Reply::error_in(shape, StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded")
        .with_header(HeaderName::from_static("x-ratelimit-limit"), RATE_LIMIT)
        .with_header(HeaderName::from_static("x-ratelimit-remaining"), "0")
}

/// The 429 answer of [`Fault::RateLimited`].
pub(crate) fn rate_limited(
    retry_after: Option<&RetryAfter>,
    now: SystemTime,
    shape: ErrorShape,
) -> Reply {
    let Some(retry_after) = retry_after else {
        return limited(shape);
    };
    let reset = match retry_after {
        RetryAfter::Seconds(s) => now + Duration::from_secs((*s).min(86_400)),
        RetryAfter::Date(t) => *t,
        RetryAfter::Raw(_) => now + DEFAULT_RESET,
    };
    let reply = limited(shape).with_rate_limit_reset(reset);
    with_retry_after(reply, Some(retry_after))
}

/// The 429 answer of [`Fault::RateLimitReset`]: the reset time rounded up to the second, so
/// the wait it announces is never shorter than `after`.
pub(crate) fn rate_limit_reset(after: Duration, now: SystemTime, shape: ErrorShape) -> Reply {
    let at = limits::ceil_second(now, after.min(Duration::from_secs(86_400 * 365)));
    limited(shape).with_rate_limit_reset(at)
}

/// The answer of [`Fault::QuotaExhausted`].
pub(crate) fn quota_exhausted(
    reason: Option<&str>,
    retry_after: Option<&RetryAfter>,
    now: SystemTime,
    shape: ErrorShape,
) -> Reply {
    match shape {
        ErrorShape::Confluence => limits::quota_exhausted(
            DEFAULT_QUOTA,
            reason.unwrap_or(DEFAULT_QUOTA.scope.reason()),
            retry_after.map(RetryAfter::header_value),
            now,
        ),
        ErrorShape::Admin => {
            let reply = limited(shape).with_rate_limit_reset(limits::next_hour(now));
            with_retry_after(reply, retry_after)
        }
    }
}

/// The answer of [`Fault::BetaRateLimited`].
pub(crate) fn beta_rate_limited(after: Duration, now: SystemTime, shape: ErrorShape) -> Reply {
    if shape == ErrorShape::Admin {
        return rate_limit_reset(after, now, shape);
    }
    let secs = after.as_secs().to_string();
    let policy = DEFAULT_QUOTA.scope.policy();
    Reply::error_in(shape, StatusCode::TOO_MANY_REQUESTS, "Rate limit exceeded")
        .with_header(HeaderName::from_static("beta-retry-after"), &secs)
        .with_header(
            HeaderName::from_static("beta-ratelimit-policy"),
            &format!("\"{policy}\";q={};w=3600", DEFAULT_QUOTA.points),
        )
        .with_header(
            HeaderName::from_static("beta-ratelimit"),
            &format!("\"{policy}\";r=0;t={secs}"),
        )
        .with_header(
            HeaderName::from_static("ratelimit-reason"),
            DEFAULT_QUOTA.scope.reason(),
        )
        .with_header(
            HeaderName::from_static("x-ratelimit-limit"),
            &DEFAULT_QUOTA.points.to_string(),
        )
        .with_header(HeaderName::from_static("x-ratelimit-remaining"), "0")
}

/// The answer of [`Fault::Status`].
pub(crate) fn status(status: u16, retry_after: Option<&RetryAfter>, shape: ErrorShape) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let message = status.canonical_reason().unwrap_or("Injected failure");
    with_retry_after(Reply::error_in(shape, status, message), retry_after)
}

fn with_retry_after(reply: Reply, retry_after: Option<&RetryAfter>) -> Reply {
    match retry_after {
        Some(r) => reply.with_header(RETRY_AFTER, &r.header_value()),
        None => reply,
    }
}

/// The answer of [`Fault::MalformedJson`].
pub(crate) fn malformed_json() -> Reply {
    Reply {
        status: StatusCode::OK,
        content_type: JSON,
        headers: Vec::new(),
        body: bytes::Bytes::from_static(b"{\"results\": [{\"accountId\": <not json>"),
    }
}

/// The answer of [`Fault::TruncatedJson`]: `real` as a 200 with its body cut in half.
pub(crate) fn truncated(real: Reply) -> Reply {
    let cut = real.body.len() / 2;
    Reply {
        status: StatusCode::OK,
        content_type: JSON,
        headers: Vec::new(),
        body: real.body.slice(..cut),
    }
}

/// The whitespace before the real answer in [`Fault::Oversized`]: 3 MiB, more than a client
/// should hold for one page (the largest legitimate `users-bulk` page is about 400 KiB).
pub const OVERSIZED_PADDING: usize = 3 * 1024 * 1024;

/// The answer of [`Fault::Oversized`] and [`Fault::OversizedChunked`]: `real`, still valid
/// JSON, after [`OVERSIZED_PADDING`] spaces.
pub(crate) fn oversized(real: Reply) -> Reply {
    let mut body = Vec::with_capacity(OVERSIZED_PADDING + real.body.len());
    body.resize(OVERSIZED_PADDING, b' ');
    body.extend_from_slice(&real.body);
    Reply {
        body: body.into(),
        ..real
    }
}

/// The answer of [`Fault::HtmlBadRequest`].
pub(crate) fn html_bad_request() -> Reply {
    Reply {
        status: StatusCode::BAD_REQUEST,
        content_type: "text/html",
        headers: Vec::new(),
        body: bytes::Bytes::from_static(
            b"<HTML><HEAD>\n<TITLE>Bad Request</TITLE>\n</HEAD><BODY>\n<H1>Bad Request</H1>\n\
              Your browser sent a request that this server could not understand.<P>\n\
              Reference&#32;&#35;7&#46;fake&#46;0\n</BODY>\n</HTML>\n",
        ),
    }
}

/// The control API's JSON form of a [`Fault`] (see the module docs).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FaultWire {
    kind: FaultKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retry_after_raw: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reset_seconds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    beta_retry_after_seconds: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum FaultKind {
    Latency,
    RateLimited,
    RateLimitReset,
    QuotaExhausted,
    BetaRateLimited,
    Status,
    Hang,
    MalformedJson,
    TruncatedJson,
    DropConnection,
    HtmlBadRequest,
    Oversized,
    OversizedChunked,
}

impl FaultWire {
    fn retry_after(&self) -> Result<Option<RetryAfter>, String> {
        let given = [
            self.retry_after_seconds.is_some(),
            self.retry_after_date.is_some(),
            self.retry_after_raw.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err(
                "give at most one of retryAfterSeconds, retryAfterDate, retryAfterRaw".into(),
            );
        }
        if let Some(s) = self.retry_after_seconds {
            return Ok(Some(RetryAfter::Seconds(s)));
        }
        if let Some(date) = &self.retry_after_date {
            let t = httpdate::parse_http_date(date)
                .map_err(|_| "retryAfterDate is not an HTTP date".to_owned())?;
            return Ok(Some(RetryAfter::Date(t)));
        }
        Ok(self.retry_after_raw.clone().map(RetryAfter::Raw))
    }

    fn has_retry_after(&self) -> bool {
        self.retry_after_seconds.is_some()
            || self.retry_after_date.is_some()
            || self.retry_after_raw.is_some()
    }
}

impl TryFrom<FaultWire> for Fault {
    type Error = String;

    fn try_from(wire: FaultWire) -> Result<Fault, String> {
        let takes_ms = wire.kind == FaultKind::Latency;
        let takes_status = wire.kind == FaultKind::Status;
        let takes_retry = matches!(
            wire.kind,
            FaultKind::RateLimited | FaultKind::Status | FaultKind::QuotaExhausted
        );
        if wire.ms.is_some() && !takes_ms {
            return Err("only kind latency takes ms".into());
        }
        if wire.status.is_some() && !takes_status {
            return Err("only kind status takes status".into());
        }
        if wire.has_retry_after() && !takes_retry {
            return Err(
                "only kinds rateLimited, quotaExhausted and status take retryAfter*".into(),
            );
        }
        if wire.reason.is_some() && wire.kind != FaultKind::QuotaExhausted {
            return Err("only kind quotaExhausted takes reason".into());
        }
        if wire.beta_retry_after_seconds.is_some() && wire.kind != FaultKind::BetaRateLimited {
            return Err("only kind betaRateLimited takes betaRetryAfterSeconds".into());
        }
        if wire.reset_seconds.is_some() && wire.kind != FaultKind::RateLimitReset {
            return Err("only kind rateLimitReset takes resetSeconds".into());
        }
        Ok(match wire.kind {
            FaultKind::Latency => {
                let ms = wire.ms.ok_or("kind latency needs ms")?;
                Fault::Latency(Duration::from_millis(ms))
            }
            FaultKind::RateLimited => Fault::RateLimited {
                retry_after: wire.retry_after()?,
            },
            FaultKind::RateLimitReset => Fault::RateLimitReset {
                after: Duration::from_secs(
                    wire.reset_seconds
                        .ok_or("kind rateLimitReset needs resetSeconds")?,
                ),
            },
            FaultKind::QuotaExhausted => Fault::QuotaExhausted {
                reason: wire.reason.clone(),
                retry_after: wire.retry_after()?,
            },
            FaultKind::BetaRateLimited => Fault::BetaRateLimited {
                after: Duration::from_secs(
                    wire.beta_retry_after_seconds
                        .ok_or("kind betaRateLimited needs betaRetryAfterSeconds")?,
                ),
            },
            FaultKind::Status => Fault::Status {
                status: wire.status.ok_or("kind status needs status")?,
                retry_after: wire.retry_after()?,
            },
            FaultKind::Hang => Fault::Hang,
            FaultKind::MalformedJson => Fault::MalformedJson,
            FaultKind::TruncatedJson => Fault::TruncatedJson,
            FaultKind::DropConnection => Fault::DropConnection,
            FaultKind::HtmlBadRequest => Fault::HtmlBadRequest,
            FaultKind::Oversized => Fault::Oversized,
            FaultKind::OversizedChunked => Fault::OversizedChunked,
        })
    }
}

impl From<Fault> for FaultWire {
    fn from(fault: Fault) -> FaultWire {
        let mut wire = FaultWire {
            kind: FaultKind::Hang,
            ms: None,
            status: None,
            retry_after_seconds: None,
            retry_after_date: None,
            retry_after_raw: None,
            reset_seconds: None,
            reason: None,
            beta_retry_after_seconds: None,
        };
        let retry_after = match fault {
            Fault::Latency(d) => {
                wire.kind = FaultKind::Latency;
                wire.ms = Some(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                None
            }
            Fault::RateLimited { retry_after } => {
                wire.kind = FaultKind::RateLimited;
                retry_after
            }
            Fault::RateLimitReset { after } => {
                wire.kind = FaultKind::RateLimitReset;
                wire.reset_seconds = Some(after.as_secs());
                None
            }
            Fault::QuotaExhausted {
                reason,
                retry_after,
            } => {
                wire.kind = FaultKind::QuotaExhausted;
                wire.reason = reason;
                retry_after
            }
            Fault::BetaRateLimited { after } => {
                wire.kind = FaultKind::BetaRateLimited;
                wire.beta_retry_after_seconds = Some(after.as_secs());
                None
            }
            Fault::Status {
                status,
                retry_after,
            } => {
                wire.kind = FaultKind::Status;
                wire.status = Some(status);
                retry_after
            }
            Fault::Hang => None,
            Fault::MalformedJson => {
                wire.kind = FaultKind::MalformedJson;
                None
            }
            Fault::TruncatedJson => {
                wire.kind = FaultKind::TruncatedJson;
                None
            }
            Fault::DropConnection => {
                wire.kind = FaultKind::DropConnection;
                None
            }
            Fault::HtmlBadRequest => {
                wire.kind = FaultKind::HtmlBadRequest;
                None
            }
            Fault::Oversized => {
                wire.kind = FaultKind::Oversized;
                None
            }
            Fault::OversizedChunked => {
                wire.kind = FaultKind::OversizedChunked;
                None
            }
        };
        match retry_after {
            Some(RetryAfter::Seconds(s)) => wire.retry_after_seconds = Some(s),
            Some(RetryAfter::Date(t)) => wire.retry_after_date = Some(httpdate::fmt_http_date(t)),
            Some(RetryAfter::Raw(r)) => wire.retry_after_raw = Some(r),
            None => {}
        }
        wire
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_form_round_trips_every_kind() -> anyhow::Result<()> {
        let date = httpdate::parse_http_date("Tue, 15 Nov 1994 08:12:31 GMT")?;
        let faults = [
            Fault::Latency(Duration::from_millis(250)),
            Fault::RateLimited { retry_after: None },
            Fault::RateLimited {
                retry_after: Some(RetryAfter::Seconds(2)),
            },
            Fault::RateLimitReset {
                after: Duration::from_secs(3),
            },
            Fault::QuotaExhausted {
                reason: None,
                retry_after: None,
            },
            Fault::QuotaExhausted {
                reason: Some("confluence-quota-tenant-based".into()),
                retry_after: Some(RetryAfter::Seconds(2)),
            },
            Fault::BetaRateLimited {
                after: Duration::from_secs(4),
            },
            Fault::Status {
                status: 503,
                retry_after: Some(RetryAfter::Date(date)),
            },
            Fault::Status {
                status: 429,
                retry_after: Some(RetryAfter::Raw("9223372036854775807".into())),
            },
            Fault::Hang,
            Fault::MalformedJson,
            Fault::TruncatedJson,
            Fault::DropConnection,
            Fault::HtmlBadRequest,
            Fault::Oversized,
            Fault::OversizedChunked,
        ];
        for fault in faults {
            let value = serde_json::to_value(&fault)?;
            assert_eq!(value["kind"], fault.name());
            let back: Fault = serde_json::from_value(value)?;
            assert_eq!(back, fault);
        }
        Ok(())
    }

    #[test]
    fn wire_form_parses_the_documented_example() -> anyhow::Result<()> {
        let fault: Fault =
            serde_json::from_value(json!({"kind":"rateLimited","retryAfterSeconds":2}))?;
        assert_eq!(
            fault,
            Fault::RateLimited {
                retry_after: Some(RetryAfter::Seconds(2))
            }
        );
        Ok(())
    }

    #[test]
    fn wire_form_rejects_fields_of_other_kinds() {
        for bad in [
            json!({"kind": "hang", "ms": 5}),
            json!({"kind": "latency"}),
            json!({"kind": "status"}),
            json!({"kind": "rateLimited", "status": 500}),
            json!({"kind": "rateLimitReset"}),
            json!({"kind": "rateLimited", "resetSeconds": 1}),
            json!({"kind": "rateLimited", "reason": "x"}),
            json!({"kind": "betaRateLimited"}),
            json!({"kind": "quotaExhausted", "betaRetryAfterSeconds": 1}),
            json!({"kind": "rateLimited", "retryAfterSeconds": 1, "retryAfterRaw": "1"}),
            json!({"kind": "status", "status": 503, "retryAfterDate": "tomorrow"}),
            json!({"kind": "nope"}),
        ] {
            assert!(
                serde_json::from_value::<Fault>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
