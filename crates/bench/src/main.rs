//! `bench`: identity-accessor's benchmark tool and load generator.
//!
//! Everything runs in this process on 127.0.0.1: a fake Atlassian (`fake-atlassian`) with a
//! generated directory, and `devhost` serving the release build of the component with
//! both sources configured (`email_sources=auto`: Confluence basic auth first, then admin), and
//! for the bulk cases a second server with `email_sources=admin,confluence`.
//!
//! - `bench` — the suite: bulk lookup latency vs. the floor and vs. the naive one-call-per-id
//!   client, throughput and the function's added latency, cold start and per-request
//!   instantiation, size and peak RSS. Prints tables, writes `target/bench/results.json`.
//!   `--quick` runs a seconds-long subset (CI).
//! - `bench load --connections 64 --duration 60s` — a bounded load generator with mixed valid,
//!   invalid and unauthorized requests; every answer is checked; writes `target/bench/load.json`
//!   and exits non-zero on a wrong answer or an error.
//! - `bench parse-memory` — the peak heap of parsing a 2 MiB upstream page (the largest the
//!   component reads) and of reading and parsing each hostile 1 MiB request body, natively
//!   with a counting allocator, against the code each replaced; writes
//!   `target/bench/parse-memory.json`. The suite includes it.
//! - `bench memory-cap [--spin PATH]...` — the smallest instance memory cap at which every
//!   hostile request body, four at once, gets its documented answer, on devhost and on each real
//!   Spin given; writes `target/bench/memory-cap.json`.
//! - `bench sizes` — the `.wasm` size for each release-profile setting; writes
//!   `target/bench/sizes.json`, which the suite then includes.
//!
//! - `--spin PATH` (repeatable, with the suite, `load` or `memory-cap`): the same runtime-dependent cases
//!   run on real Spin as well (`spin up` on spin.toml, serving spin.toml's own component, which
//!   devhost then serves too), and a table puts the runtimes side by side.
//!
//! Benchmarks report; they never fail on a slow machine.

mod client;
mod env;
mod hostile;
mod load;
mod memory_cap;
mod parse_memory;
mod sizes;
mod stats;
mod suite;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};

/// Counts heap bytes only while `parse-memory` measures.
#[global_allocator]
static ALLOCATOR: parse_memory::Counting = parse_memory::Counting;

#[derive(Parser, Debug)]
#[command(
    name = "bench",
    about = "Benchmarks and load for identity-accessor (devhost, or real Spin with --spin, + fake-atlassian)"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// A seconds-long subset: ids 1/10/100, 2 runs, short throughput windows.
    #[arg(long)]
    quick: bool,
    /// Runs per case (the naive 1,000-id case at 50 ms always runs once).
    #[arg(long)]
    runs: Option<usize>,
    /// Seconds per throughput measurement.
    #[arg(long)]
    window: Option<f64>,
    /// Only these cases: bulk, naive, throughput, instantiation, key-check, cold, connections,
    /// parse-memory
    /// (repeatable).
    #[arg(long)]
    only: Vec<String>,
    /// The component to serve (default: IDENTITY_ACCESSOR_WASM, else built into target/bench-wasm;
    /// with --spin: spin.toml's source, built by `spin build`).
    #[arg(long, global = true)]
    wasm: Option<PathBuf>,
    /// A real `spin` binary (repeatable): the runtime-dependent cases, and the load, run on it
    /// too, after devhost (`spin up` on spin.toml; HOME must be set).
    #[arg(long = "spin", value_name = "PATH", global = true)]
    spins: Vec<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Bounded mixed load against devhost (and each --spin) + fake-atlassian; checks every answer.
    Load {
        /// Concurrent keep-alive connections (repeatable: one run per count and runtime).
        #[arg(long, default_values_t = [64])]
        connections: Vec<usize>,
        /// How long to send (e.g. 60s, 5s, 500ms, 2m).
        #[arg(long, default_value = "60s", value_parser = parse_duration)]
        duration: Duration,
        /// Latency the fake adds to every upstream call, in ms.
        #[arg(long, default_value_t = 0)]
        upstream_latency_ms: u64,
    },
    /// Builds the component with each release-profile variant and records the sizes.
    Sizes,
    /// Peak heap of parsing a 2 MiB upstream page and each hostile 1 MiB request body, now vs.
    /// the code each replaced.
    ParseMemory,
    /// The smallest `--max-instance-memory` at which every hostile request body gets its
    /// documented answer, four at once, on devhost and on each `--spin` binary.
    MemoryCap,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = match s.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num.parse().map_err(|_| format!("bad duration {s:?}"))?;
    let secs = match unit {
        "ms" => n / 1e3,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("bad duration unit in {s:?} (ms, s, m)")),
    };
    if !(secs > 0.0 && secs <= 3600.0) {
        return Err(format!("duration {s:?} out of range (0, 1h]"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Sizes) => tokio::task::spawn_blocking(sizes::run).await?,
        Some(Command::ParseMemory) => parse_memory::run(),
        Some(Command::MemoryCap) => {
            memory_cap::run(memory_cap::Opts {
                wasm: cli.wasm,
                spins: cli.spins,
            })
            .await
        }
        Some(Command::Load {
            connections,
            duration,
            upstream_latency_ms,
        }) => {
            if connections.contains(&0) {
                bail!("--connections must be at least 1");
            }
            load::run(load::Opts {
                connections,
                duration,
                upstream_latency_ms,
                wasm: cli.wasm,
                spins: cli.spins,
            })
            .await
        }
        None => {
            let quick = cli.quick;
            suite::run(suite::Opts {
                quick,
                runs: cli.runs.unwrap_or(if quick { 2 } else { 5 }).max(1),
                window: cli.window.unwrap_or(if quick { 0.3 } else { 5.0 }),
                only: cli.only,
                wasm: cli.wasm,
                spins: cli.spins,
            })
            .await
        }
    }
}
