//! The seams through which the core meets its platform.
//!
//! The core never calls Spin or WASI directly. It reads configuration through [`Variables`],
//! makes outbound HTTP calls through [`Transport`], and tells time, sleeps and draws random
//! numbers through [`Runtime`]; [`Platform`] bundles the three for the core. The Spin entry implements them over `fermyon:spin/variables`,
//! `wasi:http` and `wasi:clocks`; tests implement them with fakes.

use std::time::Duration;

use futures::future::LocalBoxFuture;

/// Reads a Spin variable.
pub trait Variables {
    /// The value of `name`, `Ok(None)` when the variable is not defined for this component.
    fn get(&self, name: &str) -> Result<Option<String>, VariableError>;
}

/// [`Variables`] read at most once per name: the first answer for each name (a value, none, or a
/// provider failure) is kept and given again. The core wraps the platform's variables in one for
/// each request (`handler::handle`), so however many checks look at a setting (loading,
/// readiness's assumptions, `/admin/status`'s list), one request reads it from the provider once
/// — with Spin's Vault provider, one HTTP call and one audit entry per variable at most. Values
/// live as long as the request; its `Debug` shows names only.
pub struct ReadOnce<'a> {
    inner: &'a dyn Variables,
    read: std::cell::RefCell<Vec<(String, VariableAnswer)>>,
}

/// What the provider answered for one name.
type VariableAnswer = Result<Option<String>, VariableError>;

impl<'a> ReadOnce<'a> {
    /// Wraps `inner`; nothing is read yet.
    pub fn new(inner: &'a dyn Variables) -> ReadOnce<'a> {
        ReadOnce {
            inner,
            read: std::cell::RefCell::new(Vec::new()),
        }
    }
}

impl Variables for ReadOnce<'_> {
    fn get(&self, name: &str) -> Result<Option<String>, VariableError> {
        if let Some((_, answer)) = self.read.borrow().iter().find(|(n, _)| n == name) {
            return answer.clone();
        }
        let answer = self.inner.get(name);
        self.read
            .borrow_mut()
            .push((name.to_string(), answer.clone()));
        answer
    }
}

impl std::fmt::Debug for ReadOnce<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self.read.borrow().iter().map(|(n, _)| n.clone()).collect();
        f.debug_struct("ReadOnce").field("read", &names).finish()
    }
}

/// A variable exists but its provider could not produce a value (a Vault outage, say).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the variables provider could not be read")]
pub struct VariableError;

/// HTTP method of an outbound call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
}

/// An outbound HTTP request. Its URL and headers may carry credentials: never log them.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    /// The method.
    pub method: Method,
    /// `scheme://authority/path?query`.
    pub url: String,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The request body.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for OutboundRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers hold credentials; the URL and body hold account ids.
        f.debug_struct("OutboundRequest")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

/// An outbound HTTP response, body read in full (bounded by the transport).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutboundResponse {
    /// The status code.
    pub status: u16,
    /// Header names (lowercase) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl OutboundResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Why an outbound call produced no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The call's timeout passed before a complete response arrived.
    #[error("timed out")]
    Timeout,
    /// The platform refused the call: the host is not in `allowed_outbound_hosts`.
    #[error("denied by allowed_outbound_hosts")]
    Denied,
    /// The connection failed, was reset, or the response was cut short.
    #[error("connection failed")]
    Connection,
    /// The response body was larger than the transport accepts.
    #[error("response too large")]
    TooLarge,
}

/// Sends outbound HTTP requests.
pub trait Transport {
    /// Sends `request` and reads the whole response, giving up after `timeout`.
    fn send(
        &self,
        request: OutboundRequest,
        timeout: Duration,
    ) -> LocalBoxFuture<'_, Result<OutboundResponse, TransportError>>;
}

/// Time, timers and randomness.
pub trait Runtime {
    /// A monotonic reading: only differences between readings mean anything.
    fn now(&self) -> Duration;
    /// Completes after `duration`.
    fn sleep(&self, duration: Duration) -> LocalBoxFuture<'_, ()>;
    /// Wall-clock time since the Unix epoch, for logs and HTTP dates.
    fn unix_time(&self) -> Duration;
    /// A random number, for request ids and backoff jitter.
    fn random_u64(&self) -> u64;
}

/// The platform, as the core reaches it.
pub struct Platform<'a> {
    /// Spin variables.
    pub variables: &'a dyn Variables,
    /// Outbound HTTP.
    pub transport: &'a dyn Transport,
    /// Time and randomness.
    pub runtime: &'a dyn Runtime,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// Counts reads; `fail` fails, `set` is "v", anything else is undefined.
    struct Counting(RefCell<Vec<String>>);

    impl Variables for Counting {
        fn get(&self, name: &str) -> Result<Option<String>, VariableError> {
            self.0.borrow_mut().push(name.to_string());
            match name {
                "fail" => Err(VariableError),
                "set" => Ok(Some("secret-value".into())),
                _ => Ok(None),
            }
        }
    }

    #[test]
    fn read_once_asks_the_provider_once_per_name_and_keeps_each_answer() {
        let provider = Counting(RefCell::new(Vec::new()));
        let once = ReadOnce::new(&provider);
        for _ in 0..3 {
            assert_eq!(once.get("set"), Ok(Some("secret-value".into())));
            assert_eq!(once.get("unset"), Ok(None));
            assert_eq!(once.get("fail"), Err(VariableError));
        }
        assert_eq!(*provider.0.borrow(), vec!["set", "unset", "fail"]);
        // Names only in Debug, never values.
        let debug = format!("{once:?}");
        assert!(
            debug.contains("set") && !debug.contains("secret-value"),
            "{debug}"
        );
    }
}
