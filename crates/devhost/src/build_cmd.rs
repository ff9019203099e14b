//! `devhost build`: runs each component's `[component.NAME.build] command`, as `spin build`.
//!
//! Each command runs with `sh -c` in the manifest directory (or the build's `workdir` under
//! it), with the host's stdout/stderr so its output streams as it runs. The first command
//! that fails (non-zero exit, or killed) stops the build with an error naming the component.
//! Before a command runs, the Rust targets it names are installed if missing
//! ([`crate::toolchain`]).

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

use crate::manifest::Manifest;
use crate::toolchain::{self, Installed};

/// Runs every component's build command; fails on the first non-zero exit.
pub fn build(manifest: &Path) -> anyhow::Result<()> {
    let manifest = Manifest::load(manifest)?;
    let mut built = 0;
    for component in manifest.components.values() {
        let Some(build) = &component.build else {
            println!("{}: no build command, nothing to build", component.id);
            continue;
        };
        for command in &build.commands {
            toolchain::ensure_targets(
                &toolchain::targets_named(command),
                &Installed {
                    dir: &build.workdir,
                },
                &mut std::io::stdout(),
            )?;
            println!("Building component {} with `{command}`", component.id);
            let status = Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(&build.workdir)
                .status()
                .with_context(|| {
                    format!(
                        "failed to run the build command for component {:?} in {}",
                        component.id,
                        build.workdir.display()
                    )
                })?;
            if !status.success() {
                bail!(
                    "build command for component {:?} failed with {status}",
                    component.id
                );
            }
        }
        built += 1;
    }
    if built > 0 {
        println!("Finished building all Spin components");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_with(dir: &Path, command: &str) -> anyhow::Result<std::path::PathBuf> {
        let path = dir.join("spin.toml");
        std::fs::write(
            &path,
            format!(
                r#"spin_manifest_version = 2
[application]
name = "t"
[[trigger.http]]
route = "/..."
component = "c"
[component.c]
source = "c.wasm"
[component.c.build]
command = {command:?}
"#
            ),
        )?;
        Ok(path)
    }

    #[test]
    fn runs_in_the_manifest_dir() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = manifest_with(dir.path(), "touch built.txt")?;
        build(&path)?;
        assert!(dir.path().join("built.txt").exists());
        Ok(())
    }

    #[test]
    fn fails_on_non_zero_exit() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = manifest_with(dir.path(), "exit 3")?;
        let err = build(&path).unwrap_err();
        assert!(err.to_string().contains("\"c\" failed"), "{err}");
        Ok(())
    }
}
