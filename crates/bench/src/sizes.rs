//! `bench sizes`: the release `.wasm` size for each release-profile setting, each variant built
//! into its own `target/size-NAME` with `--config profile.release.*` overrides (the project's
//! release profile is `opt-level = "s"`, `lto = true`, `codegen-units = 1`, `strip = true`,
//! `panic = "abort"`; each variant changes one or two of them).

use std::process::Command;
use std::time::Instant;

use anyhow::Result;
use serde_json::{json, Value};

use crate::env;

/// Name and `--config` overrides of each variant.
const VARIANTS: &[(&str, &[&str])] = &[
    ("default", &[]),
    ("opt3", &["profile.release.opt-level=3"]),
    ("opt2", &["profile.release.opt-level=2"]),
    ("optz", &["profile.release.opt-level=\"z\""]),
    ("nolto", &["profile.release.lto=false"]),
    ("thinlto", &["profile.release.lto=\"thin\""]),
    ("cgu16", &["profile.release.codegen-units=16"]),
    ("nostrip", &["profile.release.strip=false"]),
    ("unwind", &["profile.release.panic=\"unwind\""]),
    (
        "optz-cgu16",
        &[
            "profile.release.opt-level=\"z\"",
            "profile.release.codegen-units=16",
        ],
    ),
];

/// Builds every variant (sequentially; cached builds are quick) and writes
/// `target/bench/sizes.json`.
pub fn run() -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut rows = Vec::new();
    for (name, overrides) in VARIANTS {
        let target_dir = env::root().join(format!("target/size-{name}"));
        let mut cmd = Command::new(&cargo);
        cmd.args([
            "build",
            "-q",
            "--target",
            "wasm32-wasip2",
            "--release",
            "--target-dir",
        ])
        .arg(&target_dir)
        .current_dir(env::root());
        for o in *overrides {
            cmd.args(["--config", o]);
        }
        eprintln!("bench sizes: building {name} {overrides:?}");
        let start = Instant::now();
        let ok = cmd.status()?.success();
        let wasm = target_dir.join("wasm32-wasip2/release/identity_accessor.wasm");
        let bytes = if ok {
            std::fs::metadata(&wasm).map(|m| m.len()).ok()
        } else {
            None
        };
        let row = json!({
            "name": name,
            "settings": if overrides.is_empty() { "release profile as committed".to_string() } else { overrides.join(" ") },
            "bytes": bytes,
            "build_s": start.elapsed().as_secs(),
        });
        println!(
            "{:<12} {:>9} bytes  {}",
            name,
            bytes.map_or("FAILED".into(), |b| b.to_string()),
            row["settings"].as_str().unwrap_or("")
        );
        rows.push(row);
    }
    let path = env::out_dir()?.join("sizes.json");
    std::fs::write(&path, serde_json::to_string_pretty(&rows)? + "\n")?;
    println!("wrote {}", path.display());
    Ok(())
}

/// The table written by the last `bench sizes`, if any.
pub fn read_table() -> Option<Value> {
    let path = env::out_dir().ok()?.join("sizes.json");
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}
