//! Fakes of the platform seams for native unit tests: a virtual clock and a scripted transport.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures::future::LocalBoxFuture;

use crate::platform::{OutboundRequest, OutboundResponse, Runtime, Transport, TransportError};

/// A clock that only moves when something sleeps or a fake call takes time.
pub struct FakeRuntime {
    pub now: Cell<Duration>,
    pub slept: RefCell<Vec<Duration>>,
}

impl FakeRuntime {
    pub fn new() -> Rc<FakeRuntime> {
        Rc::new(FakeRuntime {
            now: Cell::new(Duration::from_secs(1000)),
            slept: RefCell::new(Vec::new()),
        })
    }
    pub fn advance(&self, d: Duration) {
        self.now.set(self.now.get() + d);
    }
}

impl Runtime for FakeRuntime {
    fn now(&self) -> Duration {
        self.now.get()
    }
    fn sleep(&self, duration: Duration) -> LocalBoxFuture<'_, ()> {
        // Time moves when the sleep is polled, not when it is created (a deadline timer that
        // loses a race must not move the clock).
        Box::pin(async move {
            self.slept.borrow_mut().push(duration);
            self.advance(duration);
        })
    }
    fn unix_time(&self) -> Duration {
        Duration::from_secs(1_800_000_000) + self.now.get()
    }
    fn random_u64(&self) -> u64 {
        u64::MAX / 2
    }
}

/// What the scripted upstream does with one call.
pub enum Reply {
    /// Answer after `latency`.
    Respond(OutboundResponse),
    /// Fail with a transport error.
    Fail(TransportError),
    /// Never answer: the call times out after its timeout.
    Hang,
}

pub fn json(status: u16, body: serde_json::Value) -> Reply {
    Reply::Respond(OutboundResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: serde_json::to_vec(&body).unwrap(),
    })
}

pub fn with_header(reply: Reply, name: &str, value: &str) -> Reply {
    match reply {
        Reply::Respond(mut r) => {
            r.headers.push((name.to_string(), value.to_string()));
            Reply::Respond(r)
        }
        other => other,
    }
}

type Script = Box<dyn Fn(&OutboundRequest) -> Reply>;

/// A transport answering from a script, recording every call.
pub struct FakeTransport {
    pub runtime: Rc<FakeRuntime>,
    pub script: Script,
    pub calls: RefCell<Vec<(OutboundRequest, Duration)>>,
    pub latency: Duration,
}

impl FakeTransport {
    pub fn new(
        runtime: Rc<FakeRuntime>,
        script: impl Fn(&OutboundRequest) -> Reply + 'static,
    ) -> FakeTransport {
        FakeTransport {
            runtime,
            script: Box::new(script),
            calls: RefCell::new(Vec::new()),
            latency: Duration::ZERO,
        }
    }

    pub fn bodies(&self) -> Vec<serde_json::Value> {
        self.calls
            .borrow()
            .iter()
            .map(|(r, _)| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }
}

impl Transport for FakeTransport {
    fn send(
        &self,
        request: OutboundRequest,
        timeout: Duration,
    ) -> LocalBoxFuture<'_, Result<OutboundResponse, TransportError>> {
        let reply = (self.script)(&request);
        self.calls.borrow_mut().push((request, timeout));
        let result = match reply {
            Reply::Respond(r) => {
                self.runtime.advance(self.latency);
                Ok(r)
            }
            Reply::Fail(e) => Err(e),
            Reply::Hang => {
                self.runtime.advance(timeout);
                Err(TransportError::Timeout)
            }
        };
        Box::pin(async move { result })
    }
}
