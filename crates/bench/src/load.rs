//! `bench load`: a bounded load generator. `--connections` clients, each on its own keep-alive
//! connection, send a mix of requests back to back for `--duration`, then stop by themselves:
//!
//! | share | request | expected |
//! |---|---|---|
//! | 55% | a random subset (1–20 ids, sometimes 200; duplicates, unknown ids, `includeUnresolved`) | `200`, body exactly the directory's answer |
//! | 5% | `GET /health` | `200 {"status":"ok"}` |
//! | 10% | malformed or wrongly shaped JSON | `400 invalid_json` |
//! | 10% | an empty, too long, spaced or control-character id | `400 invalid_account_id` |
//! | 15% | no key, a wrong key | `401 unauthorized` |
//! | 5% | `Content-Type: text/plain` | `415 unsupported_media_type` |
//!
//! Reports requests/s, p50/p99/max latency, errors (transport failures and 5xx), wrong answers
//! (anything else unexpected) and this process's RSS before and after; writes
//! `target/bench/load.json`. Exits non-zero on any error or wrong answer.
//!
//! `--connections` may be repeated, and `--spin PATH` adds real Spin runtimes: each runtime
//! (Spin first, devhost last, so that memory devhost's instances touched in this process does
//! not count against the Spin runs) runs the load at each connection count on a fresh server,
//! against the same fake; on Spin the host's memory is that of its own processes (`spin up` and its trigger),
//! apart from this process (the fake and the clients). With more than one run, `load.json`
//! holds `{"runs": [...]}` and a table puts the runs side by side.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use fake_atlassian::Directory;
use hdrhistogram::Histogram;
use serde_json::{json, Value};

use crate::client::{Conn, Req, Resp};
use crate::env::{self, Truth, KEY};
use crate::stats::{self, r3, Rng};

/// Options of `bench load`.
pub struct Opts {
    /// Connection counts, one run each per runtime.
    pub connections: Vec<usize>,
    pub duration: Duration,
    pub upstream_latency_ms: u64,
    pub wasm: Option<std::path::PathBuf>,
    /// Real Spin binaries to run the load on too, after devhost.
    pub spins: Vec<std::path::PathBuf>,
}

/// Users in the directory the load draws from.
const DIRECTORY_SIZE: usize = 1000;
/// A request slower than this counts as a transport failure.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Kinds of request, in report order.
const KINDS: [&str; 6] = [
    "valid",
    "health",
    "bad_json",
    "bad_id",
    "unauthorized",
    "media_type",
];

/// A latency histogram in microseconds, 1 µs to [`REQUEST_TIMEOUT`], at 3 significant figures:
/// a percentile reads at most 0.1% high (the top of its bucket). Allocated once per client, so
/// recording never allocates during the run.
fn latency_histogram() -> Histogram<u64> {
    let timeout_us = u64::try_from(REQUEST_TIMEOUT.as_micros()).unwrap_or(u64::MAX);
    Histogram::new_with_bounds(1, timeout_us, 3).expect("1 µs to the timeout, 3 figures")
}

/// `q` (0 to 1) of `h`, in ms.
fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1e3
}

/// Per-task tallies.
#[derive(Clone)]
struct Tally {
    latency: Histogram<u64>,
    by_kind: [u64; KINDS.len()],
    transport_errors: u64,
    server_errors: u64,
    wrong: u64,
    first_wrong: Option<String>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: latency_histogram(),
            by_kind: [0; KINDS.len()],
            transport_errors: 0,
            server_errors: 0,
            wrong: 0,
            first_wrong: None,
        }
    }

    fn merge(&mut self, o: &Tally) {
        self.latency
            .add(&o.latency)
            .expect("every tally's histogram has the same bounds");
        for (a, b) in self.by_kind.iter_mut().zip(o.by_kind) {
            *a += b;
        }
        self.transport_errors += o.transport_errors;
        self.server_errors += o.server_errors;
        self.wrong += o.wrong;
        if self.first_wrong.is_none() {
            self.first_wrong.clone_from(&o.first_wrong);
        }
    }
}

/// What a request must get back.
enum Expect {
    Ok(Value),
    Error(u16, &'static str),
}

/// Builds one request of a random kind.
fn make(rng: &mut Rng, truth: &Truth) -> (usize, Req, Expect) {
    let roll = rng.below(100);
    match roll {
        0..55 => {
            let k = if rng.below(10) == 0 {
                200
            } else {
                1 + rng.below(20)
            };
            let mut ids: Vec<String> = (0..k)
                .map(|_| truth.users[rng.below(truth.users.len())].account_id.clone())
                .collect();
            if rng.below(5) == 0 {
                ids.push(format!(
                    "557058:ffffffff-0000-0000-0000-{:012}",
                    rng.below(1_000_000)
                ));
            }
            if rng.below(5) == 0 {
                let dup = ids[rng.below(ids.len())].clone();
                ids.push(dup);
            }
            let include = rng.below(5) == 0;
            let body = if include {
                json!({"accountIds": ids, "includeUnresolved": true})
            } else {
                json!({"accountIds": ids})
            };
            let expected = truth.expected(&ids, include);
            (
                0,
                Req::post_json("/", Some(KEY), body.to_string()),
                Expect::Ok(expected),
            )
        }
        55..60 => (1, Req::get("/health"), Expect::Ok(json!({"status": "ok"}))),
        60..70 => {
            const BAD: [&str; 5] = [
                r#"{"accountIds": ["#,
                "not json",
                r#"{"accountIds": "5b10ac8d82e05b22cc7d4ef5"}"#,
                r#"{"accountIds": [1, 2]}"#,
                r#"["557058:00000000-0000-0000-0000-000000000001"]"#,
            ];
            let body = BAD[rng.below(BAD.len())];
            (
                2,
                Req::post_json("/", Some(KEY), body),
                Expect::Error(400, "invalid_json"),
            )
        }
        70..80 => {
            let long = "a".repeat(129);
            let bad = [
                String::new(),
                "has space".to_string(),
                "ctl\u{1}x".to_string(),
                long,
            ];
            let ids = vec![
                truth.users[rng.below(truth.users.len())].account_id.clone(),
                bad[rng.below(bad.len())].clone(),
            ];
            let body = json!({ "accountIds": ids }).to_string();
            (
                3,
                Req::post_json("/", Some(KEY), body),
                Expect::Error(400, "invalid_account_id"),
            )
        }
        80..95 => {
            let key = match rng.below(3) {
                0 => None,
                1 => Some("wrong-key-0123456789abcdef0123456789abcdef"),
                _ => Some("short"),
            };
            let id = &truth.users[rng.below(truth.users.len())].account_id;
            let body = json!({ "accountIds": [id] }).to_string();
            (
                4,
                Req::post_json("/", key, body),
                Expect::Error(401, "unauthorized"),
            )
        }
        _ => {
            let id = &truth.users[rng.below(truth.users.len())].account_id;
            let mut req = Req::post_json("/", Some(KEY), json!({ "accountIds": [id] }).to_string());
            req.headers.retain(|(n, _)| *n != "content-type");
            (
                5,
                req.header("content-type", "text/plain"),
                Expect::Error(415, "unsupported_media_type"),
            )
        }
    }
}

/// Whether `r` is what `expect` says; `None` if so, else why not (no body text: it may hold
/// emails).
fn judge(r: &Resp, expect: &Expect) -> Option<String> {
    let body: Option<Value> = serde_json::from_slice(&r.body).ok();
    match expect {
        Expect::Ok(v) => {
            if r.status != 200 {
                return Some(format!(
                    "expected 200, got {} ({:?})",
                    r.status,
                    body.as_ref().and_then(|b| b.get("error")).cloned()
                ));
            }
            (body.as_ref() != Some(v))
                .then(|| "200 with a body that differs from the directory".to_string())
        }
        Expect::Error(status, code) => {
            if r.status != *status {
                return Some(format!("expected {status} {code}, got {}", r.status));
            }
            let got = body
                .as_ref()
                .and_then(|b| b.get("error"))
                .and_then(Value::as_str);
            (got != Some(code)).then(|| format!("expected error {code:?}, got {got:?}"))
        }
    }
}

async fn client(
    addr: std::net::SocketAddr,
    seed: u64,
    truth: Arc<Truth>,
    stop: Arc<AtomicBool>,
) -> Tally {
    let mut rng = Rng::new(seed);
    let mut conn = Conn::new(addr);
    let mut t = Tally::new();
    while !stop.load(Ordering::Relaxed) {
        let (kind, req, expect) = make(&mut rng, &truth);
        match tokio::time::timeout(REQUEST_TIMEOUT, conn.send(&req)).await {
            Ok(Ok(r)) => {
                let us = u64::try_from(r.elapsed.as_micros()).unwrap_or(u64::MAX);
                t.latency.saturating_record(us);
                t.by_kind[kind] += 1;
                if r.status.is_server_error() {
                    t.server_errors += 1;
                } else if let Some(why) = judge(&r, &expect) {
                    t.wrong += 1;
                    if t.first_wrong.is_none() {
                        t.first_wrong = Some(format!("{}: {why}", KINDS[kind]));
                    }
                }
            }
            _ => {
                t.transport_errors += 1;
                conn = Conn::new(addr);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    t
}

/// Runs the load (each runtime × each connection count) and writes `target/bench/load.json`.
pub async fn run(opts: Opts) -> Result<()> {
    let (wasm, spins) = env::component_and_spins(opts.wasm.as_deref(), &opts.spins)?;
    let directory = Directory::generated(DIRECTORY_SIZE);
    let truth = Arc::new(Truth::new(&directory));
    let fake = env::start_fake(directory).await?;
    fake.set_latency(Duration::from_millis(opts.upstream_latency_ms));
    // Spin first, devhost last: devhost serves from this process, and memory its instances
    // touched would otherwise stay in this process's RSS during the Spin runs.
    let mut runtimes: Vec<env::Runtime> = spins.into_iter().map(env::Runtime::Spin).collect();
    runtimes.push(env::Runtime::Devhost(env::load_app(&wasm)?));
    let mut reports = Vec::new();
    for runtime in &runtimes {
        for &connections in &opts.connections {
            reports.push(run_one(runtime, connections, &opts, &fake, &truth).await?);
        }
    }
    fake.shutdown().await;
    // Reported devhost first.
    reports.rotate_right(opts.connections.len() * usize::from(runtimes.len() > 1));

    let path = env::out_dir()?.join("load.json");
    let written = match reports.as_slice() {
        [one] => one.clone(),
        _ => json!({ "runs": reports }),
    };
    std::fs::write(&path, serde_json::to_string_pretty(&written)? + "\n")?;
    if reports.len() > 1 {
        print_side_by_side(&reports);
    }
    println!("wrote {}", path.display());
    let failed: Vec<String> = reports
        .iter()
        .filter(|r| r["wrong_answers"] != 0 || r["errors"]["transport"] != 0 || r["errors"]["server_5xx"] != 0)
        .map(|r| {
            format!(
                "{} at {} connections: {} wrong answers, {} transport errors, {} 5xx (first wrong: {})",
                r["runtime"].as_str().unwrap_or(""),
                r["connections"],
                r["wrong_answers"],
                r["errors"]["transport"],
                r["errors"]["server_5xx"],
                r["first_wrong"].as_str().unwrap_or("")
            )
        })
        .collect();
    if !failed.is_empty() {
        bail!("load found errors: {}", failed.join("; "));
    }
    Ok(())
}

/// The runs side by side: errors and memory per runtime and connection count.
fn print_side_by_side(reports: &[Value]) {
    println!("\nload side by side ({} s each; host RSS: Spin's own processes, devhost: this whole process)", reports[0]["duration_s"]);
    println!(
        "{:<12} {:>5} {:>9} {:>8} {:>8} {:>7} {:>17} {:>17}",
        "runtime", "conn", "req/s", "p50 ms", "p99 ms", "errors", "host RSS MiB", "bench RSS MiB"
    );
    let mib = |v: &Value| v.as_u64().unwrap_or(0) / 1024;
    for r in reports {
        let m = &r["memory_kb"];
        let errors = r["errors"]["transport"].as_u64().unwrap_or(0)
            + r["errors"]["server_5xx"].as_u64().unwrap_or(0)
            + r["wrong_answers"].as_u64().unwrap_or(0);
        let (host, bench) = if m["host_peak"].is_null() {
            (
                format!("{} → {}", mib(&m["rss_before"]), mib(&m["peak"])),
                "(same process)".to_string(),
            )
        } else {
            (
                format!("{} → {}", mib(&m["host_rss_before"]), mib(&m["host_peak"])),
                format!("{} → {}", mib(&m["rss_before"]), mib(&m["peak"])),
            )
        };
        println!(
            "{:<12} {:>5} {:>9.0} {:>8.2} {:>8.2} {:>7} {:>17} {:>17}",
            r["runtime"].as_str().unwrap_or(""),
            r["connections"].to_string(),
            r["rps"].as_f64().unwrap_or(0.0),
            r["latency_ms"]["p50"].as_f64().unwrap_or(f64::NAN),
            r["latency_ms"]["p99"].as_f64().unwrap_or(f64::NAN),
            errors,
            host,
            bench
        );
    }
}

/// One run: a fresh server on `runtime`, `connections` clients for `opts.duration`.
async fn run_one(
    runtime: &env::Runtime,
    connections: usize,
    opts: &Opts,
    fake: &fake_atlassian::FakeAtlassian,
    truth: &Arc<Truth>,
) -> Result<Value> {
    let tag = format!("load-{connections}");
    let server = runtime
        .serve(env::chain_vars(fake, &[]), &tag, true)
        .await?;
    env::wait_healthy(server.addr(), Duration::from_secs(10)).await?;
    let addr = server.addr();
    let host_pids = server.pids();

    // Warm up every connection's worth of instances, then measure the baseline RSS.
    {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..connections)
            .map(|c| tokio::spawn(client(addr, 10_000 + c as u64, truth.clone(), stop.clone())))
            .collect();
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await?;
        }
    }
    fake.clear_requests();
    let rss_before = stats::proc_status_kb("VmRSS");
    stats::reset_peak_rss();
    let host_rss_before = stats::pids_status_kb(&host_pids, "VmRSS");
    stats::reset_pids_peak_rss(&host_pids);

    // The fake records every call; forget them every second so its memory stays flat. Sample
    // the RSS every second too: a leak climbs steadily, a pool warming up levels off.
    let rss_timeline = Arc::new(std::sync::Mutex::new(Vec::with_capacity(4096)));
    let host_timeline = Arc::new(std::sync::Mutex::new(Vec::with_capacity(4096)));
    let recorder = {
        let fake = fake.clone();
        let timeline = rss_timeline.clone();
        let host_timeline = host_timeline.clone();
        let host_pids = host_pids.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                fake.clear_requests();
                if let Ok(mut t) = timeline.lock() {
                    t.push(stats::proc_status_kb("VmRSS"));
                }
                if let Ok(mut t) = host_timeline.lock() {
                    t.push(stats::pids_status_kb(&host_pids, "VmRSS"));
                }
            }
        })
    };
    eprintln!(
        "bench load: {} connections for {:?} against {} on {} (upstream latency {} ms)",
        connections,
        opts.duration,
        server.url(),
        runtime.name(),
        opts.upstream_latency_ms
    );
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|c| tokio::spawn(client(addr, c as u64 + 1, truth.clone(), stop.clone())))
        .collect();
    tokio::time::sleep(opts.duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Tally::new();
    // In-flight requests finish within REQUEST_TIMEOUT; then the run is over regardless.
    let drain = tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(5), async {
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await);
        }
        out
    })
    .await;
    let elapsed = start.elapsed();
    match drain {
        Ok(results) => {
            for r in results {
                total.merge(&r?);
            }
        }
        Err(_) => bail!("clients did not stop within {REQUEST_TIMEOUT:?} of the deadline"),
    }
    recorder.abort();
    fake.clear_requests();
    let rss_after = stats::proc_status_kb("VmRSS");
    let peak = stats::proc_status_kb("VmHWM");
    let host_rss_after = stats::pids_status_kb(&host_pids, "VmRSS");
    let host_peak = stats::pids_status_kb(&host_pids, "VmHWM");
    server.shutdown().await;

    let timeline: Vec<u64> = rss_timeline.lock().map(|t| t.clone()).unwrap_or_default();
    let host_timeline: Vec<u64> = host_timeline.lock().map(|t| t.clone()).unwrap_or_default();
    // Growth over the second half of the run: near zero when memory has levelled off.
    let second_half = |timeline: &[u64]| match (timeline.get(timeline.len() / 2), timeline.last()) {
        (Some(mid), Some(last)) => *last as i64 - *mid as i64,
        _ => 0,
    };
    let second_half_growth_kb = second_half(&timeline);
    let requests = total.latency.len();
    let growth_kb = rss_after as i64 - rss_before as i64;
    let mut report = json!({
        "runtime": runtime.name(),
        "connections": connections,
        "duration_s": r3(opts.duration.as_secs_f64()),
        "elapsed_s": r3(elapsed.as_secs_f64()),
        "upstream_latency_ms": opts.upstream_latency_ms,
        "requests": requests,
        "rps": r3(requests as f64 / elapsed.as_secs_f64()),
        "by_kind": KINDS.iter().zip(total.by_kind).map(|(k, n)| (k.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
        "latency_ms": {"p50": quantile_ms(&total.latency, 0.5), "p99": quantile_ms(&total.latency, 0.99),
                       "max": total.latency.max() as f64 / 1e3},
        "errors": {"transport": total.transport_errors, "server_5xx": total.server_errors},
        "wrong_answers": total.wrong,
        "first_wrong": total.first_wrong,
        "memory_kb": {"rss_before": rss_before, "rss_after": rss_after, "growth": growth_kb, "peak": peak,
                      "second_half_growth": second_half_growth_kb, "rss_every_second": timeline,
                      "note": "whole process: devhost + component instances, fake-atlassian and the clients"},
    });
    if !host_pids.is_empty() {
        let m = &mut report["memory_kb"];
        m["note"] = json!("rss_*/peak: this process (fake-atlassian and the clients); host_*: Spin's own processes (spin up and spin trigger http)");
        m["host_rss_before"] = json!(host_rss_before);
        m["host_rss_after"] = json!(host_rss_after);
        m["host_peak"] = json!(host_peak);
        m["host_second_half_growth"] = json!(second_half(&host_timeline));
        m["host_rss_every_second"] = json!(host_timeline);
    }
    println!(
        "load on {}: {} requests in {:.1} s = {:.0} req/s over {} connections; p50 {:.2} ms, p99 {:.2} ms, max {:.1} ms",
        runtime.name(), requests, elapsed.as_secs_f64(), report["rps"].as_f64().unwrap_or(0.0), connections,
        quantile_ms(&total.latency, 0.5), quantile_ms(&total.latency, 0.99), total.latency.max() as f64 / 1e3
    );
    println!("      by kind: {}", report["by_kind"]);
    println!(
        "      errors: {} transport, {} 5xx; wrong answers: {}",
        total.transport_errors, total.server_errors, total.wrong
    );
    println!(
        "      RSS before {} MiB, after {} MiB (growth {:+} KiB; over the second half {:+} KiB), peak {} MiB",
        rss_before / 1024,
        rss_after / 1024,
        growth_kb,
        second_half_growth_kb,
        peak / 1024
    );
    if !host_pids.is_empty() {
        println!(
            "      host (Spin's processes) RSS before {} MiB, after {} MiB, peak {} MiB",
            host_rss_before / 1024,
            host_rss_after / 1024,
            host_peak / 1024
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_read_at_most_a_tenth_of_a_percent_high_never_low() {
        let mut tally = Tally::new();
        let mut other = Tally::new();
        // 1 ms to 10 s in 1 ms steps, split across two clients' tallies.
        for ms in 1..=10_000u64 {
            let t = if ms % 2 == 0 { &mut tally } else { &mut other };
            t.latency.saturating_record(ms * 1000);
        }
        tally.merge(&other);
        assert_eq!(tally.latency.len(), 10_000);
        for (q, exact_ms) in [(0.5, 5_000.0), (0.99, 9_900.0), (1.0, 10_000.0)] {
            let got = quantile_ms(&tally.latency, q);
            assert!(
                got >= exact_ms && got <= exact_ms * 1.001,
                "q {q}: {got} ms for {exact_ms} ms"
            );
        }
        assert!(tally.latency.max() as f64 / 1e3 <= 10_000.0 * 1.001);
        // Beyond the timeout a value is kept at the top, not lost.
        tally.latency.saturating_record(u64::MAX);
        assert_eq!(tally.latency.len(), 10_001);
    }
}
