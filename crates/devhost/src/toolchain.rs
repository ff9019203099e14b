//! The Rust targets a build command needs, installed before it runs.
//!
//! Older rustup installs the targets of a `rust-toolchain.toml` only when it installs the
//! toolchain itself (rustup 1.29 adds them on the next proxied call, with a few `info:` lines),
//! and Rust installed without rustup never does: on a machine whose stable Rust predates the
//! project, `cargo build --target wasm32-wasip2` then fails after building everything else with
//! "can't find crate for `core`". Before a build command runs, `devhost build` reads the targets it
//! names (`--target T` or `--target=T`) and, for each one missing from the toolchain that
//! command will use (the sysroot of `rustc` run in the command's directory, so
//! `rust-toolchain.toml` applies):
//!
//! - with `rustup` on the `PATH`: says so in one line and runs `rustup target add T`;
//! - without it: stops before building, with one sentence naming the fix.
//!
//! When the toolchain cannot be asked (no `rustc` on the `PATH`), the command runs and
//! reports for itself.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context};

/// The outside world the check needs, as facts a test can inject.
pub(crate) trait Toolchain {
    /// Whether the standard library for `target` is installed; `None` if the toolchain
    /// cannot be asked.
    fn target_installed(&self, target: &str) -> Option<bool>;
    /// Whether `rustup` can be run.
    fn rustup_available(&self) -> bool;
    /// Runs `rustup target add <target>`.
    fn add_target(&self, target: &str) -> anyhow::Result<()>;
}

/// What to do about one target a build command names.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Installed, or the toolchain cannot be asked: run the command.
    Build,
    /// Missing, and rustup is there: add the target first.
    AddWithRustup,
    /// Missing, and nothing here can add it: stop and say how to.
    Stop,
}

/// The decision for one target from the two facts that matter.
pub(crate) fn decide(installed: Option<bool>, rustup_available: bool) -> Decision {
    match (installed, rustup_available) {
        (Some(false), true) => Decision::AddWithRustup,
        (Some(false), false) => Decision::Stop,
        (Some(true) | None, _) => Decision::Build,
    }
}

/// The targets a shell command names with `--target T` or `--target=T` (custom target
/// files, `*.json`, are left alone).
pub(crate) fn targets_named(command: &str) -> BTreeSet<String> {
    let mut targets = BTreeSet::new();
    let mut words = command.split_whitespace();
    while let Some(word) = words.next() {
        let target = match word.strip_prefix("--target=") {
            Some(target) => Some(target),
            None if word == "--target" => words.next(),
            None => None,
        };
        if let Some(target) = target.map(|t| t.trim_matches(|c| c == '"' || c == '\'')) {
            if !target.is_empty() && !target.ends_with(".json") {
                targets.insert(target.to_string());
            }
        }
    }
    targets
}

/// The sentence `devhost build` stops with when `target` is missing and rustup is not here.
fn missing_target_message(target: &str) -> String {
    format!(
        "the Rust target {target} is not installed and rustup is not on the PATH to add it: \
         run `rustup target add {target}` (rustup: https://rustup.rs), or install {target} \
         with the package manager that installed Rust, then run this command again"
    )
}

/// Makes sure every target in `targets` is installed, adding missing ones with rustup; the
/// one-line notices go to `out`.
pub(crate) fn ensure_targets(
    targets: &BTreeSet<String>,
    toolchain: &dyn Toolchain,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    for target in targets {
        match decide(
            toolchain.target_installed(target),
            toolchain.rustup_available(),
        ) {
            Decision::Build => {}
            Decision::Stop => bail!(missing_target_message(target)),
            Decision::AddWithRustup => {
                writeln!(
                    out,
                    "The Rust target {target} is not installed: adding it with \
                     `rustup target add {target}`"
                )?;
                toolchain.add_target(target)?;
                if toolchain.target_installed(target) == Some(false) {
                    bail!(
                        "`rustup target add {target}` succeeded but the Rust on the PATH still \
                         lacks {target} (is it a toolchain rustup does not manage?): install \
                         {target} for that Rust, then run this command again"
                    );
                }
            }
        }
    }
    Ok(())
}

/// Makes sure the Rust toolchain used in `dir` has `target`, adding it with rustup if missing
/// (one line on stdout says so); without rustup, fails with one sentence naming the fix.
pub fn ensure_target(dir: &Path, target: &str) -> anyhow::Result<()> {
    ensure_targets(
        &BTreeSet::from([target.to_string()]),
        &Installed { dir },
        &mut std::io::stdout(),
    )
}

/// The real toolchain, asked from the directory a build command runs in.
pub(crate) struct Installed<'a> {
    /// Where the build command runs: `rust-toolchain.toml` there picks the toolchain.
    pub dir: &'a Path,
}

impl Toolchain for Installed<'_> {
    fn target_installed(&self, target: &str) -> Option<bool> {
        let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
        let output = Command::new(rustc)
            .args(["--print", "target-libdir", "--target", target])
            .current_dir(self.dir)
            // Asking must not install: a rustup 1.29 proxy otherwise adds the targets of
            // `rust-toolchain.toml` silently, with nothing of ours on screen.
            .env("RUSTUP_AUTO_INSTALL", "0")
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        if !output.status.success() {
            return None;
        }
        let libdir = String::from_utf8(output.stdout).ok()?;
        let entries = std::fs::read_dir(libdir.trim()).ok();
        let has_core = entries.into_iter().flatten().flatten().any(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name.starts_with("libcore-") && name.ends_with(".rlib")
        });
        Some(has_core)
    }

    fn rustup_available(&self) -> bool {
        Command::new("rustup")
            .arg("--version")
            .current_dir(self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    }

    fn add_target(&self, target: &str) -> anyhow::Result<()> {
        let output = Command::new("rustup")
            .args(["target", "add", target])
            .current_dir(self.dir)
            .stdin(Stdio::null())
            .output()
            .context("failed to run rustup")?;
        if !output.status.success() {
            bail!(
                "`rustup target add {target}` failed ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    /// Injected facts; `add_target` installs the target when `add_works`.
    struct Facts {
        installed: Cell<Option<bool>>,
        rustup: bool,
        add_works: bool,
        added: RefCell<Vec<String>>,
    }

    impl Facts {
        fn new(installed: Option<bool>, rustup: bool) -> Facts {
            Facts {
                installed: Cell::new(installed),
                rustup,
                add_works: true,
                added: RefCell::new(Vec::new()),
            }
        }
    }

    impl Toolchain for Facts {
        fn target_installed(&self, _target: &str) -> Option<bool> {
            self.installed.get()
        }
        fn rustup_available(&self) -> bool {
            self.rustup
        }
        fn add_target(&self, target: &str) -> anyhow::Result<()> {
            self.added.borrow_mut().push(target.to_string());
            if self.add_works {
                self.installed.set(Some(true));
            }
            Ok(())
        }
    }

    fn wasm() -> BTreeSet<String> {
        targets_named("cargo build --target wasm32-wasip2 --release")
    }

    #[test]
    fn decides_from_the_two_facts() {
        assert_eq!(decide(Some(true), true), Decision::Build);
        assert_eq!(decide(Some(true), false), Decision::Build);
        assert_eq!(decide(Some(false), true), Decision::AddWithRustup);
        assert_eq!(decide(Some(false), false), Decision::Stop);
        assert_eq!(decide(None, true), Decision::Build);
        assert_eq!(decide(None, false), Decision::Build);
    }

    #[test]
    fn reads_the_targets_a_command_names() {
        assert_eq!(wasm(), BTreeSet::from(["wasm32-wasip2".to_string()]));
        assert_eq!(
            targets_named("cargo build --release --target=wasm32-wasip1 && cargo build --target 'x86_64-unknown-linux-gnu'"),
            BTreeSet::from(["wasm32-wasip1".to_string(), "x86_64-unknown-linux-gnu".to_string()])
        );
        assert!(targets_named("cargo build --release").is_empty());
        assert!(targets_named("cargo build --target").is_empty());
        assert!(targets_named("cargo build --target my-target.json").is_empty());
    }

    #[test]
    fn installed_target_builds_silently() -> anyhow::Result<()> {
        let facts = Facts::new(Some(true), true);
        let mut out = Vec::new();
        ensure_targets(&wasm(), &facts, &mut out)?;
        assert!(out.is_empty());
        assert!(facts.added.borrow().is_empty());
        Ok(())
    }

    #[test]
    fn missing_target_is_added_with_rustup_in_one_line() -> anyhow::Result<()> {
        let facts = Facts::new(Some(false), true);
        let mut out = Vec::new();
        ensure_targets(&wasm(), &facts, &mut out)?;
        assert_eq!(*facts.added.borrow(), ["wasm32-wasip2"]);
        let out = String::from_utf8(out)?;
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.contains("rustup target add wasm32-wasip2"), "{out}");
        Ok(())
    }

    #[test]
    fn missing_target_without_rustup_stops_with_one_sentence() {
        let facts = Facts::new(Some(false), false);
        let mut out = Vec::new();
        let err = ensure_targets(&wasm(), &facts, &mut out).unwrap_err();
        let text = format!("{err:#}");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.contains("wasm32-wasip2 is not installed"), "{text}");
        assert!(text.contains("`rustup target add wasm32-wasip2`"), "{text}");
        assert_eq!(text.matches(". ").count(), 0, "one sentence: {text}");
        assert!(facts.added.borrow().is_empty());
        assert!(out.is_empty());
    }

    #[test]
    fn unknown_toolchain_lets_the_command_run() -> anyhow::Result<()> {
        let facts = Facts::new(None, false);
        ensure_targets(&wasm(), &facts, &mut Vec::new())?;
        assert!(facts.added.borrow().is_empty());
        Ok(())
    }

    #[test]
    fn rustup_that_does_not_install_for_this_rust_stops() {
        let mut facts = Facts::new(Some(false), true);
        facts.add_works = false;
        let err = ensure_targets(&wasm(), &facts, &mut Vec::new()).unwrap_err();
        assert!(
            format!("{err:#}").contains("still lacks wasm32-wasip2"),
            "{err:#}"
        );
    }

    #[test]
    fn the_real_toolchain_has_the_projects_target() {
        // The end-to-end tests build the component, so this toolchain has wasm32-wasip2: the
        // check must find its standard library where rustup puts it.
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let real = Installed { dir };
        assert_eq!(real.target_installed("wasm32-wasip2"), Some(true));
    }
}
