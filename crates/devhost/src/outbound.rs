//! Sending a component's allowed outbound requests, with connections kept alive and pooled per
//! host, as Spin does.
//!
//! Spin 3.x and 4.x send `wasi:http` requests through one `hyper_util` legacy `Client` per
//! application: HTTP/1.1 keep-alive, idle connections pooled per scheme, host and port (90 s
//! idle timeout, no cap), HTTPS with ALPN (`h2` or `http/1.1`). Its runtime config
//! `[outbound_http] connection_pooling = false` sets the idle pool to zero, so every request
//! opens a new connection; the default is on (spinframework/spin, v4.0.2,
//! crates/factor-outbound-http/src/wasi.rs `HttpClients::new` and runtime_config.rs).
//! devhost mirrors that: one [`Outbound`] per server, pooling on unless
//! [`crate::UpOptions::connection_pooling`] is off (`devhost up --no-connection-pooling`).
//!
//! The guest's `request-options` apply as in Spin (600 s each by default): the connect
//! timeout to a new connection only (a pooled one is already connected), the first-byte
//! timeout to the whole wait for the response head, the between-bytes timeout to each wait for
//! a body frame. Like Spin, outbound sockets keep Nagle's algorithm (no `TCP_NODELAY`), so a
//! server's write pattern shows the same latency here as under Spin.

use std::future::Future;
use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Body, Bytes, Frame, Incoming};
use hyper::Uri;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// Spin's default for each of the three timeouts.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

tokio::task_local! {
    /// The connect timeout of the request being sent, for the connector: the pooled client
    /// offers no way to pass it per request (Spin does the same).
    static CONNECT_TIMEOUT: Duration;
}

/// The future of an outbound response, as `WasiHttpHooks::send_request` returns it.
pub(crate) type SendResult = wasmtime_wasi_http::Result<(
    hyper::Response<WasiBody>,
    Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
)>;

/// The outbound HTTP clients of one server: plain HTTP/1.1, and HTTPS with ALPN.
#[derive(Clone)]
pub(crate) struct Outbound {
    http: Client<TcpConnector, WasiBody>,
    https: Client<TlsConnector, WasiBody>,
}

impl Outbound {
    /// New clients with empty pools; `pooling: false` closes each connection after its
    /// response, like Spin's `connection_pooling = false`.
    pub(crate) fn new(pooling: bool) -> Outbound {
        let builder = || {
            let mut builder = Client::builder(TokioExecutor::new());
            if !pooling {
                builder.pool_max_idle_per_host(0);
            }
            builder
        };
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.into(),
        };
        let mut tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Outbound {
            http: builder().build(TcpConnector),
            https: builder().build(TlsConnector {
                connector: tokio_rustls::TlsConnector::from(Arc::new(tls)),
            }),
        }
    }

    /// Sends an allowed request and waits for its response head.
    pub(crate) async fn send(
        &self,
        request: hyper::Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> SendResult {
        let connect_timeout = options
            .and_then(|o| o.connect_timeout)
            .unwrap_or(DEFAULT_TIMEOUT);
        let first_byte_timeout = options
            .and_then(|o| o.first_byte_timeout)
            .unwrap_or(DEFAULT_TIMEOUT);
        let between_bytes_timeout = options
            .and_then(|o| o.between_bytes_timeout)
            .unwrap_or(DEFAULT_TIMEOUT);
        let uri = request.uri();
        if uri.authority().is_none() {
            return Err(Error::HttpRequestUriInvalid);
        }
        let response = if uri.scheme() == Some(&hyper::http::uri::Scheme::HTTPS) {
            CONNECT_TIMEOUT.scope(connect_timeout, self.https.request(request))
        } else {
            CONNECT_TIMEOUT.scope(connect_timeout, self.http.request(request))
        };
        let response = tokio::time::timeout(first_byte_timeout, response)
            .await
            .map_err(|_| Error::ConnectionReadTimeout)?
            .map_err(|e| request_error(&e))?;
        let response = response.map(|body| {
            TimedBody {
                body,
                timeout: between_bytes_timeout,
                sleep: None,
            }
            .boxed_unsync()
        });
        // The pool's task drives the connection; there is nothing left for the caller to run.
        let io: Box<dyn Future<Output = wasmtime_wasi_http::Result<()>> + Send> =
            Box::new(async { Ok(()) });
        Ok((response, io))
    }
}

/// Why a new connection failed, kept by kind so the guest sees the right `error-code`.
#[derive(Debug)]
enum ConnectError {
    Timeout,
    Dns(String),
    Refused(std::io::Error),
    Tls(std::io::Error),
    InvalidDnsName,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Timeout => f.write_str("connect timed out"),
            ConnectError::Dns(e) => write!(f, "DNS lookup failed: {e}"),
            ConnectError::Refused(e) => write!(f, "connect failed: {e}"),
            ConnectError::Tls(e) => write!(f, "TLS handshake failed: {e}"),
            ConnectError::InvalidDnsName => f.write_str("invalid DNS name for TLS"),
        }
    }
}

impl std::error::Error for ConnectError {}

impl ConnectError {
    fn to_wasi(&self) -> Error {
        let io = |e: &std::io::Error| std::io::Error::new(e.kind(), e.to_string());
        match self {
            ConnectError::Timeout => Error::ConnectionTimeout,
            ConnectError::Dns(_) => Error::DnsError {
                rcode: Some("address not available".to_string()),
                info_code: None,
            },
            ConnectError::Refused(e) => Error::Connect(io(e)),
            ConnectError::Tls(e) => Error::Tls(io(e)),
            ConnectError::InvalidDnsName => Error::DnsError {
                rcode: Some("invalid dns name".to_string()),
                info_code: None,
            },
        }
    }
}

/// The `wasi:http` error for a failed pooled request: the connector's own error when a new
/// connection failed, the wait for the response head otherwise.
fn request_error(e: &hyper_util::client::legacy::Error) -> Error {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(connect) = cause.downcast_ref::<ConnectError>() {
            return connect.to_wasi();
        }
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            return if hyper.is_timeout() {
                Error::HttpResponseTimeout
            } else if hyper.is_incomplete_message() || hyper.is_canceled() || hyper.is_closed() {
                Error::ConnectionTerminated
            } else {
                Error::HttpProtocolError
            };
        }
        source = cause.source();
    }
    Error::HttpProtocolError
}

/// The connect timeout of the request being sent (Spin's default outside a send).
fn connect_timeout() -> Duration {
    CONNECT_TIMEOUT
        .try_with(|timeout| *timeout)
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// `host:port` of `uri`, the port defaulting to the scheme's.
fn authority(uri: &Uri, default_port: u16) -> Result<(String, String), ConnectError> {
    let host = uri.host().ok_or(ConnectError::InvalidDnsName)?;
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(default_port);
    let address = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok((host, address))
}

async fn connect_tcp(address: &str, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let addresses: Vec<_> = tokio::net::lookup_host(address)
        .await
        .map_err(|e| ConnectError::Dns(e.to_string()))?
        .collect();
    tokio::time::timeout(timeout, TcpStream::connect(&*addresses))
        .await
        .map_err(|_| ConnectError::Timeout)?
        .map_err(ConnectError::Refused)
}

type ConnectFuture<T> = Pin<Box<dyn Future<Output = Result<T, ConnectError>> + Send>>;

/// Opens plain TCP connections for the pool.
#[derive(Clone)]
struct TcpConnector;

impl tower_service::Service<Uri> for TcpConnector {
    type Response = TokioIo<TcpStream>;
    type Error = ConnectError;
    type Future = ConnectFuture<Self::Response>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        // Read the task-local now: the pool may finish connecting on another task.
        let timeout = connect_timeout();
        Box::pin(async move {
            let (_, address) = authority(&uri, 80)?;
            Ok(TokioIo::new(connect_tcp(&address, timeout).await?))
        })
    }
}

/// Opens TLS connections for the pool (webpki roots, ALPN `h2`/`http/1.1`).
#[derive(Clone)]
struct TlsConnector {
    connector: tokio_rustls::TlsConnector,
}

impl tower_service::Service<Uri> for TlsConnector {
    type Response = TokioIo<Tls>;
    type Error = ConnectError;
    type Future = ConnectFuture<Self::Response>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ConnectError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let timeout = connect_timeout();
        let connector = self.connector.clone();
        Box::pin(async move {
            let (host, address) = authority(&uri, 443)?;
            let name = rustls::pki_types::ServerName::try_from(host)
                .map_err(|_| ConnectError::InvalidDnsName)?;
            let tcp = connect_tcp(&address, timeout).await?;
            let tls = tokio::time::timeout(timeout, connector.connect(name, tcp))
                .await
                .map_err(|_| ConnectError::Timeout)?
                .map_err(ConnectError::Tls)?;
            Ok(TokioIo::new(Tls(tls)))
        })
    }
}

/// A TLS connection that tells the pool whether ALPN chose HTTP/2.
struct Tls(TlsStream<TcpStream>);

impl Connection for Tls {
    fn connected(&self) -> Connected {
        let (tcp, session) = self.0.get_ref();
        let connected = tcp.connected();
        if session.alpn_protocol() == Some(b"h2") {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

impl AsyncRead for Tls {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tls {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

/// A response body whose every wait for the next frame is bounded by the guest's
/// between-bytes timeout.
struct TimedBody {
    body: Incoming,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(frame) => {
                self.sleep = None;
                Poll::Ready(frame.map(|f| {
                    f.map_err(|e| {
                        if e.is_timeout() {
                            Error::HttpResponseTimeout
                        } else {
                            Error::from(e)
                        }
                    })
                }))
            }
            Poll::Pending => {
                let timeout = self.timeout;
                let sleep = self
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => {
                        self.sleep = None;
                        Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
                    }
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}
