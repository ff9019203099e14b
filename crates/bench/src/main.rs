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
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    window: Option<f64>,
    /// Only this case (repeatable; default: every case).
    #[arg(long, value_enum, value_name = "CASE")]
    only: Vec<suite::Case>,
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
        /// How long to send, up to an hour (e.g. 60s, 5s, 500ms, 2m, 1m30s).
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

/// The longest `--duration`.
const MAX_DURATION: Duration = Duration::from_secs(3600);

/// `--duration`: humantime's duration syntax (`60s`, `500ms`, `2m`, `1m30s`), more than zero
/// and at most an hour.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| e.to_string())?;
    if d.is_zero() || d > MAX_DURATION {
        return Err("out of range: more than 0, at most 1h".into());
    }
    Ok(d)
}

/// `--window`: a number of seconds, more than zero (`0.3`, `5`).
fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= MAX_DURATION.as_secs_f64() => Ok(secs),
        Ok(_) => Err("out of range: more than 0, at most 3600".into()),
        Err(e) => Err(format!("{e}: a number of seconds, e.g. 0.3 or 5")),
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, ValueEnum};

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn only_takes_the_case_names_and_refuses_a_typo() -> Result<()> {
        let cli = Cli::try_parse_from(["bench", "--only", "key-check", "--only", "parse-memory"])?;
        assert_eq!(cli.only, [suite::Case::KeyCheck, suite::Case::ParseMemory]);
        let names: Vec<String> = suite::Case::value_variants()
            .iter()
            .filter_map(|c| Some(c.to_possible_value()?.get_name().to_owned()))
            .collect();
        assert_eq!(
            names,
            [
                "bulk",
                "naive",
                "throughput",
                "instantiation",
                "key-check",
                "cold",
                "connections",
                "parse-memory"
            ]
        );
        let err = Cli::try_parse_from(["bench", "--only", "throughtput"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        Ok(())
    }

    #[test]
    fn durations_read_like_the_docs() -> Result<()> {
        for (text, secs) in [("60s", 60.0), ("5s", 5.0), ("1m", 60.0), ("500ms", 0.5)] {
            let cli = Cli::try_parse_from(["bench", "load", "--duration", text])?;
            let Some(Command::Load { duration, .. }) = cli.command else {
                bail!("not the load command");
            };
            assert_eq!(duration.as_secs_f64(), secs, "{text}");
        }
        for bad in ["0s", "2h", "5", "five seconds", "-1s"] {
            assert!(
                Cli::try_parse_from(["bench", "load", "--duration", bad]).is_err(),
                "{bad}"
            );
        }
        let cli = Cli::try_parse_from(["bench", "--quick", "--window", "0.3"])?;
        assert_eq!(cli.window, Some(0.3));
        for bad in ["0", "-1", "NaN", "3s"] {
            assert!(
                Cli::try_parse_from(["bench", "--window", bad]).is_err(),
                "{bad}"
            );
        }
        Ok(())
    }
}
