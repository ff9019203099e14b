//! Real Spin as a child process, for the end-to-end suite and the benchmarks: the same
//! compiled component, served by the runtime users deploy instead of by devhost.
//!
//! [`Spin::locate`] checks a `spin` binary (it runs `spin --version`; Spin keeps plugins and
//! caches under `$HOME`, so `HOME` must be set). [`Spin::up`] runs
//! `spin up -f MANIFEST --listen 127.0.0.1:0 --log-dir DIR --temp DIR [--runtime-config-file F]
//! --variable NAME=VALUE...` with a clean environment (`HOME`, `PATH` and the given variables
//! only, so a `SPIN_VARIABLE_*` of the caller's shell never leaks in), and reads the bound
//! address from Spin's `Serving http://ADDR` line (Spin binds port 0 and prints the port it got).
//! Spin writes component output to `DIR/<component>_stdout.txt` / `_stderr.txt`, the names
//! devhost uses; its own stdout and stderr (which also echo component output) go to
//! `DIR/spin-up.log`, so a log audit of `DIR` reads what Spin itself printed too.
//!
//! `spin up` runs the HTTP trigger as a child process (`spin trigger http`). On a stop the
//! trigger is killed first and `spin up` then exits by itself; Spin's own Ctrl-C path (SIGTERM
//! to the trigger, which then drains for about a second) is not taken, so a stop takes
//! milliseconds. If the process that started Spin dies, `spin up` gets SIGTERM (Linux
//! `PR_SET_PDEATHSIG`) and stops its trigger, so an interrupted test run leaves no server behind.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};

/// How long [`Spin::up`] waits for the `Serving` line (the first start of a Spin version
/// compiles the component; later starts hit Spin's compilation cache).
const START_LIMIT: Duration = Duration::from_secs(120);

/// How long a stop waits for `spin up` to exit once its trigger is gone, before killing it.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// The file in the log directory that receives Spin's own stdout and stderr.
pub const SPIN_OUTPUT_FILE: &str = "spin-up.log";

/// A `spin` binary that runs.
#[derive(Debug, Clone)]
pub struct Spin {
    bin: PathBuf,
    version: String,
}

/// Options for one [`Spin::up`].
#[derive(Debug, Clone, Default)]
pub struct SpinUpOptions {
    /// `--variable NAME=VALUE` pairs (highest priority; `@path` reads a file, as in Spin).
    pub variables: Vec<(String, String)>,
    /// Environment for Spin beyond `HOME` and `PATH`: `SPIN_VARIABLE_*`,
    /// `SPIN_MAX_INSTANCE_MEMORY`, ...
    pub env: HashMap<String, String>,
    /// The text of a runtime-config file (`--runtime-config-file`), written into `work_dir`.
    pub runtime_config: Option<String>,
    /// `--log-dir`: component stdout/stderr, and Spin's own output ([`SPIN_OUTPUT_FILE`]).
    pub log_dir: PathBuf,
    /// Spin's working directory (`--temp`) and the runtime-config file; removed on stop.
    pub work_dir: PathBuf,
    /// Where to listen; default `127.0.0.1:0` (a free port, read back from Spin's output).
    pub listen: Option<SocketAddr>,
}

/// A running `spin up`. Stopped by [`SpinServer::shutdown`] or on drop.
#[derive(Debug)]
pub struct SpinServer {
    child: Child,
    triggers: Vec<i32>,
    addr: SocketAddr,
    log_dir: PathBuf,
    work_dir: PathBuf,
}

impl Spin {
    /// Checks that `bin` runs (`spin --version`) and that `HOME` is set.
    pub fn locate(bin: impl Into<PathBuf>) -> anyhow::Result<Spin> {
        let bin = bin.into();
        ensure!(
            std::env::var_os("HOME").is_some_and(|h| !h.is_empty()),
            "real Spin needs HOME set (it keeps plugins and caches there)"
        );
        let out = Command::new(&bin)
            .arg("--version")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {} --version", bin.display()))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let version = text
            .strip_prefix("spin ")
            .filter(|_| out.status.success())
            .and_then(|rest| rest.split_whitespace().next())
            .with_context(|| {
                format!(
                    "{} --version did not print `spin VERSION`: {}{}",
                    bin.display(),
                    text.trim(),
                    String::from_utf8_lossy(&out.stderr).trim()
                )
            })?
            .to_string();
        Ok(Spin { bin, version })
    }

    /// The binary.
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    /// Its version, e.g. `3.6.3`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `spin build -f MANIFEST`: runs the manifest's build commands, output to this process's
    /// stdout/stderr.
    pub fn build(&self, manifest: &Path) -> anyhow::Result<()> {
        let status = Command::new(&self.bin)
            .arg("build")
            .arg("-f")
            .arg(manifest)
            .stdin(Stdio::null())
            .status()
            .with_context(|| format!("cannot run {} build", self.bin.display()))?;
        ensure!(
            status.success(),
            "spin build -f {} failed with {status}",
            manifest.display()
        );
        Ok(())
    }

    /// Makes sure the component `spin up -f manifest` serves is the one under test, and returns
    /// its path (the manifest's one component `source`). With `wanted` (a component the caller
    /// was asked to test) it must be that same file; without, `spin build` brings it up to
    /// date.
    pub fn component(&self, manifest: &Path, wanted: Option<&Path>) -> anyhow::Result<PathBuf> {
        let loaded = crate::manifest::Manifest::load(manifest)?;
        let mut sources = loaded.components.values().map(|c| c.source.clone());
        let source = sources
            .next()
            .with_context(|| format!("{} has no component", manifest.display()))?;
        ensure!(
            sources.next().is_none(),
            "{} has more than one component",
            manifest.display()
        );
        match wanted {
            Some(wanted) => {
                let same =
                    std::fs::canonicalize(wanted).ok() == std::fs::canonicalize(&source).ok();
                ensure!(
                    same && source.is_file(),
                    "Spin serves {} as it is, whose component is {}; the component asked for is \
                     {}. Build that file (`spin build`, or `cargo build --target wasm32-wasip2 \
                     --release`) and ask for it, or ask for none and `spin build` runs first",
                    manifest.display(),
                    source.display(),
                    wanted.display()
                );
            }
            None => {
                eprintln!("spin build (brings {} up to date)", source.display());
                self.build(manifest)?;
            }
        }
        Ok(source)
    }

    /// Starts `spin up` on `manifest` and waits until it serves.
    pub async fn up(&self, manifest: &Path, opts: SpinUpOptions) -> anyhow::Result<SpinServer> {
        std::fs::create_dir_all(&opts.log_dir)
            .with_context(|| format!("create {}", opts.log_dir.display()))?;
        std::fs::create_dir_all(&opts.work_dir)
            .with_context(|| format!("create {}", opts.work_dir.display()))?;
        let output_path = opts.log_dir.join(SPIN_OUTPUT_FILE);
        let output = std::fs::File::create(&output_path)
            .with_context(|| format!("create {}", output_path.display()))?;
        let listen = opts
            .listen
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));

        let mut cmd = Command::new(&self.bin);
        cmd.arg("up")
            .arg("-f")
            .arg(manifest)
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--log-dir")
            .arg(&opts.log_dir)
            .arg("--temp")
            .arg(opts.work_dir.join("spin-temp"));
        if let Some(text) = &opts.runtime_config {
            let path = opts.work_dir.join("runtime-config.toml");
            std::fs::write(&path, text).with_context(|| format!("write {}", path.display()))?;
            cmd.arg("--runtime-config-file").arg(path);
        }
        for (name, value) in &opts.variables {
            cmd.arg("--variable").arg(format!("{name}={value}"));
        }
        cmd.env_clear();
        for name in ["HOME", "PATH", "TMPDIR", "RUST_LOG", "RUST_BACKTRACE"] {
            if let Some(value) = std::env::var_os(name) {
                cmd.env(name, value);
            }
        }
        cmd.envs(&opts.env)
            .current_dir(manifest.parent().unwrap_or(Path::new(".")))
            .stdin(Stdio::null())
            .stdout(output.try_clone()?)
            .stderr(output);
        die_with_parent(&mut cmd);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot run {} up", self.bin.display()))?;
        let mut server = SpinServer {
            child,
            triggers: Vec::new(),
            addr: listen,
            log_dir: opts.log_dir,
            work_dir: opts.work_dir,
        };

        let started = Instant::now();
        loop {
            let text = std::fs::read_to_string(&output_path).unwrap_or_default();
            if let Some(addr) = serving_addr(&text) {
                server.addr = addr;
                break;
            }
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "spin up exited with {status} before serving:\n{}",
                    text.trim()
                );
            }
            if started.elapsed() > START_LIMIT {
                bail!(
                    "spin up did not serve within {START_LIMIT:?}:\n{}",
                    text.trim()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        server.triggers = children_of(server.child.id());
        Ok(server)
    }
}

/// The address in Spin's `Serving http://ADDR` line, once printed.
fn serving_addr(output: &str) -> Option<SocketAddr> {
    output.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("Serving http://")?;
        rest.trim().trim_end_matches('/').parse().ok()
    })
}

/// The child processes of `pid` (Linux `/proc/PID/task/*/children`); empty elsewhere.
fn children_of(pid: u32) -> Vec<i32> {
    let mut children = Vec::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return children;
    };
    for task in tasks.flatten() {
        let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
        children.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<i32>().ok()),
        );
    }
    children
}

#[cfg(target_os = "linux")]
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child being set up.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_cmd: &mut Command) {}

#[cfg(unix)]
fn signal(pid: i32, signal: i32) {
    // SAFETY: kill has no memory effects; pid is a process this module started (or its child,
    // which lives as long as its parent runs).
    unsafe {
        libc::kill(pid, signal);
    }
}

impl SpinServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where component stdout/stderr and Spin's own output ([`SPIN_OUTPUT_FILE`]) are written.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// The `spin up` process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The process ids of `spin up` and of its trigger processes (for memory readings).
    pub fn pids(&self) -> Vec<u32> {
        let mut pids = vec![self.child.id()];
        pids.extend(self.triggers.iter().map(|&p| p as u32));
        pids
    }

    /// `Some(status)` if `spin up` has exited (it should not while a test runs).
    pub fn exited(&mut self) -> anyhow::Result<Option<ExitStatus>> {
        Ok(self.child.try_wait()?)
    }

    /// Stops Spin (see the module docs) and removes its working directory.
    ///
    /// `spin up` takes about a second to exit once its trigger is gone (1.2 s measured with
    /// Spin 3.6.3): the wait yields to the runtime, so a test's other requests, timed from
    /// the client, are not held up behind it.
    pub async fn shutdown(mut self) {
        if self.running() {
            self.signal_stop();
            let started = Instant::now();
            while self.running() && started.elapsed() < STOP_LIMIT {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        self.stop();
    }

    fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn signal_stop(&self) {
        #[cfg(unix)]
        {
            let direct = self.triggers.is_empty();
            for &pid in &self.triggers {
                signal(pid, libc::SIGKILL);
            }
            if direct {
                // No trigger pid known: Spin's own way, SIGTERM to `spin up`.
                signal(self.child.id() as i32, libc::SIGTERM);
            }
        }
    }

    /// The blocking stop (for `Drop`, where nothing can be awaited; after [`Self::shutdown`]
    /// it finds Spin gone and only removes the working directory).
    fn stop(&mut self) {
        if self.running() {
            self.signal_stop();
            let started = Instant::now();
            while self.running() && started.elapsed() < STOP_LIMIT {
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.work_dir);
    }
}

impl Drop for SpinServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_serving_line() {
        let out = "Logging component stdio to \"/x/\"\n\nServing http://127.0.0.1:40627\n\
                   Available Routes:\n  c: http://127.0.0.1:40627 (wildcard)\n";
        assert_eq!(serving_addr(out), Some("127.0.0.1:40627".parse().unwrap()));
        assert_eq!(serving_addr("Logging component stdio to \"/x/\"\n"), None);
        assert_eq!(serving_addr("Serving http://127.0.0.1:"), None);
    }
}
