//! The benchmark suite: bulk lookup latency against the floor, the naive baseline, throughput
//! and the function's own overhead, cold start and per-request instantiation, size and memory.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use fake_atlassian::{Directory, Endpoint, FakeAtlassian};
use serde_json::{json, Value};
use tokio::sync::Barrier;

use crate::client::{Conn, Req, Resp};
use crate::env::{self, Truth, KEY};
use crate::stats::{self, ms, r3, summarize, Rng, Summary};

/// Ids per admin search call: the published maximum the component uses
/// (`src/upstream/admin.rs` `MAX_ACCOUNT_IDS`; Organizations REST API spec, `maxItems 10`).
const ADMIN_BATCH: usize = 10;
/// Ids per `users-bulk` call: the published maximum (`src/upstream/confluence.rs`
/// `MAX_ACCOUNT_IDS`; Confluence REST v2 spec, 1 to 250).
const CONFLUENCE_BATCH: usize = 250;
/// The component's default `upstream_concurrency`.
const CONCURRENCY: usize = 4;
/// Users in the generated directory.
const DIRECTORY_SIZE: usize = 1000;

/// What to run.
#[derive(Debug, Clone)]
pub struct Opts {
    /// Seconds, not minutes: fewer sizes and runs, short throughput windows.
    pub quick: bool,
    /// Runs per case (the naive 1,000-id case at 50 ms always runs once).
    pub runs: usize,
    /// Seconds per throughput measurement.
    pub window: f64,
    /// Cases to run (empty: all).
    pub only: Vec<Case>,
    /// The component to serve (else `IDENTITY_ACCESSOR_WASM`, else built).
    pub wasm: Option<PathBuf>,
    /// Real Spin binaries: the runtime-dependent cases (bulk, throughput, instantiation,
    /// connections) run on each as well, after devhost, on the same component and fake.
    pub spins: Vec<PathBuf>,
}

/// A case of the suite, as `--only` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Case {
    /// Bulk lookups of 1 to 1,000 ids under both source orders, against the floor.
    Bulk,
    /// The naive client: one privacy-email-API call per id, straight to the fake.
    Naive,
    /// One-id lookups at 1, 8 and 32 clients against the same upstream call sent directly.
    Throughput,
    /// Requests with no upstream call: what a fresh instance per request costs.
    Instantiation,
    /// Checking `api_key`: one plain key, its `sha256:` form, 16 plain keys.
    KeyCheck,
    /// Host start to the first 200, and the first lookup.
    Cold,
    /// Upstream connections pooled against one per call.
    Connections,
    /// Peak heap of parsing a 2 MiB page and each hostile request body.
    ParseMemory,
}

impl Opts {
    fn wants(&self, case: Case) -> bool {
        self.only.is_empty() || self.only.contains(&case)
    }
}

/// Runs the suite, prints the tables and writes `target/bench/results.json`.
pub async fn run(opts: Opts) -> Result<()> {
    // Native and allocator-counted: first, while nothing else in this process allocates.
    let parse_memory = if opts.wants(Case::ParseMemory) {
        Some(crate::parse_memory::measure()?)
    } else {
        None
    };
    let (wasm, spins) = env::component_and_spins(opts.wasm.as_deref(), &opts.spins)?;
    let wasm_size = std::fs::metadata(&wasm)
        .with_context(|| format!("no component at {}", wasm.display()))?
        .len();
    let started = Instant::now();
    let mut report = json!({
        "machine": machine(),
        "quick": opts.quick,
        "runs": opts.runs,
        "component": wasm.display().to_string(),
        "config": {"sources": "admin and confluence (basic); email_sources auto (confluence first), and admin,confluence for comparison",
                   "upstream_concurrency": CONCURRENCY,
                   "admin_batch": ADMIN_BATCH, "confluence_batch": CONFLUENCE_BATCH,
                   "directory": format!("Directory::generated({DIRECTORY_SIZE})")},
    });

    if let Some(rows) = parse_memory {
        report["parse_memory"] = rows;
    }

    let directory = Directory::generated(DIRECTORY_SIZE);
    let truth = Truth::new(&directory);
    let fake = env::start_fake(directory).await?;

    // Cold start first, while nothing is compiled yet in this process.
    let cold_runs = if opts.quick { 1 } else { 3 };
    if opts.wants(Case::Cold) {
        report["cold_start"] = cold_start(&wasm, &fake, cold_runs).await?;
    }

    let app = env::load_app(&wasm)?;
    let mut runtimes = vec![env::Runtime::Devhost(app)];
    runtimes.extend(spins.into_iter().map(env::Runtime::Spin));
    for runtime in &runtimes {
        let cases = runtime_cases(runtime, &opts, &fake, &truth).await?;
        match runtime {
            env::Runtime::Devhost(_) => {
                for (key, value) in cases.as_object().into_iter().flatten() {
                    report[key.as_str()] = value.clone();
                }
            }
            env::Runtime::Spin(spin) => report["spin"][spin.version()] = cases,
        }
    }
    report["size"] = json!({
        "wasm_bytes": wasm_size,
        "wasm_mib": r3(wasm_size as f64 / (1 << 20) as f64),
        "variants": crate::sizes::read_table().unwrap_or(Value::Null),
    });
    report["memory"]["final_vm_rss_kb"] = json!(stats::proc_status_kb("VmRSS"));
    report["elapsed_s"] = json!(r3(started.elapsed().as_secs_f64()));

    fake.shutdown().await;

    report["targets"] = targets(&report);
    print_report(&report);
    let path = env::out_dir()?.join("results.json");
    std::fs::write(&path, serde_json::to_string_pretty(&report)? + "\n")?;
    println!("\nwrote {}", path.display());
    Ok(())
}

/// The cases whose figures depend on the runtime, on `runtime`: bulk (both orders),
/// throughput, instantiation and connections; on devhost also the naive baseline (straight to
/// the fake, the same on every runtime).
async fn runtime_cases(
    runtime: &env::Runtime,
    opts: &Opts,
    fake: &FakeAtlassian,
    truth: &Truth,
) -> Result<Value> {
    eprintln!("bench: cases on {}", runtime.name());
    let mut report = json!({ "runtime": runtime.name() });
    let server = runtime
        .serve(env::chain_vars(fake, &[]), "suite", true)
        .await?;
    env::wait_healthy(server.addr(), Duration::from_secs(10)).await?;
    let admin_first_vars = [("email_sources", "admin,confluence".to_string())];
    let admin_first = runtime
        .serve(
            env::chain_vars(fake, &admin_first_vars),
            "suite-admin-first",
            true,
        )
        .await?;
    env::wait_healthy(admin_first.addr(), Duration::from_secs(10)).await?;
    let ctx = Ctx {
        host: server.addr(),
        host_pids: server.pids(),
        admin_first_host: admin_first.addr(),
        fake: fake.clone(),
        truth,
    };

    let sizes: Vec<usize> = if opts.quick {
        vec![1, 10, 100]
    } else {
        vec![1, 10, 100, 1000]
    };
    let latencies: [u64; 2] = [0, 50];

    if opts.wants(Case::Bulk) {
        for (key, order) in [
            ("bulk", Order::Auto),
            ("bulk_admin_first", Order::AdminFirst),
        ] {
            let mut rows = Vec::new();
            for &latency in &latencies {
                for &n in &sizes {
                    rows.push(bulk(&ctx, order, n, latency, opts.runs).await?);
                }
            }
            report[key] = Value::Array(rows);
        }
    }
    if opts.wants(Case::Naive) && matches!(runtime, env::Runtime::Devhost(_)) {
        let mut rows = Vec::new();
        for &latency in &latencies {
            for &n in &sizes {
                if opts.quick && latency > 0 && n > 10 {
                    continue;
                }
                let runs = if latency > 0 && n >= 1000 {
                    1
                } else {
                    opts.runs
                };
                rows.push(naive(&ctx, n, latency, runs).await?);
            }
        }
        report["naive"] = Value::Array(rows);
    }
    fake.set_latency(Duration::ZERO);
    if opts.wants(Case::Throughput) {
        report["throughput"] = throughput(&ctx, &[1, 8, 32], opts.window).await?;
    }
    if opts.wants(Case::Instantiation) {
        report["instantiation"] = instantiation(&ctx, opts.window).await?;
    }
    if opts.wants(Case::KeyCheck) {
        report["key_check"] = key_check(runtime, fake, opts.window).await?;
    }
    if opts.wants(Case::Connections) {
        let lookups = if opts.quick { 40 } else { 400 };
        report["connections"] = connections(runtime, &ctx, lookups).await?;
    }
    server.shutdown().await;
    admin_first.shutdown().await;
    Ok(report)
}

struct Ctx<'a> {
    /// The component with `email_sources` unset (`auto`: confluence first).
    host: SocketAddr,
    /// The host's own processes when it runs outside this one (Spin), for its memory.
    host_pids: Vec<u32>,
    /// The component with `email_sources=admin,confluence`.
    admin_first_host: SocketAddr,
    fake: FakeAtlassian,
    truth: &'a Truth,
}

/// The source order a bulk case runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// `email_sources=auto`: Confluence (250 ids a call), then admin (10) for the rest.
    Auto,
    /// `email_sources=admin,confluence`.
    AdminFirst,
}

impl Order {
    fn name(self) -> &'static str {
        match self {
            Order::Auto => "auto",
            Order::AdminFirst => "admin,confluence",
        }
    }
}

fn machine() -> Value {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, m)| m.trim().to_string())
            })
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    json!({"cpus": cpus, "cpu": model, "loadavg_at_start": load.trim()})
}

fn lookup_body(ids: &[String]) -> String {
    json!({ "accountIds": ids }).to_string()
}

/// Checks a lookup answer exactly against the directory.
fn check_lookup(truth: &Truth, ids: &[String], include_unresolved: bool, r: &Resp) -> Result<()> {
    ensure!(
        r.status == 200,
        "lookup answered {}: {}",
        r.status,
        String::from_utf8_lossy(&r.body)
    );
    let got: Value = serde_json::from_slice(&r.body).context("lookup answer is not JSON")?;
    ensure!(
        got == truth.expected(ids, include_unresolved),
        "wrong lookup answer for {} ids",
        ids.len()
    );
    Ok(())
}

/// Case 1: one bulk lookup of `n` ids under `order`, `runs` times, at `latency_ms` per upstream
/// call.
async fn bulk(
    ctx: &Ctx<'_>,
    order: Order,
    n: usize,
    latency_ms: u64,
    runs: usize,
) -> Result<Value> {
    ctx.fake.set_latency(Duration::from_millis(latency_ms));
    let ids: Vec<String> = ctx.truth.users[..n]
        .iter()
        .map(|u| u.account_id.clone())
        .collect();
    let req = Req::post_json("/", Some(KEY), lookup_body(&ids));
    let mut conn = Conn::new(match order {
        Order::Auto => ctx.host,
        Order::AdminFirst => ctx.admin_first_host,
    });
    // One warm-up run on a fresh connection, not counted.
    check_lookup(ctx.truth, &ids, false, &conn.send(&req).await?)?;
    let mut times = Vec::new();
    let mut calls = Vec::new();
    for _ in 0..runs {
        ctx.fake.clear_requests();
        let r = conn.send(&req).await?;
        check_lookup(ctx.truth, &ids, false, &r)?;
        times.push(r.elapsed);
        calls.push((
            ctx.fake.request_count(Endpoint::AdminSearch),
            ctx.fake.request_count(Endpoint::UsersBulk),
            ctx.fake.request_count(Endpoint::Any),
        ));
    }
    let s = summarize(&times);
    let (admin, confluence) = ctx.truth.min_calls(
        &ids,
        order == Order::AdminFirst,
        ADMIN_BATCH,
        CONFLUENCE_BATCH,
    );
    let min_calls = admin + confluence;
    // The floor, the same for both orders: the fewest calls at the published maxima (10 / 250
    // ids a call), CONCURRENCY in flight, one latency each, for the cheaper order. The second
    // source needs the first one's answer, so an order costs one round per CONCURRENCY calls
    // of each source.
    let rounds = |(a, c): (usize, usize)| a.div_ceil(CONCURRENCY) + c.div_ceil(CONCURRENCY);
    let cheaper = rounds(
        ctx.truth
            .min_calls(&ids, false, ADMIN_BATCH, CONFLUENCE_BATCH),
    )
    .min(rounds(ctx.truth.min_calls(
        &ids,
        true,
        ADMIN_BATCH,
        CONFLUENCE_BATCH,
    )));
    let made = calls[0];
    let same_every_run = calls.iter().all(|c| *c == made);
    let floor_ms = (cheaper as u64 * latency_ms) as f64;
    Ok(json!({
        "order": order.name(),
        "ids": n, "upstream_latency_ms": latency_ms, "runs": runs,
        "wall": s.json(),
        "upstream_calls": {"admin": made.0, "confluence": made.1, "total": made.2,
                           "same_every_run": same_every_run},
        "min_calls": {"admin": admin, "confluence": confluence, "total": min_calls},
        "calls_are_minimum": same_every_run && made.2 == min_calls && made.0 == admin && made.1 == confluence,
        "floor_ms": floor_ms,
        "ratio_to_floor": if latency_ms > 0 { json!(r3(s.p50 / floor_ms)) } else { Value::Null },
        "floor_ms_this_order": (rounds((admin, confluence)) as u64 * latency_ms),
    }))
}

/// Case 2: the naive way — one privacy-email-API call per id, sequentially, straight to the
/// fake, on one keep-alive connection.
async fn naive(ctx: &Ctx<'_>, n: usize, latency_ms: u64, runs: usize) -> Result<Value> {
    ctx.fake.set_latency(Duration::from_millis(latency_ms));
    let token = format!("Bearer {}", ctx.fake.credentials().app_token);
    let users = &ctx.truth.users[..n];
    let reqs: Vec<Req> = users
        .iter()
        .map(|u| {
            Req::get(&format!(
                "/wiki/rest/api/user/email?accountId={}",
                u.account_id.replace(':', "%3A")
            ))
            .header("authorization", token.clone())
        })
        .collect();
    let mut conn = Conn::new(ctx.fake.addr());
    conn.send(&reqs[0]).await?;
    let mut times = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        for (req, user) in reqs.iter().zip(users) {
            let r = conn.send(req).await?;
            ensure!(r.status == 200, "naive call answered {}", r.status);
            let v: Value = serde_json::from_slice(&r.body)?;
            ensure!(v["email"] == user.email.as_str(), "naive call: wrong email");
        }
        times.push(start.elapsed());
    }
    Ok(
        json!({"ids": n, "upstream_latency_ms": latency_ms, "runs": runs,
              "upstream_calls": n, "wall": summarize(&times).json()}),
    )
}

/// Result of a closed-loop run.
struct Loop {
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

/// `concurrency` clients, each on its own connection, send `make(rng)` back to back for
/// `window` seconds (after 3 warm-up requests each); `ok` judges each answer.
async fn closed_loop(
    addr: SocketAddr,
    concurrency: usize,
    window: f64,
    make: Arc<dyn Fn(&mut Rng) -> Req + Send + Sync>,
    ok: fn(&Resp) -> bool,
) -> Result<Loop> {
    let barrier = Arc::new(Barrier::new(concurrency + 1));
    let window = Duration::from_secs_f64(window);
    let mut tasks = Vec::new();
    for c in 0..concurrency {
        let barrier = barrier.clone();
        let make = make.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng::new(c as u64 + 1);
            let mut conn = Conn::new(addr);
            for _ in 0..3 {
                let _ = conn.send(&make(&mut rng)).await;
            }
            barrier.wait().await;
            let deadline = Instant::now() + window;
            let mut latencies = Vec::new();
            let mut errors = 0;
            while Instant::now() < deadline {
                match conn.send(&make(&mut rng)).await {
                    Ok(r) if ok(&r) => latencies.push(r.elapsed),
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    barrier.wait().await;
    let start = Instant::now();
    let mut out = Loop {
        latencies: Vec::new(),
        errors: 0,
        elapsed: Duration::ZERO,
    };
    for t in tasks {
        let (l, e) = t.await?;
        out.latencies.extend(l);
        out.errors += e;
    }
    out.elapsed = start.elapsed();
    Ok(out)
}

fn loop_json(l: &Loop, s: &Summary) -> Value {
    json!({"requests": l.latencies.len(), "errors": l.errors,
           "rps": r3(l.latencies.len() as f64 / l.elapsed.as_secs_f64()),
           "latency": s.json()})
}

fn is_200(r: &Resp) -> bool {
    r.status == 200
}

/// Visible ids: under `auto`, one `users-bulk` call answers each.
fn visible_ids(truth: &Truth) -> Arc<Vec<String>> {
    Arc::new(
        truth
            .users
            .iter()
            .filter(|u| !u.is_hidden())
            .map(|u| u.account_id.clone())
            .collect(),
    )
}

/// Case 3: one-id requests through devhost + component vs. the same upstream call straight to
/// the fake; peak RSS of this process (host, fake and clients) during the runs.
async fn throughput(ctx: &Ctx<'_>, levels: &[usize], window: f64) -> Result<Value> {
    ctx.fake.set_latency(Duration::ZERO);
    let ids = visible_ids(ctx.truth);
    let through = {
        let ids = ids.clone();
        Arc::new(move |rng: &mut Rng| {
            let id = &ids[rng.below(ids.len())];
            Req::post_json("/", Some(KEY), format!(r#"{{"accountIds":["{id}"]}}"#))
        }) as Arc<dyn Fn(&mut Rng) -> Req + Send + Sync>
    };
    // The same users-bulk call, through the gateway path with the bearer token (no Basic
    // encoding in the client; the fake does the same work).
    let bulk_path = format!(
        "/ex/confluence/{}/wiki/api/v2/users-bulk",
        ctx.fake.credentials().cloud_id
    );
    let bulk_auth = format!("Bearer {}", ctx.fake.credentials().bearer_token);
    let direct = {
        let ids = ids.clone();
        Arc::new(move |rng: &mut Rng| {
            let id = &ids[rng.below(ids.len())];
            Req::post_json(&bulk_path, None, format!(r#"{{"accountIds":["{id}"]}}"#))
                .header("authorization", bulk_auth.clone())
        }) as Arc<dyn Fn(&mut Rng) -> Req + Send + Sync>
    };
    let rss_before = stats::proc_status_kb("VmRSS");
    let reset = stats::reset_peak_rss();
    let host_rss_before = stats::pids_status_kb(&ctx.host_pids, "VmRSS");
    stats::reset_pids_peak_rss(&ctx.host_pids);
    let mut rows = Vec::new();
    for &c in levels {
        ctx.fake.clear_requests();
        let f = closed_loop(ctx.host, c, window, through.clone(), is_200).await?;
        let calls = ctx.fake.request_count(Endpoint::Any);
        ctx.fake.clear_requests();
        let d = closed_loop(ctx.fake.addr(), c, window, direct.clone(), is_200).await?;
        ctx.fake.clear_requests();
        let (fs, ds) = (summarize(&f.latencies), summarize(&d.latencies));
        ensure!(
            f.errors == 0,
            "{} failed one-id requests at concurrency {c}",
            f.errors
        );
        rows.push(json!({
            "concurrency": c,
            "function": loop_json(&f, &fs),
            "direct": loop_json(&d, &ds),
            "upstream_calls_per_request": r3(calls as f64 / (f.latencies.len() + 3 * c) as f64),
            "added_p50_ms": r3(fs.p50 - ds.p50),
            "p50_ratio": r3(fs.p50 / ds.p50),
            "p99_ratio": r3(fs.p99 / ds.p99),
            "rps_ratio": r3((d.latencies.len() as f64 / d.elapsed.as_secs_f64()) / (f.latencies.len() as f64 / f.elapsed.as_secs_f64())),
        }));
    }
    let mut out = json!({
        "window_s": window, "levels": rows,
        "rss_before_kb": rss_before,
        "peak_rss_kb": stats::proc_status_kb("VmHWM"),
        "peak_reset": reset,
        "rss_after_kb": stats::proc_status_kb("VmRSS"),
    });
    if !ctx.host_pids.is_empty() {
        // The host in its own processes (Spin): its memory apart from this process's.
        out["host_rss_before_kb"] = json!(host_rss_before);
        out["host_peak_rss_kb"] = json!(stats::pids_status_kb(&ctx.host_pids, "VmHWM"));
    }
    Ok(out)
}

/// Case 4b: requests that need no upstream call, through the component vs. the fake's own
/// round trip: what a fresh instance per request costs.
async fn instantiation(ctx: &Ctx<'_>, window: f64) -> Result<Value> {
    let health =
        Arc::new(|_: &mut Rng| Req::get("/health")) as Arc<dyn Fn(&mut Rng) -> Req + Send + Sync>;
    let empty = Arc::new(|_: &mut Rng| Req::post_json("/", Some(KEY), r#"{"accountIds":[]}"#))
        as Arc<dyn Fn(&mut Rng) -> Req + Send + Sync>;
    let fake_rt = Arc::new(|_: &mut Rng| Req::get("/wiki/none"))
        as Arc<dyn Fn(&mut Rng) -> Req + Send + Sync>;
    let any = |_: &Resp| true;
    let h = closed_loop(ctx.host, 1, window, health, is_200).await?;
    let e = closed_loop(ctx.host, 1, window, empty, is_200).await?;
    let f = closed_loop(ctx.fake.addr(), 1, window, fake_rt, any).await?;
    ctx.fake.clear_requests();
    let (hs, es, fs) = (
        summarize(&h.latencies),
        summarize(&e.latencies),
        summarize(&f.latencies),
    );
    Ok(json!({
        "health": loop_json(&h, &hs),
        "empty_lookup": loop_json(&e, &es),
        "fake_round_trip": loop_json(&f, &fs),
        "per_request_cost_p50_ms": r3(hs.p50 - fs.p50),
        "empty_lookup_cost_p50_ms": r3(es.p50 - fs.p50),
    }))
}

/// Case 4c: what checking `api_key` costs inside the component, in the fresh instance every
/// request gets. The same empty lookup (no upstream call) against `api_key` holding the bench
/// key plain (its strength is estimated on every request), its `sha256:` form (nothing to
/// estimate), and 16 plain keys (the most `api_key` accepts), interleaved in 5 rounds; the
/// differences of the p50s are the estimate's cost per request.
async fn key_check(runtime: &env::Runtime, fake: &FakeAtlassian, window: f64) -> Result<Value> {
    use sha2::{Digest, Sha256};
    let hashed: String = Sha256::digest(KEY.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut rng = Rng::new(16);
    let mut sixteen = vec![KEY.to_string()];
    sixteen.extend((0..15).map(|_| format!("{:016x}{:016x}", rng.next_u64(), rng.next_u64())));
    let configs = [
        ("plain", KEY.to_string()),
        ("sha256", format!("sha256:{hashed}")),
        ("sixteen_plain", sixteen.join(",")),
    ];
    let mut servers = Vec::new();
    for (name, api_key) in &configs {
        let vars = env::chain_vars(fake, &[("api_key", api_key.clone())]);
        let server = runtime
            .serve(vars, &format!("key-check-{name}"), true)
            .await?;
        env::wait_healthy(server.addr(), Duration::from_secs(10)).await?;
        servers.push(server);
    }
    let empty = Arc::new(|_: &mut Rng| Req::post_json("/", Some(KEY), r#"{"accountIds":[]}"#))
        as Arc<dyn Fn(&mut Rng) -> Req + Send + Sync>;
    let rounds = 5;
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); configs.len()];
    let mut errors = 0;
    for _ in 0..rounds {
        for (server, out) in servers.iter().zip(&mut samples) {
            let l = closed_loop(
                server.addr(),
                1,
                window / rounds as f64,
                empty.clone(),
                is_200,
            )
            .await?;
            errors += l.errors;
            out.extend(l.latencies);
        }
    }
    for server in servers {
        server.shutdown().await;
    }
    let p50: Vec<f64> = samples.iter().map(|s| summarize(s).p50).collect();
    let mut rows = serde_json::Map::new();
    for ((name, _), s) in configs.iter().zip(&samples) {
        rows.insert(
            name.to_string(),
            json!({"requests": s.len(), "latency": summarize(s).json()}),
        );
    }
    Ok(json!({
        "window_s": window, "rounds": rounds, "errors": errors, "key_len": KEY.len(),
        "configs": rows,
        "plain_minus_sha256_p50_ms": r3(p50[0] - p50[1]),
        "sixteen_plain_minus_sha256_p50_ms": r3(p50[2] - p50[1]),
    }))
}

/// Case 5: upstream connection reuse. The same sequential one-id lookups (an unmanaged user:
/// an admin call, then a Confluence call) at zero upstream latency, through a
/// server that pools outbound connections (Spin's default) and one that opens a connection per
/// call (`[outbound_http] connection_pooling = false`, and devhost before pooling).
async fn connections(runtime: &env::Runtime, ctx: &Ctx<'_>, lookups: usize) -> Result<Value> {
    let ids: Vec<Vec<String>> = ctx
        .truth
        .users
        .iter()
        .filter(|u| !u.managed)
        .take(20)
        .map(|u| vec![u.account_id.clone()])
        .collect();
    ensure!(!ids.is_empty(), "no unmanaged user in the directory");
    let mut rows = Vec::new();
    for pooling in [true, false] {
        let tag = if pooling { "pooled" } else { "unpooled" };
        let server = runtime
            .serve(env::chain_vars(&ctx.fake, &[]), tag, pooling)
            .await?;
        env::wait_healthy(server.addr(), Duration::from_secs(10)).await?;
        let mut conn = Conn::new(server.addr());
        for id in ids.iter().take(3) {
            let r = conn
                .send(&Req::post_json("/", Some(KEY), lookup_body(id)))
                .await?;
            check_lookup(ctx.truth, id, false, &r)?;
        }
        ctx.fake.clear_requests();
        let accepted = ctx.fake.connections_accepted();
        let mut times = Vec::new();
        for i in 0..lookups {
            let id = &ids[i % ids.len()];
            let r = conn
                .send(&Req::post_json("/", Some(KEY), lookup_body(id)))
                .await?;
            check_lookup(ctx.truth, id, false, &r)?;
            times.push(r.elapsed);
        }
        let calls = ctx.fake.request_count(Endpoint::Any);
        let opened = ctx.fake.connections_accepted() - accepted;
        server.shutdown().await;
        let s = summarize(&times);
        rows.push(json!({
            "connection_pooling": pooling, "lookups": lookups, "upstream_calls": calls,
            "connections_opened": opened, "lookup": s.json(),
        }));
    }
    ctx.fake.clear_requests();
    let p50 = |row: &Value| f(&row["lookup"]["p50_ms"]);
    let calls_per_lookup = f(&rows[1]["upstream_calls"]) / lookups as f64;
    Ok(json!({
        "runs": rows,
        "saved_per_upstream_call_p50_ms": r3((p50(&rows[1]) - p50(&rows[0])) / calls_per_lookup),
    }))
}

/// Case 4a: host start (compile + serve) to the first 200, and the first real lookup.
async fn cold_start(wasm: &std::path::Path, fake: &FakeAtlassian, runs: usize) -> Result<Value> {
    let mut rows = Vec::new();
    let id = fake.directory().users[0].account_id.clone();
    for i in 0..runs {
        let t0 = Instant::now();
        let app = env::load_app(wasm)?;
        let loaded = t0.elapsed();
        let server = env::serve(&app, env::chain_vars(fake, &[]), &format!("cold-{i}")).await?;
        let serving = t0.elapsed();
        let mut conn = Conn::new(server.addr());
        let r = conn.send(&Req::get("/health")).await?;
        ensure!(r.status == 200, "first /health answered {}", r.status);
        let first = t0.elapsed();
        let r = conn
            .send(&Req::post_json(
                "/",
                Some(KEY),
                lookup_body(std::slice::from_ref(&id)),
            ))
            .await?;
        ensure!(r.status == 200, "first lookup answered {}", r.status);
        rows.push(json!({
            "compile_ms": r3(loaded.as_secs_f64() * 1e3),
            "serve_ms": r3((serving - loaded).as_secs_f64() * 1e3),
            "first_200_ms": r3(first.as_secs_f64() * 1e3),
            "first_request_ms": r3((first - serving).as_secs_f64() * 1e3),
            "first_lookup_ms": r3(r.elapsed.as_secs_f64() * 1e3),
        }));
        server.shutdown().await;
        drop(app);
    }
    let med = |k: &str| {
        let mut v: Vec<f64> = rows
            .iter()
            .map(|r| r[k].as_f64().unwrap_or(f64::NAN))
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    Ok(json!({
        "runs": rows.clone(),
        "median": {"compile_ms": med("compile_ms"), "serve_ms": med("serve_ms"),
                   "first_200_ms": med("first_200_ms"), "first_request_ms": med("first_request_ms"),
                   "first_lookup_ms": med("first_lookup_ms")},
    }))
}

/// The issue's targets, achieved or not (reported, never enforced).
fn targets(r: &Value) -> Value {
    let bulk = |n: u64, lat: u64| {
        r["bulk"].as_array().and_then(|rows| {
            rows.iter()
                .find(|x| x["ids"] == n && x["upstream_latency_ms"] == lat)
                .cloned()
        })
    };
    let naive = |n: u64, lat: u64| {
        r["naive"].as_array().and_then(|rows| {
            rows.iter()
                .find(|x| x["ids"] == n && x["upstream_latency_ms"] == lat)
                .cloned()
        })
    };
    let mut t = serde_json::Map::new();
    if let Some(b) = bulk(1000, 50) {
        let ratio = b["ratio_to_floor"].as_f64().unwrap_or(f64::NAN);
        t.insert(
            "bulk_1000_50ms_auto_le_1.10x_floor".into(),
            json!({"value": ratio, "met": ratio <= 1.10}),
        );
        if let Some(nv) = naive(1000, 50) {
            let x = nv["wall"]["p50_ms"].as_f64().unwrap_or(f64::NAN)
                / b["wall"]["p50_ms"].as_f64().unwrap_or(f64::NAN);
            t.insert(
                "naive_1000_50ms_ge_100x".into(),
                json!({"value": r3(x), "met": x >= 100.0}),
            );
        }
    }
    let rows = ["bulk", "bulk_admin_first"]
        .iter()
        .filter_map(|k| r[*k].as_array())
        .flatten();
    let all = rows.into_iter().all(|x| x["calls_are_minimum"] == true);
    t.insert("upstream_calls_minimum".into(), json!({"met": all}));
    if let Some(c1) = r["throughput"]["levels"].as_array().and_then(|l| l.first()) {
        let added = c1["added_p50_ms"].as_f64().unwrap_or(f64::NAN);
        t.insert(
            "added_latency_c1_le_1ms".into(),
            json!({"value": added, "met": added <= 1.0}),
        );
    }
    let mib = r["size"]["wasm_mib"].as_f64().unwrap_or(f64::NAN);
    t.insert(
        "wasm_le_1.5MiB".into(),
        json!({"value": mib, "met": mib <= 1.5}),
    );
    Value::Object(t)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn print_report(r: &Value) {
    println!(
        "\nidentity-accessor benchmarks ({} cpus, load at start {})",
        r["machine"]["cpus"], r["machine"]["loadavg_at_start"]
    );
    print_runtime(r, r);
    for (_, spin) in r["spin"].as_object().into_iter().flatten() {
        println!(
            "\n==== the same cases on {} (spin up on spin.toml, same component and fake) ====",
            spin["runtime"].as_str().unwrap_or("spin")
        );
        print_runtime(spin, r);
    }
    print_side_by_side(r);
    print_totals(r);
}

/// One runtime's figures side by side with the others' (`--spin`).
fn print_side_by_side(r: &Value) {
    let Some(spins) = r["spin"].as_object() else {
        return;
    };
    let bulk = |x: &Value, n: u64, lat: u64| -> Option<Value> {
        x["bulk"]
            .as_array()?
            .iter()
            .find(|b| b["ids"] == n && b["upstream_latency_ms"] == lat)
            .cloned()
    };
    println!("\nRuntimes side by side (one run, same component, same fake):");
    println!(
        "{:<12} {:>17} {:>8} {:>19} {:>17} {:>15}",
        "runtime",
        "1000 ids @50ms p50",
        "÷ floor",
        "one id, added p50",
        "/health p50",
        "instance+guest"
    );
    let row = |name: &str, x: &Value| {
        let (p50, ratio) = bulk(x, 1000, 50).map_or((f64::NAN, f64::NAN), |b| {
            (f(&b["wall"]["p50_ms"]), f(&b["ratio_to_floor"]))
        });
        let added = x["throughput"]["levels"]
            .as_array()
            .and_then(|l| l.first())
            .map_or(f64::NAN, |c1| f(&c1["added_p50_ms"]));
        println!(
            "{:<12} {:>14} ms {:>8.2} {:>16} ms {:>14} ms {:>12} ms",
            name,
            ms(p50),
            ratio,
            ms(added),
            ms(f(&x["instantiation"]["health"]["latency"]["p50_ms"])),
            ms(f(&x["instantiation"]["per_request_cost_p50_ms"]))
        );
    };
    row("devhost", r);
    for spin in spins.values() {
        row(spin["runtime"].as_str().unwrap_or("spin"), spin);
    }
}

/// The cases of one runtime: `r` is the top-level report (devhost) or one `spin` entry;
/// `top` holds the naive baseline.
fn print_runtime(r: &Value, top: &Value) {
    for (key, order) in [("bulk", "auto"), ("bulk_admin_first", "admin,confluence")] {
        let Some(rows) = r[key].as_array() else {
            continue;
        };
        println!("\n1+2. Bulk lookup, email_sources={order} (admin 10/call, Confluence 250/call, {CONCURRENCY} in flight; floor: fewest calls of the cheaper order)");
        println!(
            "{:>6} {:>7} {:>9} {:>9} {:>11} {:>9} {:>9} {:>9} {:>11} {:>9}",
            "ids",
            "latency",
            "p50 ms",
            "p95 ms",
            "calls(a+c)",
            "minimum",
            "floor ms",
            "÷ floor",
            "naive p50",
            "naive ÷"
        );
        for b in rows {
            let nv = top["naive"].as_array().and_then(|n| {
                n.iter().find(|x| {
                    x["ids"] == b["ids"] && x["upstream_latency_ms"] == b["upstream_latency_ms"]
                })
            });
            let naive_p50 = nv.map_or(f64::NAN, |x| f(&x["wall"]["p50_ms"]));
            println!(
                "{:>6} {:>5}ms {:>9} {:>9} {:>11} {:>9} {:>9} {:>9} {:>11} {:>9}",
                b["ids"].to_string(),
                b["upstream_latency_ms"].to_string(),
                ms(f(&b["wall"]["p50_ms"])),
                ms(f(&b["wall"]["p95_ms"])),
                format!(
                    "{}+{}",
                    b["upstream_calls"]["admin"], b["upstream_calls"]["confluence"]
                ),
                format!(
                    "{}{}",
                    b["min_calls"]["total"],
                    if b["calls_are_minimum"] == true {
                        " ok"
                    } else {
                        " NO"
                    }
                ),
                ms(f(&b["floor_ms"])),
                b["ratio_to_floor"]
                    .as_f64()
                    .map_or("-".into(), |x| format!("{x:.2}")),
                ms(naive_p50),
                if naive_p50.is_nan() {
                    "-".to_string()
                } else {
                    format!("{:.1}x", naive_p50 / f(&b["wall"]["p50_ms"]))
                }
            );
        }
    }
    if let Some(rows) = r["throughput"]["levels"].as_array() {
        println!(
            "\n3. Throughput, one-id requests, zero-latency fake ({} s each)",
            r["throughput"]["window_s"]
        );
        println!(
            "{:>5} {:>9} {:>8} {:>8} {:>10} {:>8} {:>8} {:>9} {:>8}",
            "conc",
            "req/s",
            "p50 ms",
            "p99 ms",
            "direct r/s",
            "p50 ms",
            "p99 ms",
            "added p50",
            "p50 ÷"
        );
        for x in rows {
            println!(
                "{:>5} {:>9.0} {:>8} {:>8} {:>10.0} {:>8} {:>8} {:>9} {:>8.2}",
                x["concurrency"].to_string(),
                f(&x["function"]["rps"]),
                ms(f(&x["function"]["latency"]["p50_ms"])),
                ms(f(&x["function"]["latency"]["p99_ms"])),
                f(&x["direct"]["rps"]),
                ms(f(&x["direct"]["latency"]["p50_ms"])),
                ms(f(&x["direct"]["latency"]["p99_ms"])),
                ms(f(&x["added_p50_ms"])),
                f(&x["p50_ratio"])
            );
        }
        if r["throughput"]["host_peak_rss_kb"].is_null() {
            println!("peak RSS during case 3 (whole process: host + fake + clients): {} MiB (RSS before {} MiB)",
                     r["throughput"]["peak_rss_kb"].as_u64().unwrap_or(0) / 1024,
                     r["throughput"]["rss_before_kb"].as_u64().unwrap_or(0) / 1024);
        } else {
            println!("peak RSS during case 3: host (Spin's processes) {} MiB (before {} MiB); this process (fake + clients) {} MiB",
                     r["throughput"]["host_peak_rss_kb"].as_u64().unwrap_or(0) / 1024,
                     r["throughput"]["host_rss_before_kb"].as_u64().unwrap_or(0) / 1024,
                     r["throughput"]["peak_rss_kb"].as_u64().unwrap_or(0) / 1024);
        }
    }
    let c = &r["cold_start"]["median"];
    if !c.is_null() {
        println!("\n4. Cold start (median): compile {} ms, serve {} ms, first 200 at {} ms, first lookup {} ms",
                 ms(f(&c["compile_ms"])), ms(f(&c["serve_ms"])), ms(f(&c["first_200_ms"])), ms(f(&c["first_lookup_ms"])));
    }
    let i = &r["instantiation"];
    if !i.is_null() {
        println!("   Per request, no upstream call (p50): /health {} ms, empty lookup {} ms, fake round trip {} ms → instance + guest ≈ {} ms",
                 ms(f(&i["health"]["latency"]["p50_ms"])), ms(f(&i["empty_lookup"]["latency"]["p50_ms"])),
                 ms(f(&i["fake_round_trip"]["latency"]["p50_ms"])), ms(f(&i["per_request_cost_p50_ms"])));
    }
    let k = &r["key_check"];
    if !k.is_null() {
        println!("   Checking api_key per request (empty lookup p50): one plain key {} ms, its sha256: form {} ms, 16 plain keys {} ms → estimate ≈ {} ms for one key, {} ms for 16",
                 ms(f(&k["configs"]["plain"]["latency"]["p50_ms"])), ms(f(&k["configs"]["sha256"]["latency"]["p50_ms"])),
                 ms(f(&k["configs"]["sixteen_plain"]["latency"]["p50_ms"])), ms(f(&k["plain_minus_sha256_p50_ms"])),
                 ms(f(&k["sixteen_plain_minus_sha256_p50_ms"])));
    }
    if let Some(rows) = r["connections"]["runs"].as_array() {
        println!(
            "   Upstream connections, sequential one-id lookups (admin + Confluence call each):"
        );
        for row in rows {
            println!(
                "   pooling {:<5} {} lookups, {} upstream calls, {} connections opened, lookup p50 {} ms p95 {} ms",
                row["connection_pooling"].to_string(),
                row["lookups"],
                row["upstream_calls"],
                row["connections_opened"],
                ms(f(&row["lookup"]["p50_ms"])),
                ms(f(&row["lookup"]["p95_ms"]))
            );
        }
        println!(
            "   → reusing a connection saves {} ms per upstream call (p50)",
            ms(f(&r["connections"]["saved_per_upstream_call_p50_ms"]))
        );
    }
}

/// Size and the targets: the same for every runtime.
fn print_totals(r: &Value) {
    println!(
        "\n5. Size: {} bytes ({:.3} MiB)",
        r["size"]["wasm_bytes"],
        f(&r["size"]["wasm_mib"])
    );
    if let Some(rows) = r["size"]["variants"].as_array() {
        for v in rows {
            println!(
                "   {:<12} {:>9} bytes  {}",
                v["name"].as_str().unwrap_or(""),
                v["bytes"],
                v["settings"].as_str().unwrap_or("")
            );
        }
    }
    println!("\nTargets:");
    if let Some(t) = r["targets"].as_object() {
        for (k, v) in t {
            println!(
                "   {:<32} {:<8} {}",
                k,
                if v["met"] == true { "met" } else { "NOT MET" },
                v.get("value").map_or(String::new(), |x| x.to_string())
            );
        }
    }
}
