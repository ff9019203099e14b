//! One HTTP answer as plain data, built by the API and fault code and turned into a hyper
//! response in one place. Errors always use Atlassian's `{"code": <status>, "message": "..."}`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

/// The content type of every JSON answer.
pub(crate) const JSON: &str = "application/json;charset=UTF-8";

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

    /// A JSON error `{"code", "message"}`.
    pub fn error(status: StatusCode, message: &str) -> Reply {
        Reply::json(
            status,
            &json!({"code": status.as_u16(), "message": message}),
        )
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

    /// The hyper response. `Content-Length` always matches the body.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body.clone()));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        if self.status != StatusCode::NO_CONTENT {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
            headers.insert(CONTENT_LENGTH, HeaderValue::from(self.body.len()));
        }
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        response
    }
}
