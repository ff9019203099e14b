//! One HTTP answer as plain data, built by the API and fault code and turned into a hyper
//! response in one place. Errors take the shape the called API publishes: the organization
//! admin API's `{"errors": [{"code", "detail", "id", "status", "title"}]}` (all strings), and
//! the Confluence APIs' `{"code": <status>, "message": "..."}`.

use std::convert::Infallible;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

/// The body of every answer: whole, or in chunks.
pub(crate) type Body = BoxBody<Bytes, Infallible>;

/// The size of the pieces of a chunked answer.
const CHUNK: usize = 64 * 1024;

/// The content type of every JSON answer.
pub(crate) const JSON: &str = "application/json;charset=UTF-8";

/// Which API's error body to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorShape {
    /// The organization admin API: `{"errors": [...]}`.
    Admin,
    /// The Confluence APIs: `{"code", "message"}`.
    Confluence,
}

/// A complete answer: status, extra headers and body.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl Reply {
    /// A JSON answer.
    pub fn json(status: StatusCode, value: &Value) -> Reply {
        Reply {
            status,
            content_type: JSON,
            headers: Vec::new(),
            body: Bytes::from(value.to_string()),
        }
    }

    /// A JSON error `{"code", "message"}` (the Confluence APIs' shape).
    pub fn error(status: StatusCode, message: &str) -> Reply {
        Reply::json(
            status,
            &json!({"code": status.as_u16(), "message": message}),
        )
    }

    /// The organization admin API's published error body:
    /// `{"errors": [{"code", "detail", "id", "status", "title"}]}`, every field a string.
    pub fn admin_error(status: StatusCode, detail: &str) -> Reply {
        let title = status.canonical_reason().unwrap_or("Error");
        let code = title.to_ascii_uppercase().replace([' ', '-'], "_");
        Reply::json(
            status,
            &json!({"errors": [{
                "code": code,
                "detail": detail,
                "id": format!("fake-atlassian-{}", status.as_u16()),
                "status": status.as_u16().to_string(),
                "title": title,
            }]}),
        )
    }

    /// An error in the shape of the API `shape` names.
    pub fn error_in(shape: ErrorShape, status: StatusCode, message: &str) -> Reply {
        match shape {
            ErrorShape::Admin => Reply::admin_error(status, message),
            ErrorShape::Confluence => Reply::error(status, message),
        }
    }

    /// An empty 204 (control API acknowledgements).
    pub fn no_content() -> Reply {
        Reply {
            status: StatusCode::NO_CONTENT,
            content_type: JSON,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a header; values that are not valid header bytes are skipped.
    pub fn with_header(mut self, name: HeaderName, value: &str) -> Reply {
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            self.headers.push((name, value));
        }
        self
    }

    /// Adds `X-RateLimit-Reset`: `at` as an RFC 3339 UTC instant to the second
    /// (`2026-02-14T09:00:00Z`), as Atlassian sends it.
    pub fn with_rate_limit_reset(self, at: SystemTime) -> Reply {
        self.with_header(HeaderName::from_static("x-ratelimit-reset"), &rfc3339(at))
    }

    /// The hyper response. `Content-Length` always matches the body.
    pub fn into_response(self) -> Response<Body> {
        let length = self.body.len();
        let body = Full::new(self.body.clone()).boxed();
        self.respond(body, Some(length))
    }

    /// The hyper response with the body sent chunked (`Transfer-Encoding: chunked`), in pieces
    /// of 64 KiB, without `Content-Length`.
    pub fn into_chunked_response(self) -> Response<Body> {
        let whole = &self.body;
        let pieces: Vec<Result<Frame<Bytes>, Infallible>> = (0..whole.len())
            .step_by(CHUNK)
            .map(|at| Ok(Frame::data(whole.slice(at..whole.len().min(at + CHUNK)))))
            .collect();
        let body = StreamBody::new(futures::stream::iter(pieces)).boxed();
        self.respond(body, None)
    }

    fn respond(self, body: Body, length: Option<usize>) -> Response<Body> {
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if self.status != StatusCode::NO_CONTENT {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
            if let Some(length) = length {
                headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
            }
        }
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}

/// `at` as `YYYY-MM-DDTHH:MM:SSZ` (UTC), held within the years RFC 3339 can write (1970, the
/// clock's epoch, to 9999): an instant a caller injects is never a reason to panic.
pub(crate) fn rfc3339(at: SystemTime) -> String {
    /// 9999-12-31T23:59:59Z.
    const LAST: Duration = Duration::from_secs(253_402_300_799);
    let at = at.clamp(SystemTime::UNIX_EPOCH, SystemTime::UNIX_EPOCH + LAST);
    humantime::format_rfc3339_seconds(at).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_formats_utc_to_the_second() {
        let at = |secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
        assert_eq!(rfc3339(at(784_887_151)), "1994-11-15T08:12:31Z");
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(951_782_400)), "2000-02-29T00:00:00Z");
        let fraction = at(784_887_151) + Duration::from_millis(999);
        assert_eq!(rfc3339(fraction), "1994-11-15T08:12:31Z");
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            rfc3339(at(u64::from(u32::MAX) * 1000)),
            "9999-12-31T23:59:59Z"
        );
    }
}
