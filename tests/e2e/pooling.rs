//! Upstream connections are kept alive and reused, as under Spin.
//!
//! Spin sends outbound requests through a pooled client (`[outbound_http] connection_pooling`,
//! default on), so in production the component's calls to Atlassian ride reused keep-alive
//! connections; devhost does the same, so effects of reuse show up here too. Both tests run on
//! devhost and on real Spin (with pooling off through Spin's runtime config). The fake counts
//! the TCP connections it accepts. (How long a reused call takes is measured by
//! `cargo run -p bench`, which reports it; timings are not asserted here.)

use anyhow::{ensure, Result};
use fake_atlassian::{Directory, Endpoint};
use serde_json::{json, Value};

use crate::support::{self, expected_answer, source_vars, Env, ServeOptions, Sources};

/// How many lookups each test sends, one after another.
const LOOKUPS: usize = 24;

/// Sends [`LOOKUPS`] one-id lookups in turn, each checked against the directory; returns how
/// many upstream calls they made.
async fn sequential_lookups(env: &Env, sources: Sources) -> Result<usize> {
    let ids = env.ids();
    for i in 0..LOOKUPS {
        let id = vec![ids[i % ids.len()].clone()];
        let (status, _, body) = env.lookup(json!({ "accountIds": id })).await?;
        ensure!(status == 200, "lookup {i}: status {status}: {body}");
        let expected = expected_answer(&env.directory, &id, sources, false);
        ensure!(body == expected, "lookup {i}: {body}, expected {expected}");
    }
    let calls = env.requests_to(Endpoint::AdminSearch).len();
    ensure!(
        calls >= LOOKUPS,
        "{LOOKUPS} lookups made only {calls} upstream calls"
    );
    Ok(calls)
}

#[tokio::test]
async fn sequential_lookups_reuse_upstream_connections() -> Result<()> {
    let env = Env::start(Sources::Admin, &[]).await?;
    let calls = sequential_lookups(&env, Sources::Admin).await?;
    let connections = env.fake.connections_accepted();
    // One connection carries them all; a few more are allowed for a call that starts just
    // before the previous connection is back in the pool.
    ensure!(
        connections >= 1 && connections as usize <= LOOKUPS / 6,
        "{calls} sequential upstream calls opened {connections} connections"
    );
    env.finish().await
}

#[tokio::test]
async fn without_pooling_every_upstream_call_opens_a_connection() -> Result<()> {
    // Spin's runtime config `[outbound_http] connection_pooling = false` (devhost up
    // --no-connection-pooling): the same lookups, a new connection per call.
    let directory = Directory::demo();
    let fake = support::fake(directory.clone()).await?;
    let server = support::serve_with(ServeOptions {
        variables: source_vars(&fake, Sources::Admin),
        connection_pooling: false,
        ..ServeOptions::default()
    })
    .await?;
    let env = Env::assemble(fake, server, directory)?;
    let calls = sequential_lookups(&env, Sources::Admin).await?;
    let connections = env.fake.connections_accepted();
    ensure!(
        connections as usize == calls,
        "{calls} upstream calls without pooling opened {connections} connections"
    );
    env.finish().await
}

/// `GET /__control/connections` on `stream`, which stays open; returns `accepted`.
async fn accepted_over(stream: &mut tokio::net::TcpStream) -> Result<u64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    stream
        .write_all(b"GET /__control/connections HTTP/1.1\r\nHost: fake\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    // Read the head, then exactly content-length bytes of body.
    loop {
        let n = stream.read(&mut buf).await?;
        ensure!(n > 0, "connection closed mid-answer");
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .ok_or_else(|| anyhow::anyhow!("no content-length: {head}"))?;
            if body.len() >= length {
                ensure!(head.starts_with("HTTP/1.1 200"), "{head}");
                let json: Value = serde_json::from_str(&body[..length])?;
                return json["accepted"]
                    .as_u64()
                    .ok_or_else(|| anyhow::anyhow!("no count: {json}"));
            }
        }
    }
}

#[tokio::test]
async fn the_fake_counts_accepted_connections() -> Result<()> {
    if support::runtime_independent() {
        return Ok(());
    }
    let fake = support::fake(Directory::demo()).await?;
    // Three requests on one kept-alive connection: one connection.
    let mut kept = tokio::net::TcpStream::connect(fake.addr()).await?;
    for _ in 0..3 {
        ensure!(accepted_over(&mut kept).await? == 1);
    }
    // A connection per request: each is counted.
    for expected in 2..=4 {
        let mut fresh = tokio::net::TcpStream::connect(fake.addr()).await?;
        ensure!(accepted_over(&mut fresh).await? == expected);
    }
    ensure!(fake.connections_accepted() == 4);
    fake.shutdown().await;
    Ok(())
}
