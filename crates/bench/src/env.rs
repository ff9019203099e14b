//! The environment a benchmark runs in: the release component, devhost serving it, and a fake
//! Atlassian with a generated directory, all in this process on 127.0.0.1.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context, Result};
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
