//! Which runtime serves the component in this run, chosen by the environment:
//!
//! - `SPIN_BIN` unset or empty: **devhost** (in this process, on wasmtime);
//! - `SPIN_BIN=/path/to/spin`: **real Spin**, one `spin up` per test server on the project's own
//!   `spin.toml` ([`devhost::real_spin`]).
//!
//! On Spin the component under test is the manifest's `source`
//! (`target/wasm32-wasip2/release/identity_accessor.wasm`): the harness runs `spin build` once
//! to bring it up to date, unless `IDENTITY_ACCESSOR_WASM` is set, which must then name that
//! same file (a run stops with a sentence saying so otherwise).
//!
//! A test that cannot run on the current runtime says why and returns early: [`devhost_only`],
//! [`spin_only`], [`runtime_independent`]. libtest has no dynamic skip, so such a test counts as
//! passed; it also writes one line starting with [`SKIP_MARKER`] to stderr (past libtest's
//! capture), which `.ci/run` counts as skipped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result};
use devhost::real_spin::Spin;

/// The start of the line a skipped test prints, once, to stderr.
pub const SKIP_MARKER: &str = "e2e-skip";

/// The runtime of this run.
#[derive(Debug)]
pub enum Runtime {
    /// devhost, in this process.
    Devhost,
    /// Real Spin, `spin up` per server.
    Spin(Spin),
}

impl Runtime {
    /// `devhost` or `spin 3.6.3`.
    pub fn name(&self) -> String {
        match self {
            Runtime::Devhost => "devhost".into(),
            Runtime::Spin(spin) => format!("spin {}", spin.version()),
        }
    }

    /// Whether this run serves the component with real Spin.
    pub fn is_spin(&self) -> bool {
        matches!(self, Runtime::Spin(_))
    }
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The runtime of this run, from `SPIN_BIN` (checked, and the component made ready, once).
pub fn runtime() -> &'static Runtime {
    RUNTIME.get_or_init(|| match std::env::var_os("SPIN_BIN") {
        Some(bin) if !bin.is_empty() => {
            let spin = prepare_spin(PathBuf::from(bin))
                .unwrap_or_else(|e| panic!("SPIN_BIN: cannot run the suite on real Spin: {e:#}"));
            eprintln!(
                "e2e: serving the component with real Spin {} ({})",
                spin.version(),
                spin.bin().display()
            );
            Runtime::Spin(spin)
        }
        _ => Runtime::Devhost,
    })
}

/// Checks the binary and makes sure spin.toml's `source` is the component under test
/// (`IDENTITY_ACCESSOR_WASM`, if set, must name it; else `spin build` runs once).
fn prepare_spin(bin: PathBuf) -> Result<Spin> {
    let spin = Spin::locate(&bin)?;
    let wanted = std::env::var_os("IDENTITY_ACCESSOR_WASM").map(PathBuf::from);
    spin.component(&root().join("spin.toml"), wanted.as_deref())
        .context(
            "IDENTITY_ACCESSOR_WASM: unset it (the suite then runs `spin build`) or name that file",
        )?;
    Ok(spin)
}

/// The running test's name, as libtest names its thread.
fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("(unnamed test)")
        .to_string()
}

/// Writes the skip line: `e2e-skip [RUNTIME] TEST: REASON`.
fn skip(reason: &str) {
    let line = format!(
        "{SKIP_MARKER} [{}] {}: {reason}\n",
        runtime().name(),
        test_name()
    );
    // Straight to the stderr handle: libtest captures print!/eprint!, not this.
    let _ = std::io::stderr().write_all(line.as_bytes());
}

/// For a test that needs a devhost-only tool: on Spin it prints the skip line with `reason`
/// and returns `true` (the caller returns at once).
pub fn devhost_only(reason: &str) -> bool {
    if runtime().is_spin() {
        skip(reason);
        return true;
    }
    false
}

/// For a test that needs real Spin (e.g. one of its runtime-config providers): on devhost it prints the skip line with `reason` and
/// returns `true` (the caller returns at once).
pub fn spin_only(reason: &str) -> bool {
    if runtime().is_spin() {
        return false;
    }
    skip(reason);
    true
}

/// For a test that serves no component (a static check of files, or of the fake alone): its
/// result is the same on every runtime, so it runs in the devhost run only; on Spin it prints
/// the skip line and returns `true`.
pub fn runtime_independent() -> bool {
    devhost_only("serves no component (runtime-independent): it runs in the devhost run")
}
