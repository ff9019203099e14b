//! A minimal HTTP/1.1 client: one keep-alive connection per client, straight on hyper, so the
//! client adds as little as possible to what is measured. A failed connection is reopened on
//! the next request.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How long one request may take before it counts as a transport failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

/// One keep-alive connection to `addr`.
pub struct Conn {
    addr: SocketAddr,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// A request to send: method, path (with query), headers and body.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl Req {
    /// `POST path` with a JSON body and optional `X-Api-Key`.
    pub fn post_json(path: &str, key: Option<&str>, body: impl Into<Bytes>) -> Req {
        let mut headers = vec![("content-type", "application/json".to_string())];
        if let Some(key) = key {
            headers.push(("x-api-key", key.to_string()));
        }
        Req {
            method: Method::POST,
            path: path.to_string(),
            headers,
            body: body.into(),
        }
    }

    /// `GET path`.
    pub fn get(path: &str) -> Req {
        Req {
            method: Method::GET,
            path: path.to_string(),
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Req {
        self.headers.push((name, value.into()));
        self
    }
}

/// A response: status, body and how long the round trip took.
pub struct Resp {
    pub status: StatusCode,
    pub body: Bytes,
    pub elapsed: Duration,
}

impl Conn {
    /// A client for `addr`; connects on first use.
    pub fn new(addr: SocketAddr) -> Conn {
        Conn { addr, sender: None }
    }

    async fn open(&mut self) -> anyhow::Result<&mut SendRequest<Full<Bytes>>> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(self.addr)
                .await
                .with_context(|| format!("connect {}", self.addr))?;
            stream.set_nodelay(true)?;
            let (sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            self.sender = Some(sender);
        }
        Ok(self.sender.as_mut().expect("just opened"))
    }

    /// Sends `req` and reads the whole answer. Any transport failure drops the connection.
    pub async fn send(&mut self, req: &Req) -> anyhow::Result<Resp> {
        let start = Instant::now();
        let result = tokio::time::timeout(REQUEST_TIMEOUT, self.send_inner(req)).await;
        match result {
            Ok(Ok((status, body))) => Ok(Resp {
                status,
                body,
                elapsed: start.elapsed(),
            }),
            Ok(Err(e)) => {
                self.sender = None;
                Err(e)
            }
            Err(_) => {
                self.sender = None;
                anyhow::bail!("request timed out after {REQUEST_TIMEOUT:?}")
            }
        }
    }

    async fn send_inner(&mut self, req: &Req) -> anyhow::Result<(StatusCode, Bytes)> {
        let host = self.addr.to_string();
        let sender = self.open().await?;
        sender.ready().await?;
        let mut builder = Request::builder()
            .method(req.method.clone())
            .uri(req.path.as_str())
            .header("host", host);
        for (name, value) in &req.headers {
            builder = builder.header(*name, value.as_str());
        }
        let request = builder.body(Full::new(req.body.clone()))?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let body = response.into_body().collect().await?.to_bytes();
        Ok((status, body))
    }
}
