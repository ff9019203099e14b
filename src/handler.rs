//! The HTTP surface: routing, the order of checks, and the answers.
//!
//! `POST /` runs these steps, each able to end the request:
//! 1. `api_key` — and no other variable — is read and valid (else `503 not_configured`);
//! 2. `X-Api-Key` matches an accepted key (else `401`): a request without a valid key reads no
//!    other variable, so an anonymous flood costs one variable read per request, never a secret
//!    store round trip per secret;
//! 3. the rest of the configuration loads completely (else `503 not_configured`, before the
//!    body is read);
//! 4. `Content-Type` is absent or `application/json` (else `415`), and `Content-Encoding` absent
//!    or `identity` (else `415` with `Accept-Encoding: identity`: the body is never decoded);
//! 5. the body is at most 1 MiB, by `Content-Length` and while reading (else `413`), and
//!    arrives before the request deadline (else `408`);
//! 6. the body parses and its ids pass the limits (else `400`);
//! 7. the ids are resolved before the request deadline, which started when the request arrived
//!    (else `502`/`503`/`504`).
//!
//! `GET /health` is liveness: it reads nothing and always answers `200 {"status":"ok"}`.
//! `GET /health/ready` is readiness: it reads only the non-secret settings and answers `200
//! {"status":"ready"}` or `503` naming (never showing) what to fix; whether the secrets are set
//! is told only to a key holder, by `/admin/status`.
//! `GET /admin`, `/admin/app.js`, `/admin/app.css` and `/admin/favicon.svg` (no key) are the admin page; its
//! `GET /admin/status` checks the key exactly like `POST /` (steps 1 and 2) but answers even when
//! a source is misconfigured (see [`crate::admin`]). Every answer carries `X-Request-Id`,
//! `Cache-Control: no-store` and `X-Content-Type-Options: nosniff`; an answer whose headers
//! could not be sent is replaced by a bare `500` with [`FALLBACK_HEADERS`] (fail closed).

use std::time::Duration;

use futures::future::{self, Either, LocalBoxFuture};
use serde::Serialize;

use crate::admin;
use crate::auth::{presented_key, ApiKeys};
use crate::config::{Config, ConfigError};
use crate::error::{ApiError, Response};
use crate::log::{method_name, rfc3339, RequestLog};
use crate::platform::{Platform, ReadOnce, Runtime};
use crate::request::{
    is_identity_content_encoding, is_json_content_type, parse_lookup, MAX_BODY_BYTES,
};
use crate::resolve::resolve;
use crate::upstream::{CallContext, Stats};

/// The longest caller-supplied `X-Request-Id` kept.
pub const MAX_REQUEST_ID_LEN: usize = 64;

/// The largest upstream response body read, in bytes (the transport answers `TooLarge` past
/// it). The largest legitimate page is a users-bulk answer for 250 ids — about 400 KiB even
/// with every field at its longest, some 150 KiB in practice — and an admin search page of at
/// most 100 users is smaller: 2 MiB leaves a margin of 5× over the worst case. The request body
/// is freed before the upstream calls, so one instance then holds at most ~1.1 MiB of runtime
/// (stack and data), ≤ 0.5 MiB for 1,000 ids, `upstream_concurrency` answers of up to 2 MiB in
/// [`BodyBuffer`]s (2.1 MiB read and parsed when the answer declares its `Content-Length`; up to
/// 3.1 MiB while one without it grows past 1 MiB and is copied) and under 0.1 MiB to parse one
/// (pages are filtered row by row while parsed): ~10 MiB (14 MiB without `Content-Length`) at the
/// default 4, ~69 MiB (101 MiB) at the maximum 32, inside the SpinKube pod's 256Mi
/// (`bench parse-memory` measures each term natively). Before the calls, the worst request body
/// needs 5 MiB of linear memory in all (`bench memory-cap`).
pub const MAX_RESPONSE_BYTES: usize = 2 * 1024 * 1024;

/// Why the request body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// More than the limit.
    TooLarge,
    /// The stream failed or ended early.
    Io,
}

/// A request body, read on demand and bounded.
pub trait Body {
    /// Reads the whole body into `into` chunk by chunk ([`BodyBuffer::push`]), failing with
    /// [`BodyError::TooLarge`] as soon as it passes the buffer's limit.
    fn read(self, into: BodyBuffer) -> LocalBoxFuture<'static, Result<Vec<u8>, BodyError>>;
}

/// A body being read into memory, never past its limit and never with a buffer larger than the
/// limit: the buffer starts at the declared `Content-Length` (at most the limit), so a body that
/// says its size is read into one allocation; otherwise it doubles as chunks arrive, capped at
/// the limit (a plain `Vec` would double past it, to twice the limit, and hold the old and the
/// new buffer at once while copying). Used for the request body and for upstream responses.
#[derive(Debug)]
pub struct BodyBuffer {
    bytes: Vec<u8>,
    limit: usize,
}

impl BodyBuffer {
    /// An empty buffer for a body of at most `limit` bytes, `declared` long if it says so.
    pub fn new(limit: usize, declared: Option<u64>) -> BodyBuffer {
        let capacity = declared.map_or(0, |n| usize::try_from(n).unwrap_or(limit).min(limit));
        BodyBuffer {
            bytes: Vec::with_capacity(capacity),
            limit,
        }
    }

    /// Appends `chunk`, or fails with [`BodyError::TooLarge`] (keeping nothing more) if the
    /// body would pass the limit.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
        let needed = self.bytes.len() + chunk.len();
        if needed > self.limit {
            return Err(BodyError::TooLarge);
        }
        if needed > self.bytes.capacity() {
            let grown = needed.max(self.bytes.capacity() * 2).min(self.limit);
            self.bytes.reserve_exact(grown - self.bytes.len());
        }
        self.bytes.extend_from_slice(chunk);
        Ok(())
    }

    /// The bytes read.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// A request as the core sees it.
pub struct Request<B> {
    /// The method.
    pub method: String,
    /// Path and query, e.g. `/health?x=1`.
    pub path_with_query: String,
    /// Header names (any case) and raw values.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, not yet read.
    pub body: B,
}

impl<B> Request<B> {
    fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }
}

#[derive(Serialize)]
struct Found<'a> {
    #[serde(rename = "accountId")]
    account_id: &'a str,
    #[serde(rename = "emailAddress")]
    email_address: Option<&'a str>,
}

/// The headers of the bare `500` that replaces an answer whose headers cannot be sent: fixed,
/// valid, and as strict as any answer's.
pub const FALLBACK_HEADERS: [(&str, &str); 5] = [
    ("cache-control", "no-store"),
    ("x-content-type-options", "nosniff"),
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
];

/// Whether every header can be sent as is: a token name and a value of visible ASCII, spaces
/// and tabs (what `wasi:http` fields accept).
pub fn headers_are_sendable(headers: &[(String, String)]) -> bool {
    headers.iter().all(|(name, value)| {
        !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
            && value
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    })
}

/// The bare `500` that replaces an answer whose headers cannot be sent.
pub fn fallback_response(request_id: &str) -> Response {
    let mut headers: Vec<(String, String)> = FALLBACK_HEADERS
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    if headers_are_sendable(&[("x-request-id".into(), request_id.into())]) {
        headers.push(("x-request-id".into(), request_id.into()));
    }
    Response {
        status: 500,
        headers,
        body: Vec::new(),
    }
}

#[derive(Serialize)]
struct Health<'a> {
    status: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    missing: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invalid: Option<Vec<&'static str>>,
}

/// The request id to use: the caller's if it is a short token of safe characters, else new.
pub fn request_id(given: Option<&[u8]>, runtime: &dyn Runtime) -> String {
    if let Some(given) = given {
        let safe = !given.is_empty()
            && given.len() <= MAX_REQUEST_ID_LEN
            && given
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
        if safe {
            return String::from_utf8_lossy(given).into_owned();
        }
    }
    format!("{:016x}{:016x}", runtime.random_u64(), runtime.random_u64())
}

/// The route a path names.
fn route(path_with_query: &str) -> &'static str {
    let path = path_with_query.split(['?', '#']).next().unwrap_or("");
    match path {
        "" | "/" => "/",
        "/health" => "/health",
        "/health/ready" => "/health/ready",
        "/admin" => "/admin",
        "/admin/app.js" => "/admin/app.js",
        "/admin/app.css" => "/admin/app.css",
        "/admin/favicon.svg" => "/admin/favicon.svg",
        "/admin/status" => "/admin/status",
        _ => "unknown",
    }
}

/// Handles one request; returns the answer and its log line.
pub async fn handle<B: Body>(
    request: Request<B>,
    platform: &Platform<'_>,
) -> (Response, RequestLog) {
    // Each variable is read from the provider at most once in this request, whoever asks.
    let variables = ReadOnce::new(platform.variables);
    let platform = &Platform {
        variables: &variables,
        transport: platform.transport,
        runtime: platform.runtime,
    };
    let started = platform.runtime.now();
    let mut log = RequestLog {
        time: rfc3339(platform.runtime.unix_time()),
        request_id: request_id(request.header("x-request-id"), platform.runtime),
        method: method_name(&request.method),
        route: route(&request.path_with_query),
        ..RequestLog::default()
    };
    let stats = Stats::default();

    let result = match log.route {
        "/" if log.method == "POST" => lookup(request, platform, started, &mut log, &stats).await,
        "/" => Err(ApiError::MethodNotAllowed { allow: "POST" }),
        "/health" if log.method == "GET" => Ok(Response::json(
            200,
            &Health {
                status: "ok",
                missing: None,
                invalid: None,
            },
        )),
        "/health/ready" if log.method == "GET" => Ok(ready(platform)),
        "/admin" if log.method == "GET" => Ok(admin::page()),
        "/admin/app.js" if log.method == "GET" => Ok(admin::script()),
        "/admin/app.css" if log.method == "GET" => Ok(admin::stylesheet()),
        "/admin/favicon.svg" if log.method == "GET" => Ok(admin::icon()),
        "/admin/status" if log.method == "GET" => {
            match authenticate(&request, platform, &mut log) {
                Ok((keys, position)) => {
                    let presented = presented_key(&request.headers);
                    admin::status(keys, position, presented, platform, &stats).await
                }
                Err(e) => Err(e),
            }
        }
        "/health" | "/health/ready" | "/admin" | "/admin/app.js" | "/admin/app.css"
        | "/admin/favicon.svg" | "/admin/status" => {
            Err(ApiError::MethodNotAllowed { allow: "GET" })
        }
        _ => Err(ApiError::NotFound),
    };
    let mut response = result.unwrap_or_else(|e| {
        log.error = Some(e.code());
        e.to_response()
    });

    log.status = response.status;
    log.upstream_calls = stats.calls.get();
    log.retries = stats.retries.get();
    log.rate_limit_reason = stats.rate_limit_reason.take();
    log.near_limit = stats.near_limit.get();
    log.duration_ms = platform.runtime.now().saturating_sub(started).as_millis() as u64;
    response.headers.extend([
        ("x-request-id".to_string(), log.request_id.clone()),
        ("cache-control".to_string(), "no-store".to_string()),
        ("x-content-type-options".to_string(), "nosniff".to_string()),
    ]);
    if !headers_are_sendable(&response.headers) {
        response = fallback_response(&log.request_id);
        log.status = response.status;
        log.error = Some("internal_error");
    }
    (response, log)
}

/// Steps 1 and 2: reads `api_key` alone and checks the one presented key against it. On
/// success, notes in the log which accepted key it was (its position, never its fingerprint)
/// and returns the keys with that position.
fn authenticate<B>(
    request: &Request<B>,
    platform: &Platform<'_>,
    log: &mut RequestLog,
) -> Result<(ApiKeys, usize), ApiError> {
    let keys = Config::load_keys(platform.variables).map_err(|e| not_configured(&e))?;
    let position = keys
        .position(presented_key(&request.headers))
        .ok_or(ApiError::Unauthorized)?;
    log.key = Some(position);
    Ok((keys, position))
}

fn not_configured(e: &ConfigError) -> ApiError {
    ApiError::NotConfigured {
        variables: e.variables(),
        key_reason: e.key_reason(),
    }
}

/// `GET /health/ready`: the non-secret settings only (see [`crate::config::check_ready`]).
fn ready(platform: &Platform<'_>) -> Response {
    match crate::config::check_ready(platform.variables) {
        Ok(()) => Response::json(
            200,
            &Health {
                status: "ready",
                missing: None,
                invalid: None,
            },
        ),
        Err(e) => Response::json(
            503,
            &Health {
                status: "not_configured",
                missing: Some(e.missing.clone()),
                invalid: Some(e.invalid.iter().map(|(name, _)| *name).collect()),
            },
        ),
    }
}

async fn lookup<B: Body>(
    request: Request<B>,
    platform: &Platform<'_>,
    started: Duration,
    log: &mut RequestLog,
    stats: &Stats,
) -> Result<Response, ApiError> {
    let (keys, _) = authenticate(&request, platform, log)?;
    let config =
        Config::load_with_keys(platform.variables, keys).map_err(|e| not_configured(&e))?;
    // The deadline counts from the request's arrival and covers reading the body.
    let deadline = started + config.request_timeout;
    let remaining = || deadline.saturating_sub(platform.runtime.now());

    if request.header_count("content-type") > 1
        || !is_json_content_type(request.header("content-type"))
    {
        return Err(ApiError::UnsupportedMediaType);
    }
    let codings = request
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("content-encoding"));
    if !is_identity_content_encoding(codings.map(|(_, v)| v.as_slice())) {
        return Err(ApiError::UnsupportedContentEncoding);
    }
    let declared = request
        .header("content-length")
        .and_then(|v| std::str::from_utf8(v).ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let reading = request.body.read(BodyBuffer::new(MAX_BODY_BYTES, declared));
    let body_deadline = platform.runtime.sleep(remaining());
    let body = match future::select(reading, body_deadline).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => return Err(ApiError::RequestTimeout),
    };
    let body = body.map_err(|e| match e {
        BodyError::TooLarge => ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        },
        BodyError::Io => ApiError::InvalidJson("The request body could not be read completely."),
    })?;

    let lookup = parse_lookup(&body, config.max_account_ids)?;
    // The ids are copied out: the body's memory is free again before any upstream call.
    drop(body);
    log.ids_requested = lookup.requested;
    log.ids_distinct = lookup.ids.len();
    if lookup.ids.is_empty() {
        return Ok(Response::json(200, &Vec::<Found>::new()));
    }

    let ctx = CallContext {
        transport: platform.transport,
        runtime: platform.runtime,
        deadline,
        stats,
    };
    let resolving = std::pin::pin!(resolve(
        &config.sources,
        config.upstream_concurrency,
        &lookup.ids,
        &ctx
    ));
    // Belt and braces: every call already has a timeout inside the deadline, but the answer
    // must come in time even if a transport ignores it.
    let timer = platform
        .runtime
        .sleep(remaining() + Duration::from_millis(50));
    let resolution = match future::select(resolving, timer).await {
        Either::Left((result, _)) => result?,
        Either::Right(_) => return Err(ApiError::UpstreamTimeout),
    };

    log.resolved = resolution
        .resolved_by
        .iter()
        .map(|(kind, n)| (kind.name(), *n))
        .collect();
    log.unresolved = lookup.ids.len() - resolution.emails.len();

    let found: Vec<Found> = lookup
        .ids
        .iter()
        .filter_map(|id| {
            let email = resolution.emails.get(id).map(String::as_str);
            (email.is_some() || lookup.include_unresolved).then_some(Found {
                account_id: id,
                email_address: email,
            })
        })
        .collect();
    Ok(Response::json(200, &found))
}

#[cfg(test)]
mod tests;
