//! The retry policy for every call to Atlassian.
//!
//! - **At most [`MAX_ATTEMPTS`] attempts** per call, and never past the request deadline.
//! - **Each attempt's timeout** is [`MAX_CALL_TIMEOUT`] or the time left before the deadline,
//!   whichever is shorter; the transport enforces it (request options and a timer race).
//! - **429, and 503:** wait what `Retry-After` says (delta-seconds or an HTTP date, clamped to
//!   [`MAX_RETRY_AFTER`]: values like `9223372036854775807` have been seen; Atlassian sends it
//!   on 429s and on some 503s); without it, until `X-RateLimit-Reset` (an ISO 8601 time, same
//!   clamp; [`parse_rate_limit_reset`]); without either, what `Beta-Retry-After` says (read as
//!   `Retry-After`); without any (or with a reset time already past), the backoff below.
//!   `X-RateLimit-Reset` comes before `Beta-Retry-After` because it describes the limit that
//!   answered, while the `Beta-` headers describe Atlassian's points quota in its beta form,
//!   which Atlassian renames to `Retry-After` once it enforces it: a 429 carrying both came
//!   from the enforced limit, whose reset is the one to wait for. If that wait plus
//!   [`MIN_USEFUL_ATTEMPT`] (2 s: a retry with less time left mostly times out) does not fit
//!   before the deadline, stop at once: the caller gets `503 upstream_rate_limited` with
//!   `Retry-After`. The same rule holds for every wait below. A 429 on the last attempt is reported the
//!   same way; a 503 without `Retry-After` on the last attempt is an `upstream_error`.
//! - **500, 502, 504, connection failures, per-attempt timeouts and unreadable 2xx bodies**
//!   (malformed or truncated JSON): back off and retry; after the last attempt, 502
//!   `upstream_error` (or 504 `upstream_timeout` when the deadline is what ended it).
//! - **Backoff:** [`BACKOFF_BASE`] doubled per attempt, capped at [`BACKOFF_CAP`], with "equal
//!   jitter": a random point in the upper half of the interval.
//! - **401, 403, 404: not retried** — `upstream_auth_failed` (on these endpoints 404 means the
//!   credential may not see the resource). Other 4xx: not retried, `upstream_error`.
//! - A call refused by the platform (`allowed_outbound_hosts`) is not retried.
//!
//! Every answer is also read for the request log: a throttled answer's `RateLimit-Reason`
//! (which limit: e.g. a tenant's or the app's global quota; made safe by
//! [`crate::log::rate_limit_reason`]) and any answer's `X-RateLimit-NearLimit: true`.
//!
//! The admin page's live check is the one exception: [`call_once`] makes a single attempt and
//! hands back the raw answer, since its job is to report what Atlassian said, not to recover.

use std::time::Duration;

use chrono::DateTime;

use super::{CallContext, SourceKind, UpstreamError};
use crate::platform::{OutboundRequest, OutboundResponse, TransportError};

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// The longest a single attempt may take.
pub const MAX_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest `Retry-After` we believe.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);
/// The first backoff interval.
pub const BACKOFF_BASE: Duration = Duration::from_millis(200);
/// The least time an attempt after a wait must have before the deadline: no wait is started
/// unless the wait plus this fits.
pub const MIN_USEFUL_ATTEMPT: Duration = Duration::from_secs(2);
/// The longest backoff interval.
pub const BACKOFF_CAP: Duration = Duration::from_secs(5);

/// How a status is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusClass {
    /// 2xx: parse the body.
    Success,
    /// 401, 403, 404: credentials refused; not retried.
    Refused,
    /// 429, 503: wait `Retry-After` or back off.
    Throttled,
    /// 500, 502, 504: back off and retry.
    Transient,
    /// Anything else: not retried.
    Rejected,
}

/// Classifies an upstream status.
pub fn classify(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Success,
        401 | 403 | 404 => StatusClass::Refused,
        429 | 503 => StatusClass::Throttled,
        500 | 502 | 504 => StatusClass::Transient,
        _ => StatusClass::Rejected,
    }
}

/// Whether a transport failure is worth another attempt.
pub fn is_retryable(error: TransportError) -> bool {
    matches!(error, TransportError::Timeout | TransportError::Connection)
}

/// Parses `Retry-After`: delta-seconds or an HTTP date (relative to `unix_now`), clamped to
/// [`MAX_RETRY_AFTER`]. A date in the past means no wait. HTTP dates are read by `httpdate`,
/// which takes exactly the three forms RFC 9110 makes a recipient accept (chrono's RFC 2822
/// parser takes only the first, and more besides).
pub fn parse_retry_after(value: &str, unix_now: Duration) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits for u64 is still "very long": clamp rather than ignore.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let when = when.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(when.saturating_sub(unix_now).min(MAX_RETRY_AFTER))
}

/// Parses `X-RateLimit-Reset`, an ISO 8601 time (`2026-08-01T12:00:05Z`, fractional seconds
/// and a `±hh:mm` offset allowed), into the wait from `unix_now`, clamped to
/// [`MAX_RETRY_AFTER`]. `None` when unreadable or not in the future (a clock skewed against
/// Atlassian's must not turn into an immediate retry storm: the backoff applies instead).
pub fn parse_rate_limit_reset(value: &str, unix_now: Duration) -> Option<Duration> {
    let when = i128::from(reset_time_millis(value.trim())?);
    let now = i128::from(unix_now.as_secs()) * 1000 + i128::from(unix_now.subsec_millis());
    let wait_ms = when - now;
    if wait_ms <= 0 {
        return None;
    }
    let wait = Duration::from_millis(u64::try_from(wait_ms).unwrap_or(u64::MAX));
    Some(wait.min(MAX_RETRY_AFTER))
}

/// An ISO 8601 date and time as Unix milliseconds, read by chrono's RFC 3339 parser (`T`, `t`
/// or a space between date and time; `Z` or a `±hh:mm` offset), also taking ISO 8601's basic
/// offset (`±hhmm`) and no offset (UTC). An impossible date (`2026-02-31`) is unreadable.
/// (chrono's relaxed `str::parse` takes those forms too, but adds 25 KB to the component.)
fn reset_time_millis(s: &str) -> Option<i64> {
    let rfc3339 = |s: &str| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis())
    };
    rfc3339(s)
        .or_else(|| rfc3339(&format!("{s}Z")))
        .or_else(|| {
            // `±hhmm` as RFC 3339's `±hh:mm`.
            let (hours, minutes) = s.split_at_checked(s.len().checked_sub(2)?)?;
            let sign = hours.len().checked_sub(3).map(|at| hours.as_bytes()[at])?;
            matches!(sign, b'+' | b'-').then(|| rfc3339(&format!("{hours}:{minutes}")))?
        })
}

/// The wait a throttled answer asks for, in the order of the module docs: `Retry-After`, then
/// `X-RateLimit-Reset`, then `Beta-Retry-After`; `None` when none is readable (the backoff
/// applies).
pub fn asked_wait(response: &OutboundResponse, unix_now: Duration) -> Option<Duration> {
    response
        .header("retry-after")
        .and_then(|v| parse_retry_after(v, unix_now))
        .or_else(|| {
            response
                .header("x-ratelimit-reset")
                .and_then(|v| parse_rate_limit_reset(v, unix_now))
        })
        .or_else(|| {
            response
                .header("beta-retry-after")
                .and_then(|v| parse_retry_after(v, unix_now))
        })
}

/// Notes for the request log what an answer says about Atlassian's limits: the
/// `RateLimit-Reason` of a throttled answer, and `X-RateLimit-NearLimit: true` on any answer.
fn note_rate_limit_signals(ctx: &CallContext<'_>, response: &OutboundResponse) {
    if classify(response.status) == StatusClass::Throttled {
        if let Some(reason) = response.header("ratelimit-reason") {
            *ctx.stats.rate_limit_reason.borrow_mut() = Some(crate::log::rate_limit_reason(reason));
        }
    }
    if response
        .header("x-ratelimit-nearlimit")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    {
        ctx.stats.near_limit.set(true);
    }
}

/// The backoff before attempt `attempt + 1`, with jitter from `random`.
pub fn backoff(attempt: u32, random: u64) -> Duration {
    let exp = BACKOFF_BASE
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
        .min(BACKOFF_CAP);
    // Equal jitter: half fixed, half random.
    let fraction = (random >> 11) as f64 / (1u64 << 53) as f64;
    exp / 2 + exp.mul_f64(fraction / 2.0)
}

/// Makes one logical call with the policy above. `request` builds each attempt; `parse` reads
/// a 2xx body, `None` meaning unreadable.
pub async fn call<T>(
    ctx: &CallContext<'_>,
    source: SourceKind,
    request: impl Fn() -> OutboundRequest,
    parse: impl Fn(&OutboundResponse) -> Option<T>,
) -> Result<T, UpstreamError> {
    let failed = |detail| UpstreamError::Failed {
        origin: source,
        detail,
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        let remaining = ctx.remaining();
        if remaining.is_zero() {
            return Err(UpstreamError::Timeout);
        }
        ctx.stats.calls.set(ctx.stats.calls.get() + 1);
        let result = ctx
            .transport
            .send(request(), remaining.min(MAX_CALL_TIMEOUT))
            .await;

        let backoff = backoff(attempt, ctx.runtime.random_u64());
        if let Ok(response) = &result {
            note_rate_limit_signals(ctx, response);
        }
        let (failure, wait) = match result {
            Ok(response) => match classify(response.status) {
                StatusClass::Success => match parse(&response) {
                    Some(value) => return Ok(value),
                    None => (failed("answered with an unreadable response"), backoff),
                },
                StatusClass::Refused => return Err(UpstreamError::AuthFailed { origin: source }),
                StatusClass::Throttled => {
                    let asked = asked_wait(&response, ctx.runtime.unix_time());
                    let wait = asked.unwrap_or(backoff);
                    if response.status == 429 || asked.is_some() {
                        (UpstreamError::RateLimited { retry_after: wait }, wait)
                    } else {
                        (failed("is unavailable (503) after retries"), wait)
                    }
                }
                StatusClass::Transient => {
                    (failed("failed with a server error after retries"), backoff)
                }
                StatusClass::Rejected => return Err(failed("rejected the request")),
            },
            Err(TransportError::Denied) => {
                return Err(failed(
                    "is not reachable: its host is not in allowed_outbound_hosts",
                ))
            }
            Err(TransportError::TooLarge) => {
                return Err(failed("answered with a response too large to read"))
            }
            Err(e) if !is_retryable(e) => return Err(failed("could not be reached")),
            Err(TransportError::Timeout) if ctx.remaining().is_zero() => {
                return Err(UpstreamError::Timeout)
            }
            Err(TransportError::Timeout) => (UpstreamError::Timeout, backoff),
            Err(_) => (failed("could not be reached after retries"), backoff),
        };

        if attempt >= MAX_ATTEMPTS {
            return Err(failure);
        }
        if wait + MIN_USEFUL_ATTEMPT > ctx.remaining() {
            // Waiting would leave no time for a useful attempt: report now, while there is time
            // to answer.
            return Err(match failure {
                UpstreamError::Timeout => UpstreamError::Timeout,
                other => other,
            });
        }
        ctx.stats.retries.set(ctx.stats.retries.get() + 1);
        ctx.runtime.sleep(wait).await;
    }
}

/// Makes exactly one attempt, with no retry and no backoff, and returns the raw answer: the
/// admin page's live check (`GET /admin/status`) classifies it itself. The attempt's timeout is
/// the time left before `ctx.deadline`, at most [`MAX_CALL_TIMEOUT`]; the call is counted in
/// `ctx.stats`.
pub async fn call_once(
    ctx: &CallContext<'_>,
    request: OutboundRequest,
) -> Result<OutboundResponse, TransportError> {
    let remaining = ctx.remaining();
    if remaining.is_zero() {
        return Err(TransportError::Timeout);
    }
    ctx.stats.calls.set(ctx.stats.calls.get() + 1);
    ctx.transport
        .send(request, remaining.min(MAX_CALL_TIMEOUT))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{Method, Runtime};
    use crate::testing::*;
    use crate::upstream::Stats;
    use futures::executor::block_on;
    use std::cell::Cell;
    use std::rc::Rc;

    fn req() -> OutboundRequest {
        OutboundRequest {
            method: Method::Post,
            url: "https://api.example/x".into(),
            headers: vec![],
            body: b"{}".to_vec(),
        }
    }

    fn parse_ok(r: &OutboundResponse) -> Option<serde_json::Value> {
        serde_json::from_slice(&r.body).ok()
    }

    /// What one scripted call gave: its result, the clock, each attempt's timeout, the counters.
    type Scripted = (
        Result<serde_json::Value, UpstreamError>,
        Rc<FakeRuntime>,
        Vec<Duration>,
        Stats,
    );

    /// Runs one call for `source` against a script of replies (by attempt), with the deadline.
    fn scripted(source: SourceKind, replies: Vec<Reply>, deadline: Duration) -> Scripted {
        let rt = FakeRuntime::new();
        let replies = std::cell::RefCell::new(replies.into_iter());
        let transport = FakeTransport::new(rt.clone(), move |_| {
            replies
                .borrow_mut()
                .next()
                .expect("more calls than scripted")
        });
        let stats = Stats::default();
        let ctx = CallContext {
            transport: &transport,
            runtime: &*rt,
            deadline: rt.now.get() + deadline,
            stats: &stats,
        };
        let result = block_on(call(&ctx, source, req, parse_ok));
        let timeouts: Vec<Duration> = transport.calls.borrow().iter().map(|(_, t)| *t).collect();
        (result, rt, timeouts, stats)
    }

    /// Runs one admin call against a script of replies (by attempt), with the given deadline.
    fn run(
        replies: Vec<Reply>,
        deadline: Duration,
    ) -> (
        Result<serde_json::Value, UpstreamError>,
        Rc<FakeRuntime>,
        usize,
        Vec<Duration>,
    ) {
        let (result, rt, timeouts, _) = scripted(SourceKind::Admin, replies, deadline);
        (result, rt, timeouts.len(), timeouts)
    }

    const LONG: Duration = Duration::from_secs(25);

    /// Runs one Confluence call against a script of replies and returns its result and the
    /// counters.
    fn run_stats(replies: Vec<Reply>) -> (Result<serde_json::Value, UpstreamError>, Stats) {
        let (result, _, _, stats) = scripted(SourceKind::Confluence, replies, LONG);
        (result, stats)
    }

    fn throttled(status: u16, headers: &[(&str, &str)]) -> Reply {
        headers.iter().fold(
            json(status, serde_json::json!({})),
            |reply, (name, value)| with_header(reply, name, value),
        )
    }

    #[test]
    fn success_first_time() {
        let (r, _, calls, _) = run(vec![json(200, serde_json::json!({"ok": 1}))], LONG);
        assert_eq!(r.unwrap()["ok"], 1);
        assert_eq!(calls, 1);
    }

    #[test]
    fn retries_429_after_retry_after_seconds() {
        let (r, rt, calls, _) = run(
            vec![
                with_header(json(429, serde_json::json!({})), "Retry-After", "2"),
                json(200, serde_json::json!({"ok": 1})),
            ],
            LONG,
        );
        assert!(r.is_ok());
        assert_eq!(calls, 2);
        assert_eq!(*rt.slept.borrow(), vec![Duration::from_secs(2)]);
    }

    #[test]
    fn retry_after_http_date_is_honoured() {
        let rt = FakeRuntime::new();
        let when = std::time::UNIX_EPOCH + rt.unix_time() + Duration::from_secs(3);
        let (r, rt, _, _) = run(
            vec![
                with_header(
                    json(503, serde_json::json!({})),
                    "Retry-After",
                    &httpdate::fmt_http_date(when),
                ),
                json(200, serde_json::json!({})),
            ],
            LONG,
        );
        assert!(r.is_ok());
        assert_eq!(*rt.slept.borrow(), vec![Duration::from_secs(3)]);
    }

    #[test]
    fn a_503_with_retry_after_waits_as_a_429_does() {
        for status in [429, 503] {
            let (r, rt, calls, _) = run(
                vec![
                    throttled(status, &[("Retry-After", "4")]),
                    json(200, serde_json::json!({"ok": 1})),
                ],
                LONG,
            );
            assert!(r.is_ok(), "{status}");
            assert_eq!(calls, 2, "{status}");
            assert_eq!(*rt.slept.borrow(), vec![Duration::from_secs(4)], "{status}");
        }
    }

    #[test]
    fn a_503_with_retry_after_past_the_deadline_is_rate_limited_at_once() {
        let (r, rt, calls, _) = run(vec![throttled(503, &[("Retry-After", "60")])], LONG);
        assert_eq!(
            r.unwrap_err(),
            UpstreamError::RateLimited {
                retry_after: Duration::from_secs(60)
            }
        );
        assert_eq!(calls, 1);
        assert!(rt.slept.borrow().is_empty());
    }

    #[test]
    fn beta_retry_after_is_read_when_retry_after_is_absent() {
        for status in [429, 503] {
            let (r, rt, calls, _) = run(
                vec![
                    throttled(status, &[("Beta-Retry-After", "3")]),
                    json(200, serde_json::json!({})),
                ],
                LONG,
            );
            assert!(r.is_ok(), "{status}");
            assert_eq!(calls, 2);
            assert_eq!(*rt.slept.borrow(), vec![Duration::from_secs(3)], "{status}");
        }
        // Past the deadline: reported with the wait it asked for, as Retry-After would be.
        let (r, _, calls, _) = run(vec![throttled(429, &[("Beta-Retry-After", "90")])], LONG);
        assert_eq!(
            r.unwrap_err(),
            UpstreamError::RateLimited {
                retry_after: Duration::from_secs(90)
            }
        );
        assert_eq!(calls, 1);
        // Unreadable: the backoff, as with no header at all.
        let (r, rt, _, _) = run(
            vec![
                throttled(429, &[("Beta-Retry-After", "soon")]),
                json(200, serde_json::json!({})),
            ],
            LONG,
        );
        assert!(r.is_ok());
        assert_eq!(*rt.slept.borrow(), vec![backoff(1, u64::MAX / 2)]);
    }

    #[test]
    fn retry_after_then_x_ratelimit_reset_then_beta_retry_after() {
        let both = throttled(429, &[("Retry-After", "2"), ("Beta-Retry-After", "7")]);
        let (r, rt, _, _) = run(vec![both, json(200, serde_json::json!({}))], LONG);
        assert!(r.is_ok());
        assert_eq!(*rt.slept.borrow(), vec![Duration::from_secs(2)]);
        let reset = reset_in(5);
        let both = throttled(
            429,
            &[("X-RateLimit-Reset", &reset), ("Beta-Retry-After", "7")],
        );
        let (r, rt, _, _) = run(vec![both, json(200, serde_json::json!({}))], LONG);
        assert!(r.is_ok());
        assert_eq!(*rt.slept.borrow(), vec![Duration::from_secs(5)]);
    }

    #[test]
    fn a_throttled_answer_leaves_its_rate_limit_reason_for_the_log() {
        let (r, stats) = run_stats(vec![
            throttled(
                429,
                &[
                    ("Retry-After", "1"),
                    ("RateLimit-Reason", "confluence-quota-global-based"),
                ],
            ),
            throttled(
                503,
                &[
                    ("Retry-After", "1"),
                    ("RateLimit-Reason", "confluence-quota-tenant-based"),
                ],
            ),
            json(200, serde_json::json!({})),
        ]);
        assert!(r.is_ok());
        assert_eq!(
            stats.rate_limit_reason.borrow().as_deref(),
            Some("confluence-quota-tenant-based"),
            "the latest throttled answer's reason"
        );
        assert!(!stats.near_limit.get());
    }

    #[test]
    fn a_reason_is_logged_only_from_a_throttled_answer_and_only_when_plain() {
        let ok = with_header(
            json(200, serde_json::json!({})),
            "RateLimit-Reason",
            "confluence-quota-global-based",
        );
        let (_, stats) = run_stats(vec![ok]);
        assert_eq!(*stats.rate_limit_reason.borrow(), None);
        let (_, stats) = run_stats(vec![
            throttled(
                429,
                &[
                    ("Retry-After", "1"),
                    ("RateLimit-Reason", "ada@example.com"),
                ],
            ),
            json(200, serde_json::json!({})),
        ]);
        assert_eq!(
            stats.rate_limit_reason.borrow().as_deref(),
            Some("unrecognized")
        );
    }

    #[test]
    fn near_limit_is_noted_from_any_answer() {
        let near = with_header(
            json(200, serde_json::json!({})),
            "X-RateLimit-NearLimit",
            "true",
        );
        let (r, stats) = run_stats(vec![near]);
        assert!(r.is_ok());
        assert!(stats.near_limit.get());
        let (_, stats) = run_stats(vec![with_header(
            json(200, serde_json::json!({})),
            "X-RateLimit-NearLimit",
            "false",
        )]);
        assert!(!stats.near_limit.get());
    }

    #[test]
    fn absurd_retry_after_is_clamped_and_reported() {
        let (r, _, calls, _) = run(
            vec![with_header(
                json(429, serde_json::json!({})),
                "Retry-After",
                "9223372036854775807",
            )],
            LONG,
        );
        assert_eq!(
            r.unwrap_err(),
            UpstreamError::RateLimited {
                retry_after: MAX_RETRY_AFTER
            }
        );
        assert_eq!(calls, 1, "no retry when the wait passes the deadline");
    }

    #[test]
    fn retry_after_past_deadline_is_rate_limited_at_once() {
        let (r, rt, calls, _) = run(
            vec![with_header(
                json(429, serde_json::json!({})),
                "Retry-After",
                "30",
            )],
            LONG,
        );
        assert_eq!(
            r.unwrap_err(),
            UpstreamError::RateLimited {
                retry_after: Duration::from_secs(30)
            }
        );
        assert_eq!(calls, 1);
        assert!(rt.slept.borrow().is_empty());
    }

    #[test]
    fn a_wait_that_leaves_no_useful_attempt_is_not_started() {
        // 25 s deadline, Retry-After 24: waiting would leave 1 s for the retry.
        let (r, rt, calls, _) = run(
            vec![with_header(
                json(429, serde_json::json!({})),
                "Retry-After",
                "24",
            )],
            LONG,
        );
        assert_eq!(
            r.unwrap_err(),
            UpstreamError::RateLimited {
                retry_after: Duration::from_secs(24)
            }
        );
        assert_eq!(calls, 1);
        assert!(rt.slept.borrow().is_empty());
        // 23 s leaves exactly MIN_USEFUL_ATTEMPT: waited.
        let (r, rt, calls, _) = run(
            vec![
                with_header(json(429, serde_json::json!({})), "Retry-After", "23"),
                json(200, serde_json::json!({})),
            ],
            LONG,
        );
        assert!(r.is_ok());
        assert_eq!((calls, rt.slept.borrow().len()), (2, 1));
    }

    #[test]
    fn persistent_429_ends_rate_limited_after_three_attempts() {
        let replies = (0..3)
            .map(|_| with_header(json(429, serde_json::json!({})), "Retry-After", "1"))
            .collect();
        let (r, _, calls, _) = run(replies, LONG);
        assert_eq!(
            r.unwrap_err(),
            UpstreamError::RateLimited {
                retry_after: Duration::from_secs(1)
            }
        );
        assert_eq!(calls, 3);
    }

    #[test]
    fn server_errors_back_off_then_fail() {
        for status in [500, 502, 504] {
            let replies = (0..3)
                .map(|_| json(status, serde_json::json!({})))
                .collect();
            let (r, rt, calls, _) = run(replies, LONG);
            assert!(
                matches!(r.unwrap_err(), UpstreamError::Failed { .. }),
                "{status}"
            );
            assert_eq!(calls, 3);
            let slept = rt.slept.borrow();
            assert_eq!(slept.len(), 2);
            assert!(slept[1] > slept[0], "backoff grows: {slept:?}");
        }
    }

    #[test]
    fn server_error_then_success() {
        let (r, _, calls, _) = run(
            vec![
                json(502, serde_json::json!({})),
                json(200, serde_json::json!({})),
            ],
            LONG,
        );
        assert!(r.is_ok());
        assert_eq!(calls, 2);
    }

    #[test]
    fn unauthorized_and_forbidden_are_not_retried() {
        for status in [401, 403, 404] {
            let (r, _, calls, _) = run(vec![json(status, serde_json::json!({}))], LONG);
            assert_eq!(
                r.unwrap_err(),
                UpstreamError::AuthFailed {
                    origin: SourceKind::Admin
                }
            );
            assert_eq!(calls, 1);
        }
    }

    #[test]
    fn other_client_errors_are_not_retried() {
        let (r, _, calls, _) = run(vec![json(400, serde_json::json!({}))], LONG);
        assert!(matches!(r.unwrap_err(), UpstreamError::Failed { .. }));
        assert_eq!(calls, 1);
    }

    #[test]
    fn malformed_body_is_retried() {
        let bad = Reply::Respond(OutboundResponse {
            status: 200,
            headers: vec![],
            body: b"{\"data\": [".to_vec(),
        });
        let (r, _, calls, _) = run(vec![bad, json(200, serde_json::json!({"ok": true}))], LONG);
        assert!(r.is_ok());
        assert_eq!(calls, 2);
    }

    #[test]
    fn connection_errors_are_retried() {
        let (r, _, calls, _) = run(
            vec![
                Reply::Fail(TransportError::Connection),
                json(200, serde_json::json!({})),
            ],
            LONG,
        );
        assert!(r.is_ok());
        assert_eq!(calls, 2);
    }

    #[test]
    fn denied_is_not_retried() {
        let (r, _, calls, _) = run(vec![Reply::Fail(TransportError::Denied)], LONG);
        assert!(matches!(r.unwrap_err(), UpstreamError::Failed { .. }));
        assert_eq!(calls, 1);
    }

    #[test]
    fn hang_until_deadline_is_a_timeout() {
        let (r, rt, calls, timeouts) = run(vec![Reply::Hang], Duration::from_secs(2));
        assert_eq!(r.unwrap_err(), UpstreamError::Timeout);
        assert_eq!(calls, 1);
        assert_eq!(
            timeouts,
            vec![Duration::from_secs(2)],
            "timeout bounded by the deadline"
        );
        assert_eq!(rt.now.get(), Duration::from_secs(1002));
    }

    #[test]
    fn per_call_timeout_is_capped_then_retried() {
        let (r, _, calls, timeouts) = run(
            vec![Reply::Hang, json(200, serde_json::json!({}))],
            Duration::from_secs(25),
        );
        assert!(r.is_ok());
        assert_eq!(calls, 2);
        assert_eq!(timeouts[0], MAX_CALL_TIMEOUT);
        assert!(timeouts[1] < Duration::from_secs(15));
    }

    #[test]
    fn never_waits_past_the_deadline() {
        // A 503 without Retry-After backs off 100–200 ms; with 150 ms left it must stop.
        let (r, rt, calls, _) = run(
            vec![json(503, serde_json::json!({}))],
            Duration::from_millis(150),
        );
        assert!(matches!(r.unwrap_err(), UpstreamError::Failed { .. }));
        assert_eq!(calls, 1);
        assert!(rt.slept.borrow().is_empty());
    }

    /// `X-RateLimit-Reset` for `secs` seconds after the fake clock's Unix time, in the
    /// ISO 8601 form the request log also writes.
    fn reset_in(secs: u64) -> String {
        let rt = FakeRuntime::new();
        crate::log::rfc3339(rt.unix_time() + Duration::from_secs(secs))
    }

    #[test]
    fn a_429_with_only_x_ratelimit_reset_waits_until_the_reset() {
        let (r, rt, calls, _) = run(
            vec![
                with_header(
                    json(429, serde_json::json!({})),
                    "X-RateLimit-Reset",
                    &reset_in(3),
                ),
                json(200, serde_json::json!({})),
            ],
            LONG,
        );
        assert!(r.is_ok());
        assert_eq!(calls, 2);
        assert_eq!(*rt.slept.borrow(), vec![Duration::from_secs(3)]);
    }

    #[test]
    fn retry_after_wins_over_x_ratelimit_reset() {
        let reply = with_header(
            with_header(
                json(429, serde_json::json!({})),
                "X-RateLimit-Reset",
                &reset_in(9),
            ),
            "Retry-After",
            "2",
        );
        let (r, rt, _, _) = run(vec![reply, json(200, serde_json::json!({}))], LONG);
        assert!(r.is_ok());
        assert_eq!(*rt.slept.borrow(), vec![Duration::from_secs(2)]);
    }

    #[test]
    fn x_ratelimit_reset_past_the_deadline_is_rate_limited_at_once() {
        let (r, rt, calls, _) = run(
            vec![with_header(
                json(429, serde_json::json!({})),
                "X-RateLimit-Reset",
                &reset_in(40),
            )],
            LONG,
        );
        assert_eq!(
            r.unwrap_err(),
            UpstreamError::RateLimited {
                retry_after: Duration::from_secs(40)
            }
        );
        assert_eq!(calls, 1);
        assert!(rt.slept.borrow().is_empty());
    }

    #[test]
    fn a_far_x_ratelimit_reset_is_clamped() {
        let (r, _, _, _) = run(
            vec![with_header(
                json(429, serde_json::json!({})),
                "X-RateLimit-Reset",
                "9999-12-31T23:59:59Z",
            )],
            LONG,
        );
        assert_eq!(
            r.unwrap_err(),
            UpstreamError::RateLimited {
                retry_after: MAX_RETRY_AFTER
            }
        );
    }

    #[test]
    fn rate_limit_reset_parsing() {
        let now = Duration::from_secs(784_887_151); // 1994-11-15T08:12:31Z
        assert_eq!(
            parse_rate_limit_reset("1994-11-15T08:12:36Z", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_rate_limit_reset("1994-11-15T08:12:31.250Z", now),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            parse_rate_limit_reset("1994-11-15T09:12:36+01:00", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_rate_limit_reset("1994-11-15T03:12:36-0500", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(parse_rate_limit_reset("1994-11-15T08:12:31Z", now), None);
        assert_eq!(parse_rate_limit_reset("1994-11-15T08:00:00Z", now), None);
        for bad in [
            "",
            "soon",
            "60",
            "1994-11-15",
            "1994-13-15T08:12:36Z",
            "1994-11-15T08:12:36Q",
        ] {
            assert_eq!(parse_rate_limit_reset(bad, now), None, "{bad}");
        }
        assert_eq!(
            parse_rate_limit_reset("2000-02-29T00:00:00Z", Duration::from_secs(951_782_399)),
            Some(Duration::from_secs(1))
        );
    }

    #[test]
    fn rate_limit_reset_refuses_impossible_dates() {
        let now = Duration::from_secs(1_767_225_600); // 2026-01-01T00:00:00Z
        let (in_range, clamped) = (Some(Duration::from_secs(60)), Some(MAX_RETRY_AFTER));
        assert_eq!(
            parse_rate_limit_reset("2026-01-01T00:01:00Z", now),
            in_range
        );
        assert_eq!(parse_rate_limit_reset("2026-02-28T00:00:00Z", now), clamped);
        assert_eq!(parse_rate_limit_reset("2028-02-29T00:00:00Z", now), clamped);
        for impossible in [
            "2026-02-31T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-00-10T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:00+24:00",
        ] {
            assert_eq!(
                parse_rate_limit_reset(impossible, now),
                None,
                "{impossible}"
            );
        }
    }

    #[test]
    fn retry_after_parsing() {
        let now = Duration::from_secs(1_000_000);
        assert_eq!(parse_retry_after("5", now), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn backoff_doubles_with_jitter_and_caps() {
        let mid = u64::MAX / 2;
        let b1 = backoff(1, mid);
        let b2 = backoff(2, mid);
        assert!(b1 >= BACKOFF_BASE / 2 && b1 <= BACKOFF_BASE);
        assert!(b2 > b1);
        assert!(backoff(30, u64::MAX) <= BACKOFF_CAP);
        assert_ne!(
            backoff(1, 0),
            backoff(1, u64::MAX),
            "jitter varies the wait"
        );
    }

    #[test]
    fn counts_calls_and_retries() {
        let rt = FakeRuntime::new();
        let n = Cell::new(0);
        let transport = FakeTransport::new(rt.clone(), move |_| {
            n.set(n.get() + 1);
            if n.get() < 3 {
                json(500, serde_json::json!({}))
            } else {
                json(200, serde_json::json!({}))
            }
        });
        let stats = Stats::default();
        let ctx = CallContext {
            transport: &transport,
            runtime: &*rt,
            deadline: rt.now() + LONG,
            stats: &stats,
        };
        block_on(call(&ctx, SourceKind::Confluence, req, parse_ok)).unwrap();
        assert_eq!((stats.calls.get(), stats.retries.get()), (3, 2));
    }

    fn once(
        reply: Reply,
        deadline: Duration,
    ) -> (
        Result<OutboundResponse, TransportError>,
        usize,
        Vec<Duration>,
    ) {
        let rt = FakeRuntime::new();
        let reply = std::cell::RefCell::new(Some(reply));
        let transport = FakeTransport::new(rt.clone(), move |_| {
            reply.borrow_mut().take().expect("one call only")
        });
        let stats = Stats::default();
        let ctx = CallContext {
            transport: &transport,
            runtime: &*rt,
            deadline: rt.now() + deadline,
            stats: &stats,
        };
        let result = block_on(call_once(&ctx, req()));
        let timeouts: Vec<Duration> = transport.calls.borrow().iter().map(|(_, t)| *t).collect();
        assert_eq!(stats.calls.get() as usize, timeouts.len());
        assert_eq!(stats.retries.get(), 0);
        (result, timeouts.len(), timeouts)
    }

    #[test]
    fn call_once_returns_the_raw_answer_without_retrying() {
        for status in [200, 401, 429, 500, 503] {
            let (r, calls, _) = once(json(status, serde_json::json!({})), LONG);
            assert_eq!(r.unwrap().status, status);
            assert_eq!(calls, 1, "{status}");
        }
        let (r, calls, _) = once(Reply::Fail(TransportError::Connection), LONG);
        assert_eq!(r.unwrap_err(), TransportError::Connection);
        assert_eq!(calls, 1);
    }

    #[test]
    fn call_once_timeout_is_bounded_by_the_deadline() {
        let (r, _, timeouts) = once(Reply::Hang, Duration::from_secs(5));
        assert_eq!(r.unwrap_err(), TransportError::Timeout);
        assert_eq!(timeouts, vec![Duration::from_secs(5)]);
        let (_, calls, _) = once(json(200, serde_json::json!({})), Duration::ZERO);
        assert_eq!(calls, 0, "no call once the deadline has passed");
    }
}
