//! The environment a benchmark runs in: the release component, devhost serving it, and a fake
//! Atlassian with a generated directory, all in this process on 127.0.0.1; with `--spin PATH`,
//! real Spin (`spin up` on spin.toml, a child process) serving the same component as well.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
use devhost::real_spin::{Spin, SpinServer, SpinUpOptions};
use fake_atlassian::{Credentials, Directory, FakeAtlassian, User};
use serde_json::Value;

/// The caller key the benchmark server accepts (at least 32 characters).
pub const KEY: &str = "bench-caller-key-0123456789abcdef0123456789";

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where reports go: `target/bench/`.
pub fn out_dir() -> Result<PathBuf> {
    let dir = root().join("target/bench");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The release component: `IDENTITY_ACCESSOR_WASM`, `--wasm`, or built into
/// `target/bench-wasm` as `spin build` builds it.
pub fn component(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_path_buf());
    }
    if let Some(path) = std::env::var_os("IDENTITY_ACCESSOR_WASM") {
        return Ok(PathBuf::from(path));
    }
    let target_dir = root().join("target/bench-wasm");
    devhost::ensure_target(&root(), "wasm32-wasip2")?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    eprintln!("bench: building the component (release, wasm32-wasip2)...");
    let status = Command::new(cargo)
        .args([
            "build",
            "--target",
            "wasm32-wasip2",
            "--release",
            "--target-dir",
        ])
        .arg(&target_dir)
        .current_dir(root())
        .status()
        .context("run cargo build for the component")?;
    ensure!(status.success(), "building the component failed");
    Ok(target_dir.join("wasm32-wasip2/release/identity_accessor.wasm"))
}

/// The component for a run on devhost and on each of `spins` (located and checked): with Spin
/// in the run it is spin.toml's own `source` for every runtime, so all serve the same file
/// (`--wasm` / `IDENTITY_ACCESSOR_WASM`, if given, must name it; else `spin build` makes it).
pub fn component_and_spins(
    explicit: Option<&Path>,
    spins: &[PathBuf],
) -> Result<(PathBuf, Vec<Spin>)> {
    if spins.is_empty() {
        return Ok((component(explicit)?, Vec::new()));
    }
    let wanted = explicit
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("IDENTITY_ACCESSOR_WASM").map(PathBuf::from));
    let manifest = root().join("spin.toml");
    let mut located = Vec::new();
    let mut wasm: Option<PathBuf> = None;
    for bin in spins {
        let spin = Spin::locate(bin)?;
        let checked = spin.component(&manifest, wasm.as_deref().or(wanted.as_deref()))?;
        wasm.get_or_insert(checked);
        located.push(spin);
    }
    Ok((wasm.context("no Spin given")?, located))
}

/// A runtime that serves the component.
pub enum Runtime {
    /// devhost, in this process.
    Devhost(Arc<devhost::App>),
    /// Real Spin: a `spin up` child process per server, on spin.toml.
    Spin(Spin),
}

/// A server of the component on one [`Runtime`].
pub enum Host {
    /// devhost, in this process.
    Devhost(devhost::Server),
    /// `spin up` and its trigger process.
    Spin(SpinServer),
}

impl Runtime {
    /// `devhost` or `spin 3.6.3`.
    pub fn name(&self) -> String {
        match self {
            Runtime::Devhost(_) => "devhost".into(),
            Runtime::Spin(spin) => format!("spin {}", spin.version()),
        }
    }

    /// Serves the component with `variables`, outbound connection pooling on (the default of
    /// both) or off; component logs go to `target/bench/logs/<runtime>-<tag>`.
    pub async fn serve(
        &self,
        variables: Vec<(String, String)>,
        tag: &str,
        connection_pooling: bool,
    ) -> Result<Host> {
        match self {
            Runtime::Devhost(app) => Ok(Host::Devhost(
                serve_pooling(app, variables, tag, connection_pooling).await?,
            )),
            Runtime::Spin(spin) => {
                let name = format!("spin-{}-{tag}", spin.version());
                let server = spin
                    .up(
                        &root().join("spin.toml"),
                        SpinUpOptions {
                            variables,
                            runtime_config: (!connection_pooling).then(|| {
                                "[outbound_http]\nconnection_pooling = false\n".to_string()
                            }),
                            log_dir: out_dir()?.join("logs").join(&name),
                            work_dir: out_dir()?.join("spin").join(&name),
                            ..SpinUpOptions::default()
                        },
                    )
                    .await?;
                Ok(Host::Spin(server))
            }
        }
    }
}

impl Host {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        match self {
            Host::Devhost(s) => s.addr(),
            Host::Spin(s) => s.addr(),
        }
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The host's own processes, when it runs outside this one (Spin); empty for devhost.
    pub fn pids(&self) -> Vec<u32> {
        match self {
            Host::Devhost(_) => Vec::new(),
            Host::Spin(s) => s.pids(),
        }
    }

    /// Stops the server.
    pub async fn shutdown(self) {
        match self {
            Host::Devhost(s) => s.shutdown().await,
            Host::Spin(s) => s.shutdown().await,
        }
    }
}

/// Loads (compiles) the component into a devhost app.
pub fn load_app(wasm: &Path) -> Result<Arc<devhost::App>> {
    Ok(Arc::new(devhost::App::load_with_source(
        &root().join("spin.toml"),
        wasm,
    )?))
}

/// Both sources (admin and Confluence basic; `email_sources` unset, so `auto`) pointed at
/// `fake`, plus `extra`.
pub fn chain_vars(fake: &FakeAtlassian, extra: &[(&str, String)]) -> Vec<(String, String)> {
    let c: &Credentials = fake.credentials();
    let mut v = vec![
        ("api_key".to_string(), KEY.to_string()),
        ("atlassian_api_url".to_string(), fake.url()),
        ("allow_loopback_http".into(), "true".into()),
        ("atlassian_org_id".into(), c.org_id.clone()),
        ("atlassian_admin_api_key".into(), c.admin_api_key.clone()),
        ("confluence_url".into(), fake.url()),
        ("confluence_email".into(), c.site_email.clone()),
        ("confluence_api_token".into(), c.site_api_token.clone()),
    ];
    for (k, val) in extra {
        v.retain(|(name, _)| name != k);
        v.push((k.to_string(), val.clone()));
    }
    v
}

/// A fake Atlassian on 127.0.0.1 with `directory`.
pub async fn start_fake(directory: Directory) -> Result<FakeAtlassian> {
    FakeAtlassian::start(
        "127.0.0.1:0".parse::<SocketAddr>()?,
        directory,
        Credentials::default(),
    )
    .await
}

/// Serves `app` with `variables` on 127.0.0.1; component logs go to `target/bench/logs/<tag>`.
pub async fn serve(
    app: &Arc<devhost::App>,
    variables: Vec<(String, String)>,
    tag: &str,
) -> Result<devhost::Server> {
    serve_pooling(app, variables, tag, true).await
}

/// As [`serve`], with outbound connection pooling on (Spin's default) or off.
pub async fn serve_pooling(
    app: &Arc<devhost::App>,
    variables: Vec<(String, String)>,
    tag: &str,
    connection_pooling: bool,
) -> Result<devhost::Server> {
    let log_dir = out_dir()?.join("logs").join(tag);
    app.serve(devhost::UpOptions {
        listen: Some("127.0.0.1:0".parse()?),
        variables,
        env: HashMap::new(),
        log_dir: Some(log_dir),
        echo_logs: false,
        connection_pooling,
        max_instance_memory: None,
    })
    .await
}

/// What the chain configuration answers for one user.
pub fn chain_email(user: &User) -> Option<&str> {
    (user.managed || !user.is_hidden()).then_some(user.email.as_str())
}

/// The directory indexed by id, and the expected answers it implies.
pub struct Truth {
    pub users: Vec<User>,
    by_id: HashMap<String, usize>,
}

impl Truth {
    pub fn new(directory: &Directory) -> Truth {
        let by_id = directory
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.account_id.clone(), i))
            .collect();
        Truth {
            users: directory.users.clone(),
            by_id,
        }
    }

    pub fn get(&self, id: &str) -> Option<&User> {
        self.by_id.get(id).map(|&i| &self.users[i])
    }

    /// The exact `200` body for `ids` (duplicates and unknown ids allowed).
    pub fn expected(&self, ids: &[String], include_unresolved: bool) -> Value {
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        for id in ids {
            if !seen.insert(id.as_str()) {
                continue;
            }
            let email = self.get(id).and_then(chain_email);
            if email.is_some() || include_unresolved {
                out.push(serde_json::json!({"accountId": id, "emailAddress": email}));
            }
        }
        Value::Array(out)
    }

    /// The fewest upstream calls for distinct `ids` with both sources, admin first or (under
    /// `auto`) Confluence first, at batch sizes `admin_batch` / `confluence_batch`: (admin
    /// calls, Confluence calls). The second source is asked only for what the first left.
    pub fn min_calls(
        &self,
        ids: &[String],
        admin_first: bool,
        admin_batch: usize,
        confluence_batch: usize,
    ) -> (usize, usize) {
        if admin_first {
            let pending = ids
                .iter()
                .filter(|id| !self.get(id).is_some_and(|u| u.managed))
                .count();
            (
                ids.len().div_ceil(admin_batch),
                pending.div_ceil(confluence_batch),
            )
        } else {
            let pending = ids
                .iter()
                .filter(|id| self.get(id).is_none_or(|u| u.is_hidden()))
                .count();
            (
                pending.div_ceil(admin_batch),
                ids.len().div_ceil(confluence_batch),
            )
        }
    }
}

/// Waits until `GET url/health` answers 200 (polling every 1 ms), returning how long it took.
pub async fn wait_healthy(addr: SocketAddr, limit: Duration) -> Result<Duration> {
    let start = Instant::now();
    let mut conn = crate::client::Conn::new(addr);
    loop {
        if let Ok(r) = conn.send(&crate::client::Req::get("/health")).await {
            if r.status == 200 {
                return Ok(start.elapsed());
            }
        }
        ensure!(
            start.elapsed() < limit,
            "server not healthy after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
