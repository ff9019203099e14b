//! The errors a caller can see, and the one place that turns them into HTTP.
//!
//! Every error answer is `{"error": "<code>", "message": "<one plain sentence>"}`. Messages are
//! built only from fixed text, variable *names*, indexes and limits: never from a request body,
//! an upstream body, a key, a token, an email or an account id. Caller faults are 4xx variants,
//! our or Atlassian's faults are 5xx variants; the two never share a variant. Upstream failures
//! ([`UpstreamError`]) become answers here too, so the upstream layer knows nothing of HTTP.

use serde::Serialize;

use crate::upstream::{SourceKind, UpstreamError};

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not JSON or not the expected shape; the message says what.
    #[error("invalid json")]
    InvalidJson(&'static str),
    /// 400: the id at this index is empty, too long, or holds whitespace or control characters.
    #[error("invalid account id")]
    InvalidAccountId {
        /// Index of the offending id in `accountIds`.
        index: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// 400: more distinct ids than `max_account_ids`.
    #[error("too many account ids")]
    TooManyAccountIds {
        /// The configured limit.
        max: usize,
    },
    /// 401: the key is missing or wrong (one answer for both).
    #[error("unauthorized")]
    Unauthorized,
    /// 404: no such route.
    #[error("not found")]
    NotFound,
    /// 405: the route exists, the method does not.
    #[error("method not allowed")]
    MethodNotAllowed {
        /// The value of the `Allow` header.
        allow: &'static str,
    },
    /// 408: the request body did not arrive before the request deadline.
    #[error("request timeout")]
    RequestTimeout,
    /// 413: the body is over the limit.
    #[error("payload too large")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// 415: a `Content-Type` other than `application/json`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 415: a `Content-Encoding` other than `identity` (RFC 9110 §15.5.16): answered with
    /// `Accept-Encoding: identity`.
    #[error("unsupported content encoding")]
    UnsupportedContentEncoding,
    /// 502: Atlassian failed after retries, or answered something unusable.
    #[error("upstream error")]
    UpstreamError {
        /// The source that failed.
        origin: SourceKind,
        /// A fixed description of the failure.
        detail: &'static str,
    },
    /// 502: Atlassian refused the credentials this app is configured with.
    #[error("upstream auth failed")]
    UpstreamAuthFailed {
        /// The source whose credentials were refused.
        origin: SourceKind,
    },
    /// 503: Atlassian asked us to wait past our deadline.
    #[error("upstream rate limited")]
    UpstreamRateLimited {
        /// Seconds the caller should wait, sent as `Retry-After`.
        retry_after_secs: u64,
    },
    /// 503: the key or a needed setting is missing or invalid.
    #[error("not configured")]
    NotConfigured {
        /// Names of the variables to fix.
        variables: Vec<&'static str>,
        /// When `api_key` itself is invalid: its fixed reason (`api_key <reason>`), which says
        /// how to make a key. Shown to anyone: nothing works until it is fixed, and it holds no
        /// value.
        key_reason: Option<&'static str>,
    },
    /// 504: the request deadline passed.
    #[error("upstream timeout")]
    UpstreamTimeout,
}

/// The JSON body of every error answer.
#[derive(Debug, Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    message: String,
}

/// An HTTP answer: status, headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Header names and values (the handler adds the common ones).
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON answer.
    pub fn json(status: u16, body: &impl Serialize) -> Response {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            // Serializing our own plain structs cannot fail.
            body: serde_json::to_vec(body).unwrap_or_default(),
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            ApiError::InvalidJson(_)
            | ApiError::InvalidAccountId { .. }
            | ApiError::TooManyAccountIds { .. } => 400,
            ApiError::Unauthorized => 401,
            ApiError::NotFound => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::RequestTimeout => 408,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::UnsupportedMediaType | ApiError::UnsupportedContentEncoding => 415,
            ApiError::UpstreamError { .. } | ApiError::UpstreamAuthFailed { .. } => 502,
            ApiError::UpstreamRateLimited { .. } | ApiError::NotConfigured { .. } => 503,
            ApiError::UpstreamTimeout => 504,
        }
    }

    /// The machine-readable code in the body's `error` field.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::InvalidAccountId { .. } => "invalid_account_id",
            ApiError::TooManyAccountIds { .. } => "too_many_account_ids",
            ApiError::Unauthorized => "unauthorized",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::RequestTimeout => "request_timeout",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::UnsupportedContentEncoding => "unsupported_content_encoding",
            ApiError::UpstreamError { .. } => "upstream_error",
            ApiError::UpstreamAuthFailed { .. } => "upstream_auth_failed",
            ApiError::UpstreamRateLimited { .. } => "upstream_rate_limited",
            ApiError::NotConfigured { .. } => "not_configured",
            ApiError::UpstreamTimeout => "upstream_timeout",
        }
    }

    /// One plain sentence for a person.
    pub fn message(&self) -> String {
        match self {
            ApiError::InvalidJson(what) => (*what).to_string(),
            ApiError::InvalidAccountId { index, reason } => {
                format!("accountIds[{index}] is not a valid account id: it {reason}.")
            }
            ApiError::TooManyAccountIds { max } => {
                format!("At most {max} distinct account ids are accepted per request.")
            }
            ApiError::Unauthorized => {
                "A valid API key is required in the X-Api-Key header.".to_string()
            }
            ApiError::NotFound => {
                "No such route: POST / looks up emails, GET /health/ready reports readiness, GET \
                 /admin is the admin page."
                    .to_string()
            }
            ApiError::MethodNotAllowed { allow } => {
                format!("This route accepts only {allow}.")
            }
            ApiError::RequestTimeout => {
                "The request body did not arrive before the request deadline.".to_string()
            }
            ApiError::PayloadTooLarge { limit } => {
                format!("The request body is larger than the {limit}-byte limit.")
            }
            ApiError::UnsupportedMediaType => {
                "The request body must be sent as application/json.".to_string()
            }
            ApiError::UnsupportedContentEncoding => {
                "The request body must not be compressed: send it without Content-Encoding \
                 (identity is the only coding accepted)."
                    .to_string()
            }
            ApiError::UpstreamError {
                origin: source,
                detail,
            } => {
                format!(
                    "The {} {detail}; no partial result is returned.",
                    source.describe()
                )
            }
            ApiError::UpstreamAuthFailed { origin: source } => format!(
                "The {} refused this app's credentials; check {}.",
                source.describe(),
                source.credential_variables()
            ),
            ApiError::UpstreamRateLimited { retry_after_secs } => format!(
                "Atlassian is rate limiting this app; retry after {retry_after_secs} seconds."
            ),
            ApiError::NotConfigured {
                variables,
                key_reason,
            } => match key_reason {
                Some(reason) => format!(
                    "This app is not configured: set valid values for {}; api_key {reason}.",
                    variables.join(", ")
                ),
                None => format!(
                    "This app is not configured: set valid values for {}.",
                    variables.join(", ")
                ),
            },
            ApiError::UpstreamTimeout => {
                "Atlassian did not answer before the request deadline.".to_string()
            }
        }
    }

    /// The whole answer: status, headers and JSON body.
    pub fn to_response(&self) -> Response {
        let mut response = Response::json(
            self.status(),
            &ErrorBody {
                error: self.code(),
                message: self.message(),
            },
        );
        match self {
            ApiError::MethodNotAllowed { allow } => {
                response.headers.push(("allow".into(), (*allow).into()));
            }
            ApiError::UpstreamRateLimited { retry_after_secs } => {
                response
                    .headers
                    .push(("retry-after".into(), retry_after_secs.to_string()));
            }
            ApiError::UnsupportedContentEncoding => {
                response
                    .headers
                    .push(("accept-encoding".into(), "identity".into()));
            }
            ApiError::Unauthorized => {
                response.headers.push((
                    "www-authenticate".into(),
                    "ApiKey header=\"X-Api-Key\"".into(),
                ));
            }
            _ => {}
        }
        response
    }
}

/// An upstream failure as an answer: a `Retry-After` is rounded up to whole seconds, at least 1.
impl From<UpstreamError> for ApiError {
    fn from(e: UpstreamError) -> Self {
        match e {
            UpstreamError::AuthFailed { origin } => ApiError::UpstreamAuthFailed { origin },
            UpstreamError::RateLimited { retry_after } => ApiError::UpstreamRateLimited {
                retry_after_secs: retry_after.as_secs_f64().ceil().max(1.0) as u64,
            },
            UpstreamError::Timeout => ApiError::UpstreamTimeout,
            UpstreamError::Failed { origin, detail } => ApiError::UpstreamError { origin, detail },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(e: &ApiError) -> serde_json::Value {
        serde_json::from_slice(&e.to_response().body).unwrap()
    }

    #[test]
    fn every_error_is_code_and_message_json() {
        let all = [
            ApiError::InvalidJson("The request body is not valid JSON."),
            ApiError::InvalidAccountId {
                index: 3,
                reason: "is empty",
            },
            ApiError::TooManyAccountIds { max: 1000 },
            ApiError::Unauthorized,
            ApiError::NotFound,
            ApiError::MethodNotAllowed { allow: "POST" },
            ApiError::RequestTimeout,
            ApiError::PayloadTooLarge { limit: 1 << 20 },
            ApiError::UnsupportedMediaType,
            ApiError::UnsupportedContentEncoding,
            ApiError::UpstreamError {
                origin: SourceKind::Admin,
                detail: "failed",
            },
            ApiError::UpstreamAuthFailed {
                origin: SourceKind::Confluence,
            },
            ApiError::UpstreamRateLimited {
                retry_after_secs: 7,
            },
            ApiError::NotConfigured {
                variables: vec!["api_key"],
                key_reason: None,
            },
            ApiError::UpstreamTimeout,
        ];
        let expected = [
            (400, "invalid_json"),
            (400, "invalid_account_id"),
            (400, "too_many_account_ids"),
            (401, "unauthorized"),
            (404, "not_found"),
            (405, "method_not_allowed"),
            (408, "request_timeout"),
            (413, "payload_too_large"),
            (415, "unsupported_media_type"),
            (415, "unsupported_content_encoding"),
            (502, "upstream_error"),
            (502, "upstream_auth_failed"),
            (503, "upstream_rate_limited"),
            (503, "not_configured"),
            (504, "upstream_timeout"),
        ];
        for (error, (status, code)) in all.iter().zip(expected) {
            let json = body(error);
            assert_eq!(error.status(), status, "{code}");
            assert_eq!(json["error"], code);
            let message = json["message"].as_str().unwrap();
            assert!(message.ends_with('.'), "{message}");
            assert_eq!(json.as_object().unwrap().len(), 2);
        }
    }

    #[test]
    fn method_not_allowed_carries_allow() {
        let r = ApiError::MethodNotAllowed { allow: "POST" }.to_response();
        assert_eq!(r.header("allow"), Some("POST"));
    }

    #[test]
    fn unsupported_content_encoding_names_what_is_accepted() {
        let r = ApiError::UnsupportedContentEncoding.to_response();
        assert_eq!(r.status, 415);
        assert_eq!(r.header("accept-encoding"), Some("identity"));
        assert!(ApiError::UnsupportedMediaType
            .to_response()
            .header("accept-encoding")
            .is_none());
    }

    #[test]
    fn rate_limited_carries_retry_after() {
        let r = ApiError::UpstreamRateLimited {
            retry_after_secs: 12,
        }
        .to_response();
        assert_eq!(r.header("retry-after"), Some("12"));
    }

    #[test]
    fn an_invalid_api_key_says_how_to_make_one() {
        let e = ApiError::NotConfigured {
            variables: vec!["api_key"],
            key_reason: Some(crate::auth::HOW_TO_MAKE_A_KEY),
        };
        let message = e.message();
        assert!(message.contains("api_key holds a plain key"), "{message}");
        assert!(message.contains("openssl rand -hex 32"), "{message}");
        let missing = ApiError::NotConfigured {
            variables: vec!["api_key"],
            key_reason: None,
        };
        assert_eq!(
            missing.message(),
            "This app is not configured: set valid values for api_key."
        );
    }

    #[test]
    fn invalid_account_id_names_the_index() {
        let e = ApiError::InvalidAccountId {
            index: 4,
            reason: "is empty",
        };
        assert_eq!(
            e.message(),
            "accountIds[4] is not a valid account id: it is empty."
        );
    }
}
