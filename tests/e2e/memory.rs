//! Memory: the component under an instance memory cap, as Spin sets one
//! (`--max-instance-memory` / `SPIN_MAX_INSTANCE_MEMORY`, SpinKube's `invocationLimits.memory`),
//! on devhost and on real Spin alike.
//!
//! Every hostile request body of the benchmarks (`crates/bench/src/hostile.rs`, shared here so
//! the bench measures exactly what this test checks) is sent four at once — the documented
//! concurrency — two with `Content-Length` and two streamed without it, to a server capped at
//! [`CAP`]: each gets its documented answer (a `400` with its code, or the `200` a valid body
//! gets), never a `500` from an instance that ran out of memory, and the host still answers a
//! valid lookup afterwards. `bench memory-cap` finds the smallest cap that holds.

use std::time::Duration;

use anyhow::{ensure, Result};
use fake_atlassian::Directory;
use reqwest::Method;

use crate::support::*;

#[path = "../../crates/bench/src/hostile.rs"]
mod bodies;

const MIB: usize = 1 << 20;

/// The cap the test holds the component to: below the 8 MiB, one MiB above the
/// smallest that holds on devhost, Spin 3.6.3 and Spin 4.0.2 alike (5 MiB, `bench memory-cap`;
/// BENCHMARKS.md), so a regression of more than a MiB fails here.
const CAP: usize = 6 * MIB;

/// How many of each body are sent at once.
const AT_ONCE: usize = 4;

/// `body` streamed in 16 KiB pieces, without `Content-Length`.
fn streamed(body: Vec<u8>) -> reqwest::Body {
    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(16 * 1024).map(|c| Ok(c.to_vec())).collect();
    reqwest::Body::wrap_stream(futures::stream::iter(pieces))
}

/// `status` and, for an error, its code: `400 too_many_account_ids`, `200`.
fn shown(status: u16, body: &[u8]) -> String {
    let code = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_string));
    match code {
        Some(code) => format!("{status} {code}"),
        None => status.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_four_at_once_under_a_6_mib_cap_get_their_4xx_never_a_500() -> Result<()> {
    // Four 1 MiB bodies parsed at once: never beside a timing bound.
    let _alone = CPU_HEAVY.lock().await;
    let fake = fake(Directory::demo()).await?;
    let server = serve_with(ServeOptions {
        variables: source_vars(&fake, Sources::Chain),
        max_instance_memory: Some(CAP),
        ..ServeOptions::default()
    })
    .await?;
    let env = Env::assemble(fake, server, Directory::demo())?;
    let mut wrong = Vec::new();
    for h in bodies::bodies(1000) {
        let expected = match h.code {
            Some(code) => format!("{} {code}", h.status),
            None => h.status.to_string(),
        };
        let sends = (0..AT_ONCE).map(|i| {
            let request = env
                .request(Method::POST, "/")
                .header("x-api-key", KEY)
                .header("content-type", "application/json")
                .timeout(Duration::from_secs(60));
            let request = if i % 2 == 0 {
                request.body(h.body.clone())
            } else {
                request.body(streamed(h.body.clone()))
            };
            env.send(request)
        });
        for answer in futures::future::join_all(sends).await {
            let got = match answer {
                Ok((status, _, body)) => shown(status, &body),
                Err(e) => format!("no answer ({e:#})"),
            };
            if got != expected {
                wrong.push(format!("{}: {got}, expected {expected}", h.name));
            }
        }
    }
    ensure!(wrong.is_empty(), "under a {CAP}-byte cap: {wrong:#?}");
    // The host is still up and a valid lookup still works.
    env.lookup_all_expecting(Sources::Chain).await?;
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cap_below_the_initial_memory_fails_every_instance_with_a_500() -> Result<()> {
    // The component's linear memory starts at 17 pages (1.06 MiB: its stack and data): under a
    // 1 MiB cap no instance can be made. Spin answers 500 for that, so devhost must too: the cap
    // is enforced, not just accepted.
    let fake = fake(Directory::demo()).await?;
    let server = serve_with(ServeOptions {
        variables: source_vars(&fake, Sources::Chain),
        max_instance_memory: Some(MIB),
        ..ServeOptions::default()
    })
    .await?;
    let env = Env::assemble(fake, server, Directory::demo())?;
    let (status, _, body) = env.send(env.request(Method::GET, "/health")).await?;
    ensure!(status == 500, "{status} {}", String::from_utf8_lossy(&body));
    // No instance ran, so no log line: stop without the log audit, which needs one.
    env.server.shutdown().await;
    env.fake.shutdown().await;
    Ok(())
}
