//! The HTTP server: accept loop, per-connection hyper service, fault application, recording and
//! shutdown.
//!
//! Each connection is served by hyper's HTTP/1 `serve_connection` (keep-alive on), below any
//! framework, so a fault can close the connection with no response at all (the service returns
//! `Err`). Sockets answer with `TCP_NODELAY`, as production API edges do, so a client reusing a
//! connection never waits on Nagle's algorithm; accepted connections are counted, so tests can
//! see whether a client reuses them. Shutdown is a `watch` flag: the accept loop stops, every connection task is dropped
//! (closing its socket, hung requests included) and awaited, so [`FakeAtlassian::shutdown`]
//! returns promptly. Dropping the last handle shuts the server down too.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, TRANSFER_ENCODING};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::api::{self, Call, Route};
use crate::control;
use crate::directory::{Credentials, Directory};
use crate::endpoint::Endpoint;
use crate::fault::{self, Fault};
use crate::limits::{self, BurstLimit, PointsQuota};
use crate::record::{AuthKind, RecordedRequest};
use crate::reply::{Body, ErrorShape, Reply};
use crate::state::{lock, State};

/// Largest request body read; larger bodies get 413.
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The path prefix of the control API.
const CONTROL_PREFIX: &str = "/__control/";

/// A running fake Atlassian. Cheap to clone; all clones control the same server.
#[derive(Clone)]
pub struct FakeAtlassian {
    inner: Arc<Inner>,
}

struct Inner {
    addr: SocketAddr,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shutdown.send_replace(true);
    }
}

impl std::fmt::Debug for FakeAtlassian {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeAtlassian")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl FakeAtlassian {
    /// Binds `listen` (`127.0.0.1:0` picks a free port) and serves on the current tokio runtime.
    pub async fn start(
        listen: SocketAddr,
        directory: Directory,
        credentials: Credentials,
    ) -> anyhow::Result<FakeAtlassian> {
        directory.validate()?;
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new(directory, credentials));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, state.clone(), shutdown_rx));
        Ok(FakeAtlassian {
            inner: Arc::new(Inner {
                addr,
                state,
                shutdown,
                task: Mutex::new(Some(task)),
            }),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// `http://127.0.0.1:PORT`, no trailing slash. Serves the site, gateway and admin paths.
    pub fn url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The credentials the server accepts.
    pub fn credentials(&self) -> &Credentials {
        &self.inner.state.credentials
    }

    /// The directory the server answers from.
    pub fn directory(&self) -> &Directory {
        &self.inner.state.directory
    }

    /// Stops the server: closes the listener and every connection, hung requests included, and
    /// waits for them. Other clones then talk to a stopped server.
    pub async fn shutdown(self) {
        self.inner.shutdown.send_replace(true);
        let task = lock(&self.inner.task).take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// The next `times` calls of `endpoint` get `fault` (FIFO after faults already queued for
    /// it). [`Endpoint::Any`] faults apply to calls whose own queue is empty.
    pub fn inject(&self, endpoint: Endpoint, fault: Fault, times: usize) {
        self.inner.state.inject(endpoint, fault, times);
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.inner.state.clear_faults();
    }

    /// A base latency added before every API call's answer (0 by default).
    pub fn set_latency(&self, latency: Duration) {
        self.inner.state.set_latency(latency);
    }

    /// Caps the admin search page size below the requested `limit` (`None`: no cap; `Some(0)`
    /// acts as 1), so tests can force pagination.
    pub fn set_admin_page_cap(&self, cap: Option<usize>) {
        self.inner.state.set_admin_page_cap(cap);
    }

    /// Pages `users-bulk` answers: at most `cap` results each (`Some(0)` acts as 1), with
    /// `_links.next` and a `Link: <...>; rel="next"` header while more of the asked ids are
    /// known. `None` (the default): every result in one answer.
    pub fn set_users_bulk_page_cap(&self, cap: Option<usize>) {
        self.inner.state.set_users_bulk_page_cap(cap);
    }

    /// Enforces a burst limit on every API endpoint (any credential): at most `calls` calls per
    /// `window` each, past which a call gets `429` with `Retry-After` and `X-RateLimit-*`
    /// ([`BurstLimit`]). `None` (the default): no limit. Setting it starts new windows.
    pub fn set_burst_limit(&self, burst: Option<BurstLimit>) {
        self.inner.state.set_burst_limit(burst);
    }

    /// Meters app traffic (Confluence calls with the OAuth bearer or the app token) against an
    /// hourly points quota: 1 point a call plus 2 per user object returned, reported in
    /// `X-RateLimit-*` and `Beta-RateLimit*` headers; once spent, `429` with `RateLimit-Reason`
    /// ([`PointsQuota`]). `None` (the default): not metered. Setting it forgets the points
    /// used.
    pub fn set_points_quota(&self, quota: Option<PointsQuota>) {
        self.inner.state.set_points_quota(quota);
    }

    /// Points charged since the quota was last set.
    pub fn points_used(&self) -> u64 {
        self.inner.state.points_used()
    }

    /// Every API request recorded since the last clear, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.state.requests()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.inner.state.clear_requests();
    }

    /// How many TCP connections the server has accepted since it started (control requests'
    /// included): fewer than the requests served when clients keep connections alive.
    pub fn connections_accepted(&self) -> u64 {
        self.inner.state.connections_accepted()
    }

    /// How many recorded requests hit `endpoint` ([`Endpoint::Any`]: any known endpoint).
    pub fn request_count(&self, endpoint: Endpoint) -> usize {
        self.requests()
            .iter()
            .filter(|r| match (endpoint, r.endpoint) {
                (Endpoint::Any, e) => e.is_some(),
                (wanted, e) => e == Some(wanted),
            })
            .count()
    }
}

/// Resolves once shutdown is requested (or every handle is gone).
async fn wait_shutdown(mut shutdown: watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, shutdown: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    let stop = wait_shutdown(shutdown.clone());
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    state.count_connection();
                    connections.spawn(serve_connection(stream, state.clone(), shutdown.clone()));
                }
                // E.g. out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}

/// The service error that makes hyper close the connection without answering.
#[derive(Debug)]
struct CloseConnection;

impl std::fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed by fault injection")
    }
}

impl std::error::Error for CloseConnection {}

async fn serve_connection(stream: TcpStream, state: Arc<State>, shutdown: watch::Receiver<bool>) {
    let _ = stream.set_nodelay(true);
    let service_shutdown = shutdown.clone();
    let service =
        service_fn(move |request| handle(state.clone(), service_shutdown.clone(), request));
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = connection => {}
        () = wait_shutdown(shutdown) => {}
    }
}

async fn handle(
    state: Arc<State>,
    shutdown: watch::Receiver<bool>,
    request: Request<Incoming>,
) -> Result<Response<Body>, CloseConnection> {
    let (parts, body) = request.into_parts();
    let body = Limited::new(body, MAX_BODY_BYTES)
        .collect()
        .await
        .map(|collected| collected.to_bytes());
    let path = parts.uri.path();
    if let Some(rest) = path.strip_prefix(CONTROL_PREFIX) {
        let reply = match &body {
            Ok(body) => control::handle(&state, &parts.method, rest, body),
            Err(_) => too_large(),
        };
        return Ok(reply.into_response());
    }

    let authorization = parts
        .headers
        .get(AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let call = Call {
        route: Route::parse(&parts.method, path),
        authorization,
        query: parts.uri.query(),
        body: body.as_deref().unwrap_or_default(),
    };
    let details = call.details();
    let chunked = parts.headers.get_all(TRANSFER_ENCODING).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.to_ascii_lowercase().contains("chunked"))
    });
    let endpoint = call.route.endpoint();
    let fault = endpoint.and_then(|e| state.take_fault(e));
    let seq = state.record(RecordedRequest {
        endpoint,
        method: parts.method.to_string(),
        path: path.to_owned(),
        account_ids: details.account_ids,
        auth: AuthKind::of(authorization),
        limit: details.limit,
        cursor: details.cursor,
        status: 0,
        fault: fault.as_ref().map(|f| f.name().to_owned()),
        chunked,
    });
    let shape = match endpoint {
        Some(Endpoint::AdminSearch) => ErrorShape::Admin,
        _ => ErrorShape::Confluence,
    };

    let latency = state.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let normal = |call: &Call<'_>| match &body {
        Ok(_) => api::answer(&state, call),
        Err(_) => too_large(),
    };
    let wall = SystemTime::now();
    // An answer under the limits (a latency fault delays it, and it still counts against them).
    let mut throttled = None;
    let mut served = |call: &Call<'_>| match endpoint {
        Some(endpoint) => {
            let now = SystemTime::now();
            let (reply, by) = limited(&state, endpoint, call, now, shape, normal);
            throttled = by;
            reply
        }
        None => normal(call),
    };
    let send_chunked = matches!(fault, Some(Fault::OversizedChunked));
    let reply = match fault {
        None => served(&call),
        Some(Fault::Latency(delay)) => {
            tokio::time::sleep(delay).await;
            served(&call)
        }
        Some(Fault::RateLimited { retry_after }) => {
            fault::rate_limited(retry_after.as_ref(), SystemTime::now(), shape)
        }
        Some(Fault::RateLimitReset { after }) => {
            fault::rate_limit_reset(after, SystemTime::now(), shape)
        }
        Some(Fault::QuotaExhausted {
            reason,
            retry_after,
        }) => fault::quota_exhausted(reason.as_deref(), retry_after.as_ref(), wall, shape),
        Some(Fault::BetaRateLimited { after }) => fault::beta_rate_limited(after, wall, shape),
        Some(Fault::Status {
            status,
            retry_after,
        }) => fault::status(status, retry_after.as_ref(), shape),
        Some(Fault::Hang) => {
            wait_shutdown(shutdown).await;
            return Err(CloseConnection);
        }
        Some(Fault::MalformedJson) => fault::malformed_json(),
        Some(Fault::TruncatedJson) => fault::truncated(normal(&call)),
        Some(Fault::DropConnection) => return Err(CloseConnection),
        Some(Fault::HtmlBadRequest) => fault::html_bad_request(),
        Some(Fault::Oversized | Fault::OversizedChunked) => fault::oversized(normal(&call)),
    };
    state.update(seq, |r| {
        r.status = reply.status.as_u16();
        if let Some(by) = throttled {
            r.fault = Some(by.to_owned());
        }
    });
    Ok(if send_chunked {
        reply.into_chunked_response()
    } else {
        reply.into_response()
    })
}

/// An unfaulted API call under the limits: refused past the burst limit or a spent points
/// quota (recorded as the fault `burstLimit` / `pointsQuota`), else answered, metered and
/// labelled with the limits' headers.
fn limited(
    state: &State,
    endpoint: Endpoint,
    call: &Call<'_>,
    wall: SystemTime,
    shape: ErrorShape,
    normal: impl Fn(&Call<'_>) -> Reply,
) -> (Reply, Option<&'static str>) {
    let metered = api::metered(&state.credentials, call) && state.points_quota().is_some();
    let burst = {
        let mut limits = state.limits();
        match limits.admit(endpoint, Instant::now(), wall, shape) {
            Ok(burst) => burst,
            Err(refused) => return (refused, Some("burstLimit")),
        }
    };
    if metered {
        let mut limits = state.limits();
        if let Some(refused) = limits.refuse_spent(wall) {
            return (refused, Some("pointsQuota"));
        }
        let reply = normal(call);
        let points = limits::points(api::user_objects(&reply));
        return (limits.charge(reply, points, wall), None);
    }
    let reply = normal(call);
    let reply = match burst {
        Some((limit, remaining)) => limits::with_burst_headers(reply, limit, remaining),
        None => reply,
    };
    (reply, None)
}

fn too_large() -> Reply {
    Reply::error(StatusCode::PAYLOAD_TOO_LARGE, "Request body too large")
}
