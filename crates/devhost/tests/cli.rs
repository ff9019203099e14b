//! The `devhost` binary as a user runs it: a missing Rust target is added with rustup or named
//! in one sentence, and errors print as one line without a stack backtrace, even with
//! `RUST_BACKTRACE=1`.
//!
//! The toolchain is faked on the `PATH`: a `rustc` that prints a libdir of the test's own, and
//! optionally a `rustup` that records its arguments and "installs" the target into that libdir.
//! The machine's real toolchain is never changed.

use std::path::Path;
use std::process::{Command, Output};

/// A scratch directory with a manifest whose build command names `--target wasm32-wasip2`,
/// a fake toolchain in `bin/`, and an empty libdir; removed when dropped.
struct Scratch {
    tmp: tempfile::TempDir,
}

impl Scratch {
    fn new(name: &str, with_rustup: bool) -> anyhow::Result<Scratch> {
        let tmp = tempfile::Builder::new()
            .prefix(&format!("devhost-cli-{name}-"))
            .tempdir()?;
        let dir = tmp.path();
        std::fs::create_dir_all(dir.join("bin"))?;
        std::fs::create_dir_all(dir.join("libdir"))?;
        std::fs::write(
            dir.join("spin.toml"),
            r#"spin_manifest_version = 2
[application]
name = "t"
[[trigger.http]]
route = "/..."
component = "c"
[component.c]
source = "c.wasm"
[component.c.build]
command = "echo compiled --target wasm32-wasip2 > built.txt"
"#,
        )?;
        let libdir = dir.join("libdir");
        script(
            &dir.join("bin/rustc"),
            &format!("echo '{}'", libdir.display()),
        )?;
        if with_rustup {
            script(
                &dir.join("bin/rustup"),
                &format!(
                    "echo \"$@\" >> '{log}'\n\
                     if [ \"$1 $2 $3\" = 'target add wasm32-wasip2' ]; then \
                     echo 'info: downloading component' >&2; touch '{lib}/libcore-0.rlib'; fi",
                    log = dir.join("rustup.log").display(),
                    lib = libdir.display()
                ),
            )?;
        }
        Ok(Scratch { tmp })
    }

    /// The directory.
    fn dir(&self) -> &Path {
        self.tmp.path()
    }

    /// `devhost build` here, with only the fake toolchain and the system tools on the PATH.
    fn build(&self) -> anyhow::Result<Output> {
        Ok(Command::new(env!("CARGO_BIN_EXE_devhost"))
            .args(["build", "-f"])
            .arg(self.dir().join("spin.toml"))
            .env(
                "PATH",
                format!("{}:/usr/bin:/bin", self.dir().join("bin").display()),
            )
            .env_remove("RUSTC")
            .env("RUST_BACKTRACE", "1")
            .env("RUST_LIB_BACKTRACE", "1")
            .output()?)
    }
}

fn script(path: &Path, body: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn missing_target_is_added_with_rustup_then_built() -> anyhow::Result<()> {
    let scratch = Scratch::new("rustup", true)?;
    let out = scratch.build()?;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert_eq!(
        std::fs::read_to_string(scratch.dir().join("rustup.log"))?
            .lines()
            .filter(|l| l.starts_with("target add"))
            .collect::<Vec<_>>(),
        ["target add wasm32-wasip2"]
    );
    let notices: Vec<&str> = stdout.lines().filter(|l| l.contains("rustup")).collect();
    assert_eq!(
        notices,
        ["The Rust target wasm32-wasip2 is not installed: adding it with `rustup target add wasm32-wasip2`"]
    );
    // rustup's own chatter stays out of the way unless it fails.
    assert!(
        !text(&out.stderr).contains("downloading"),
        "{}",
        text(&out.stderr)
    );
    assert!(scratch.dir().join("built.txt").exists());
    Ok(())
}

#[test]
fn installed_target_builds_without_rustup() -> anyhow::Result<()> {
    let scratch = Scratch::new("installed", false)?;
    std::fs::write(scratch.dir().join("libdir/libcore-0.rlib"), "")?;
    let out = scratch.build()?;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(scratch.dir().join("built.txt").exists());
    Ok(())
}

#[test]
fn missing_target_without_rustup_is_one_sentence_and_no_backtrace() -> anyhow::Result<()> {
    let scratch = Scratch::new("norustup", false)?;
    let out = scratch.build()?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("Error: the Rust target wasm32-wasip2 is not installed"),
        "{stderr}"
    );
    assert!(
        stderr.contains("`rustup target add wasm32-wasip2`"),
        "{stderr}"
    );
    assert!(!stderr.to_lowercase().contains("backtrace"), "{stderr}");
    assert!(!scratch.dir().join("built.txt").exists(), "built anyway");
    Ok(())
}

#[test]
fn a_failing_build_is_one_line_without_a_backtrace() -> anyhow::Result<()> {
    let scratch = Scratch::new("fails", false)?;
    std::fs::write(scratch.dir().join("libdir/libcore-0.rlib"), "")?;
    let manifest = std::fs::read_to_string(scratch.dir().join("spin.toml"))?
        .replace("> built.txt", "; exit 101");
    std::fs::write(scratch.dir().join("spin.toml"), manifest)?;
    let out = scratch.build()?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert_eq!(
        stderr.trim_end(),
        "Error: build command for component \"c\" failed with exit status: 101"
    );
    Ok(())
}
