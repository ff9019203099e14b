//! One HTTP answer as plain data, built by the API and fault code and turned into a hyper
//! response in one place. Errors take the shape the called API publishes: the organization
//! admin API's `{"errors": [{"code", "detail", "id", "status", "title"}]}` (all strings), and
//! the Confluence APIs' `{"code": <status>, "message": "..."}`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

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
