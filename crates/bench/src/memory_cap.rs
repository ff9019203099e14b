//! `bench memory-cap`: the smallest instance memory cap (Spin's `--max-instance-memory`) at
//! which every hostile request body of [`crate::hostile`] gets its documented answer, on devhost
//! and on each real Spin given with `--spin`.
//!
//! For each cap of a ladder (1 MiB steps to 16 MiB, then coarser to 64 MiB), a fresh server is
//! started with that cap and the fake Atlassian's demo directory; each hostile body is sent four
//! times at once (`upstream_concurrency`'s default, the documented concurrency: two with
//! `Content-Length`, two streamed without it), then one valid lookup. A body passes at a cap when
//! all four answers are its documented status and error code; anything else (a `500` from a
//! trapped instance, a refused connection) fails it. The ladder stops at the first cap where
//! every body and the valid lookup pass. Writes `target/bench/memory-cap.json`.
//!
//! Real Spin (`--spin PATH`, repeatable) serves spin.toml's own component, as everywhere in the
//! bench ([`env::component_and_spins`]); the cap reaches it as `SPIN_MAX_INSTANCE_MEMORY`, and
//! devhost as its option of the same meaning.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::{Context as _, Result};
use bytes::Bytes;
use devhost::real_spin::SpinUpOptions;
use fake_atlassian::{Directory, FakeAtlassian};
use hyper::body::Frame;
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpStream;

use crate::client::{Conn, Req};
use crate::env::{self, Host, Runtime, KEY};
use crate::hostile::{self, Hostile};

const MIB: usize = 1 << 20;

/// The caps tried, in MiB, smallest first.
const LADDER_MIB: [usize; 22] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 20, 24, 32, 40, 48, 64,
];

/// How many copies of each body are sent at once.
const AT_ONCE: usize = 4;

/// What `bench memory-cap` measures.
pub struct Opts {
    /// The component (default as the suite's).
    pub wasm: Option<PathBuf>,
    /// Real Spin binaries to measure besides devhost.
    pub spins: Vec<PathBuf>,
}

/// A request body sent in 16 KiB frames with no size announced: hyper sends it chunked.
struct Streamed(VecDeque<Bytes>);

impl hyper::body::Body for Streamed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|chunk| Ok(Frame::data(chunk))))
    }
}

/// `POST /` with the key and `body` streamed without `Content-Length`: (status, body).
async fn post_streamed(addr: SocketAddr, body: &[u8]) -> Result<(u16, Bytes)> {
    use http_body_util::BodyExt;
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake::<_, Streamed>(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let chunks = body.chunks(16 * 1024).map(Bytes::copy_from_slice).collect();
    let request = hyper::Request::post("/")
        .header("host", addr.to_string())
        .header("content-type", "application/json")
        .header("x-api-key", KEY)
        .body(Streamed(chunks))?;
    let response = sender.send_request(request).await?;
    let status = response.status().as_u16();
    Ok((status, response.into_body().collect().await?.to_bytes()))
}

/// One answer as `status code`, e.g. `400 too_many_account_ids`, `200`, `500`.
fn shown(status: u16, body: &[u8]) -> String {
    let code = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string));
    match code {
        Some(code) => format!("{status} {code}"),
        None => status.to_string(),
    }
}

fn expected(h: &Hostile) -> String {
    match h.code {
        Some(code) => format!("{} {code}", h.status),
        None => h.status.to_string(),
    }
}

/// Sends `h` [`AT_ONCE`] times at once; returns the answers that are not the documented one.
async fn probe(addr: SocketAddr, h: &Hostile) -> Vec<String> {
    let body = Bytes::from(h.body.clone());
    let sends = (0..AT_ONCE).map(|i| {
        let body = body.clone();
        async move {
            if i % 2 == 0 {
                let mut conn = Conn::new(addr);
                conn.send(&Req::post_json("/", Some(KEY), body))
                    .await
                    .map(|r| shown(r.status.as_u16(), &r.body))
            } else {
                post_streamed(addr, &body)
                    .await
                    .map(|(status, body)| shown(status, &body))
            }
        }
    });
    let want = expected(h);
    futures_join_all(sends)
        .await
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| format!("no answer ({e:#})")))
        .filter(|got| *got != want)
        .collect()
}

/// `futures::future::join_all` on tokio tasks (bench has no `futures` dependency).
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.expect("probe task"));
    }
    out
}

/// A valid one-id lookup of a demo user: `None` if it answered 200 with the email.
async fn valid_lookup(addr: SocketAddr, id: &str) -> Option<String> {
    let body = json!({ "accountIds": [id] }).to_string();
    match Conn::new(addr)
        .send(&Req::post_json("/", Some(KEY), body))
        .await
    {
        Ok(r) if r.status == 200 && r.body.contains(&b'@') => None,
        Ok(r) => Some(shown(r.status.as_u16(), &r.body)),
        Err(e) => Some(format!("no answer ({e:#})")),
    }
}

/// Serves the component on `runtime` under a cap of `cap` bytes, against `fake`.
async fn start(runtime: &Runtime, fake: &FakeAtlassian, cap: usize) -> Result<Host> {
    let variables = env::chain_vars(fake, &[]);
    match runtime {
        Runtime::Devhost(app) => {
            let server = app
                .serve(devhost::UpOptions {
                    listen: Some("127.0.0.1:0".parse()?),
                    variables,
                    log_dir: Some(env::out_dir()?.join("logs/memory-cap")),
                    max_instance_memory: Some(cap),
                    ..devhost::UpOptions::default()
                })
                .await?;
            Ok(Host::Devhost(server))
        }
        Runtime::Spin(spin) => {
            let name = format!("spin-{}-memory-cap", spin.version());
            let server = spin
                .up(
                    &env::root().join("spin.toml"),
                    SpinUpOptions {
                        variables,
                        env: [("SPIN_MAX_INSTANCE_MEMORY".to_string(), cap.to_string())].into(),
                        log_dir: env::out_dir()?.join("logs").join(&name),
                        work_dir: env::out_dir()?.join("spin").join(&name),
                        ..SpinUpOptions::default()
                    },
                )
                .await?;
            Ok(Host::Spin(server))
        }
    }
}

/// Measures one runtime; prints as it goes; returns its JSON row.
async fn measure_runtime(
    runtime: &Runtime,
    fake: &FakeAtlassian,
    bodies: &[Hostile],
    valid_id: &str,
) -> Result<Value> {
    let name = runtime.name();
    println!("\n{name}: {AT_ONCE} of each body at once, then a valid lookup");
    let mut first_pass: Vec<Option<usize>> = vec![None; bodies.len()];
    let mut all_pass = None;
    let mut tried = Vec::new();
    for mib in LADDER_MIB {
        let server = start(runtime, fake, mib * MIB).await?;
        let addr = server.addr();
        let mut failing = Vec::new();
        for (i, h) in bodies.iter().enumerate() {
            let wrong = probe(addr, h).await;
            if wrong.is_empty() {
                first_pass[i].get_or_insert(mib);
            } else {
                failing.push(format!("{}: {}", h.name, wrong.join(", ")));
            }
        }
        let valid = valid_lookup(addr, valid_id).await;
        server.shutdown().await;
        if let Some(wrong) = &valid {
            failing.push(format!("valid lookup: {wrong}"));
        }
        println!(
            "  {mib:>3} MiB: {}",
            if failing.is_empty() {
                "all as documented".to_string()
            } else {
                failing.join("; ")
            }
        );
        tried.push(json!({ "cap_mib": mib, "wrong": failing }));
        if failing.is_empty() {
            all_pass = Some(mib);
            break;
        }
    }
    let per_body: Vec<Value> = bodies
        .iter()
        .zip(&first_pass)
        .map(|(h, mib)| json!({ "body": h.name, "smallest_cap_mib": mib }))
        .collect();
    Ok(json!({
        "runtime": name,
        "smallest_cap_mib_all": all_pass,
        "per_body": per_body,
        "tried": tried,
    }))
}

/// `bench memory-cap`: measures, prints, writes `target/bench/memory-cap.json`.
pub async fn run(opts: Opts) -> Result<()> {
    let (wasm, spins) = env::component_and_spins(opts.wasm.as_deref(), &opts.spins)?;
    let mut runtimes = vec![Runtime::Devhost(env::load_app(&wasm)?)];
    runtimes.extend(spins.into_iter().map(Runtime::Spin));
    let directory = Directory::demo();
    let valid_id = directory
        .users
        .iter()
        .find(|u| u.managed)
        .map(|u| u.account_id.clone())
        .context("the demo directory has a managed user")?;
    let fake = env::start_fake(directory).await?;
    let bodies = hostile::bodies(identity_accessor::config::DEFAULT_MAX_ACCOUNT_IDS);
    println!("component: {}", wasm.display());
    let mut rows = Vec::new();
    for runtime in &runtimes {
        rows.push(measure_runtime(runtime, &fake, &bodies, &valid_id).await?);
    }
    fake.shutdown().await;
    println!();
    println!("smallest cap at which every answer was as documented:");
    for row in &rows {
        println!(
            "  {:<12} {}",
            row["runtime"].as_str().unwrap_or(""),
            match row["smallest_cap_mib_all"].as_u64() {
                Some(mib) => format!("{mib} MiB"),
                None => format!("above {} MiB", LADDER_MIB[LADDER_MIB.len() - 1]),
            }
        );
    }
    let report = json!({ "component": wasm.display().to_string(), "runtimes": rows });
    let path = env::out_dir()?.join("memory-cap.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
    println!("wrote {}", path.display());
    Ok(())
}
