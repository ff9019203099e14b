//! The Spin edge: the only file that knows about Spin and WASI.
//!
//! It turns the incoming `wasi:http` request into the core's [`Request`], implements the core's
//! seams — [`Variables`] over `fermyon:spin/variables`, [`Transport`] over
//! `wasi:http/outgoing-handler` (with `request-options` timeouts *and* a
//! `wasi:clocks/monotonic-clock` timer raced against every call, since spin-sdk 5.2 sets
//! neither), [`Runtime`] over `wasi:clocks` and `wasi:random` — calls the core, writes the
//! answer and prints the request's log line. Nothing here can fail the request with an error
//! text: every outcome is an answer the core built.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::future::{self, Either, LocalBoxFuture};
use spin_executor::CancelOnDropToken;
use spin_sdk::http::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};
use spin_sdk::http_component;
use wasi::clocks::{monotonic_clock, wall_clock};
use wasi::http::types as http;
use wasi::io::poll::Pollable;
use wasi::io::streams::{OutputStream, StreamError};

use crate::handler::{self, Body, BodyBuffer, BodyError, Request, MAX_RESPONSE_BYTES};
use crate::platform::{
    Method, OutboundRequest, OutboundResponse, Platform, Runtime, Transport, TransportError,
    VariableError, Variables,
};

/// Bytes asked for per read.
const READ_CHUNK: u64 = 64 * 1024;

#[http_component]
async fn handle(request: IncomingRequest, out: ResponseOutparam) {
    let method = request.method().to_string();
    let path_with_query = request.path_with_query().unwrap_or_default();
    let headers = request.headers().entries();
    let core_request = Request {
        method,
        path_with_query,
        headers,
        body: SpinBody(request),
    };
    let platform = Platform {
        variables: &SpinVariables,
        transport: &WasiTransport,
        runtime: &WasiRuntime,
    };
    let (response, log) = handler::handle(core_request, &platform).await;

    let as_fields = |headers: &[(String, String)], body: &[u8]| {
        let mut list: Vec<(String, Vec<u8>)> = headers
            .iter()
            .map(|(n, v)| (n.clone(), v.as_bytes().to_vec()))
            .collect();
        list.push(("content-length".into(), body.len().to_string().into_bytes()));
        Fields::from_list(&list)
    };
    // Fail closed: an answer whose headers the host refuses is never sent without them; it
    // becomes a bare 500 with the fixed security headers.
    let (fields, status, body) = match as_fields(&response.headers, &response.body) {
        Ok(fields) => (fields, response.status, response.body),
        Err(_) => {
            let fallback = handler::fallback_response(&log.request_id);
            eprintln!(
                "{{\"requestId\":\"{}\",\"event\":\"response headers refused: answered 500\"}}",
                log.request_id
            );
            let fields =
                as_fields(&fallback.headers, &fallback.body).unwrap_or_else(|_| Fields::new());
            (fields, fallback.status, fallback.body)
        }
    };
    let outgoing = OutgoingResponse::new(fields);
    let _ = outgoing.set_status_code(status);
    if send_response(out, outgoing, &body).await.is_err() {
        eprintln!(
            "{{\"requestId\":\"{}\",\"event\":\"response body write failed\"}}",
            log.request_id
        );
    }
    println!("{}", log.to_line());
}

/// The incoming body, read in chunks (spin-sdk's, 16 KiB each) into the core's bounded buffer
/// and abandoned as soon as it passes the limit.
struct SpinBody(IncomingRequest);

impl Body for SpinBody {
    fn read(self, mut into: BodyBuffer) -> LocalBoxFuture<'static, Result<Vec<u8>, BodyError>> {
        Box::pin(async move {
            use futures::StreamExt;
            let mut stream = std::pin::pin!(self.0.into_body_stream());
            while let Some(chunk) = stream.next().await {
                into.push(&chunk.map_err(|_| BodyError::Io)?)?;
            }
            Ok(into.into_bytes())
        })
    }
}

/// Spin variables.
struct SpinVariables;

impl Variables for SpinVariables {
    fn get(&self, name: &str) -> Result<Option<String>, VariableError> {
        match spin_sdk::variables::get(name) {
            Ok(value) => Ok(Some(value)),
            Err(spin_sdk::variables::Error::Undefined(_)) => Ok(None),
            Err(_) => Err(VariableError),
        }
    }
}

/// Waits for one wake-up of `pollable`: registers it with the executor on the first poll and
/// completes on the next. Callers re-check the condition they wait for in a loop, so a spurious
/// poll costs one re-registration, never a wrong answer. (A pollable's `ready()` is not asked:
/// a deadline already past reports "not ready" once before it is ready, which turned a
/// check-then-register wait into a busy loop.)
struct Wait {
    pollable: Option<Pollable>,
    registration: Option<CancelOnDropToken>,
}

impl Future for Wait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.pollable.take() {
            Some(pollable) => {
                let token = spin_executor::push_waker_and_get_token(pollable, cx.waker().clone());
                self.registration = Some(token.into());
                Poll::Pending
            }
            None => {
                self.registration = None;
                Poll::Ready(())
            }
        }
    }
}

fn wait(pollable: Pollable) -> Wait {
    Wait {
        pollable: Some(pollable),
        registration: None,
    }
}

fn monotonic_now() -> Duration {
    Duration::from_nanos(monotonic_clock::now())
}

/// Completes at `deadline` on the monotonic clock.
async fn until(deadline: Duration) {
    let at = u64::try_from(deadline.as_nanos()).unwrap_or(u64::MAX);
    while monotonic_now() < deadline {
        wait(monotonic_clock::subscribe_instant(at)).await;
    }
}

/// `wasi:clocks` and `wasi:random`.
struct WasiRuntime;

impl Runtime for WasiRuntime {
    fn now(&self) -> Duration {
        monotonic_now()
    }

    fn sleep(&self, duration: Duration) -> LocalBoxFuture<'_, ()> {
        Box::pin(until(monotonic_now() + duration))
    }

    fn unix_time(&self) -> Duration {
        let now = wall_clock::now();
        Duration::new(now.seconds, now.nanoseconds)
    }

    fn random_u64(&self) -> u64 {
        wasi::random::random::get_random_u64()
    }
}

/// `wasi:http/outgoing-handler`.
struct WasiTransport;

impl Transport for WasiTransport {
    fn send(
        &self,
        request: OutboundRequest,
        timeout: Duration,
    ) -> LocalBoxFuture<'_, Result<OutboundResponse, TransportError>> {
        Box::pin(async move {
            let deadline = monotonic_now() + timeout;
            let work = std::pin::pin!(exchange(request, timeout));
            let timer = std::pin::pin!(until(deadline));
            match future::select(work, timer).await {
                Either::Left((result, _)) => result,
                // Dropping the exchange drops its wasi resources: the host cancels the call.
                Either::Right(_) => Err(TransportError::Timeout),
            }
        })
    }
}

fn transport_error(code: &http::ErrorCode) -> TransportError {
    match code {
        http::ErrorCode::HttpRequestDenied => TransportError::Denied,
        http::ErrorCode::ConnectionTimeout
        | http::ErrorCode::ConnectionReadTimeout
        | http::ErrorCode::ConnectionWriteTimeout
        | http::ErrorCode::HttpResponseTimeout => TransportError::Timeout,
        _ => TransportError::Connection,
    }
}

/// Splits `scheme://authority/path?query`.
fn split_url(url: &str) -> Option<(http::Scheme, &str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = match scheme {
        "https" => http::Scheme::Https,
        "http" => http::Scheme::Http,
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Some((scheme, authority, path))
}

/// Writes what the host takes at once, without waiting; returns how many bytes that was.
fn write_now(stream: &OutputStream, bytes: &[u8]) -> usize {
    match stream.check_write() {
        Ok(n) if n > 0 => {
            let n = (n as usize).min(bytes.len());
            if stream.write(&bytes[..n]).is_ok() {
                n
            } else {
                0
            }
        }
        _ => 0,
    }
}

/// Writes every byte to `stream`, waiting whenever the host asks, then flushes.
async fn write_all(stream: &OutputStream, bytes: &[u8]) -> Result<(), ()> {
    let mut offset = 0;
    while offset < bytes.len() {
        match stream.check_write() {
            Ok(0) => wait(stream.subscribe()).await,
            Ok(n) => {
                let n = (n as usize).min(bytes.len() - offset);
                stream.write(&bytes[offset..offset + n]).map_err(|_| ())?;
                offset += n;
            }
            Err(_) => return Err(()),
        }
    }
    // Every byte is written. With a Content-Length the host may close the stream as soon as
    // it has them all: a closed stream now is success, not a failed write.
    match stream.flush() {
        Ok(()) => loop {
            // The flush completes when the stream is writable again (or closed).
            match stream.check_write() {
                Ok(0) => wait(stream.subscribe()).await,
                Ok(_) | Err(StreamError::Closed) => return Ok(()),
                Err(StreamError::LastOperationFailed(_)) => return Err(()),
            }
        },
        Err(StreamError::Closed) => Ok(()),
        Err(StreamError::LastOperationFailed(_)) => Err(()),
    }
}

/// Writes and finishes an outgoing request body.
async fn write_body(body: http::OutgoingBody, bytes: &[u8]) -> Result<(), ()> {
    {
        let stream = body.write()?;
        write_all(&stream, bytes).await?;
        // The stream (a child of the body) is dropped here, before the body is finished.
    }
    // The host checks the body against its Content-Length.
    http::OutgoingBody::finish(body, None).map_err(|_| ())
}

/// Hands the answer to the host with as much of its body as the host takes at once (all of
/// it, for every answer this component gives), then writes any rest and finishes the body.
/// The head and the body thus reach the host's HTTP server together and leave in one write:
/// handed over first and written after, a body reached the connection as a second small
/// segment, which Nagle's algorithm held until the client's delayed ACK (~40 ms on a kept-alive
/// connection under real Spin).
async fn send_response(
    out: ResponseOutparam,
    response: OutgoingResponse,
    bytes: &[u8],
) -> Result<(), ()> {
    let Ok(body) = response.body() else {
        out.set(response);
        return Err(());
    };
    let written = {
        let stream = match body.write() {
            Ok(stream) => stream,
            Err(()) => {
                out.set(response);
                return Err(());
            }
        };
        let first = write_now(&stream, bytes);
        out.set(response);
        write_all(&stream, &bytes[first..]).await
        // The stream (a child of the body) is dropped here, before the body is finished.
    };
    let finished = OutgoingBody::finish(body, None).map_err(|_| ());
    written.and(finished)
}

async fn exchange(
    request: OutboundRequest,
    timeout: Duration,
) -> Result<OutboundResponse, TransportError> {
    let (scheme, authority, path) = split_url(&request.url).ok_or(TransportError::Connection)?;
    let mut headers: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.as_bytes().to_vec()))
        .collect();
    // The body's size is known: send it as Content-Length, never chunked (what every proxy and
    // WAF in front of an API accepts). The host checks the body written against it.
    if request.method == Method::Post || !request.body.is_empty() {
        headers.push((
            "content-length".into(),
            request.body.len().to_string().into_bytes(),
        ));
    }
    let fields = http::Fields::from_list(&headers).map_err(|_| TransportError::Connection)?;
    let outgoing = http::OutgoingRequest::new(fields);
    let method = match request.method {
        Method::Get => http::Method::Get,
        Method::Post => http::Method::Post,
    };
    let set = outgoing.set_method(&method).is_ok()
        && outgoing.set_scheme(Some(&scheme)).is_ok()
        && outgoing.set_authority(Some(authority)).is_ok()
        && outgoing.set_path_with_query(Some(path)).is_ok();
    if !set {
        return Err(TransportError::Connection);
    }
    let body = outgoing.body().map_err(|_| TransportError::Connection)?;

    let options = http::RequestOptions::new();
    let nanos = Some(u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX));
    // A host may not support every option; the timer race covers what it ignores.
    let _ = options.set_connect_timeout(nanos);
    let _ = options.set_first_byte_timeout(nanos);
    let _ = options.set_between_bytes_timeout(nanos);

    let pending = wasi::http::outgoing_handler::handle(outgoing, Some(options))
        .map_err(|e| transport_error(&e))?;

    // Write the body after handing the request over, so the host is already sending. If the
    // body cannot be written, the response future says why (a denied host, a refused
    // connection), so it is still awaited below.
    let written = write_body(body, &request.body).await;

    let response = loop {
        match pending.get() {
            Some(Ok(Ok(_))) if written.is_err() => return Err(TransportError::Connection),
            Some(Ok(Ok(response))) => break response,
            Some(Ok(Err(code))) => return Err(transport_error(&code)),
            Some(Err(())) => return Err(TransportError::Connection),
            None => wait(pending.subscribe()).await,
        }
    };

    let status = response.status();
    let headers: Vec<(String, String)> = response
        .headers()
        .entries()
        .into_iter()
        .map(|(n, v)| {
            (
                n.to_ascii_lowercase(),
                String::from_utf8_lossy(&v).into_owned(),
            )
        })
        .collect();
    // Read into one buffer of the declared size when the answer gives one (at most the limit).
    let declared = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_RESPONSE_BYTES as u64) {
        return Err(TransportError::TooLarge);
    }
    let mut body = BodyBuffer::new(MAX_RESPONSE_BYTES, declared);
    let incoming = response.consume().map_err(|_| TransportError::Connection)?;
    {
        let stream = incoming.stream().map_err(|_| TransportError::Connection)?;
        loop {
            match stream.read(READ_CHUNK) {
                Ok(bytes) if bytes.is_empty() => wait(stream.subscribe()).await,
                Ok(bytes) => body.push(&bytes).map_err(|_| TransportError::TooLarge)?,
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(_)) => return Err(TransportError::Connection),
            }
        }
    }
    drop(http::IncomingBody::finish(incoming));
    Ok(OutboundResponse {
        status,
        headers,
        body: body.into_bytes(),
    })
}
