//! Shared set-up: the compiled component, a server per test (on the runtime [`runtime()`]
//! chose: devhost, or real Spin with `SPIN_BIN`), expectations from the directory.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{ensure, Context, Result};
use fake_atlassian::{Credentials, Directory, Endpoint, FakeAtlassian, RecordedRequest, User};
use serde_json::Value;

// The whole harness API in one place; not every runtime helper has a caller in every module.
#[allow(unused_imports)]
pub use crate::runtime::{devhost_only, runtime, runtime_independent, spin_only, Runtime};

/// The caller key every test server accepts.
pub const KEY: &str = "e2e-test-key-0123456789abcdef0123456789";
/// A second key, for rotation tests.
pub const KEY2: &str = "e2e-rotated-key-fedcba9876543210fedcba98";

static APP: OnceLock<Arc<devhost::App>> = OnceLock::new();

/// Held for the whole run by the tests that bound a response time from above (the fault
/// matrix: "answered inside the deadline") and by the CPU-heavy tests (the upstream cost test's
/// thousands of calls, the browser tests' Chromium, the memory test's four 1 MiB bodies), so
/// one never runs beside the other on a 2-core machine.
pub static CPU_HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
static LOG_SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// This test process's name for its component log directories: its pid and its start time, so
/// that a later run given the same pid never appends to, nor scans, an earlier run's logs. The
/// directories are kept after the run, as evidence: the audit scans them all at its end, and
/// they are what a failing test leaves to read.
fn run_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let started = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        format!("{}-{started}", std::process::id())
    })
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Builds the component once, into its own target dir (the outer `cargo test` owns `target/`).
fn build_wasm() -> PathBuf {
    if let Some(path) = std::env::var_os("IDENTITY_ACCESSOR_WASM") {
        return PathBuf::from(path);
    }
    let target_dir = root().join("target/e2e-wasm");
    devhost::ensure_target(root(), "wasm32-wasip2").expect("the wasm32-wasip2 target");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
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
        .expect("run cargo build for the component");
    assert!(status.success(), "building the component failed");
    target_dir.join("wasm32-wasip2/release/identity_accessor.wasm")
}

/// The compiled component, loaded once for the whole run into devhost (the devhost runtime;
/// a test that calls this directly uses devhost whatever the runtime).
pub fn app() -> Arc<devhost::App> {
    APP.get_or_init(|| {
        let wasm = build_wasm();
        Arc::new(
            devhost::App::load_with_source(&root().join("spin.toml"), &wasm)
                .expect("devhost loads spin.toml and the component"),
        )
    })
    .clone()
}

/// Which sources a test server is configured with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sources {
    /// The admin API only.
    Admin,
    /// Confluence with basic auth only.
    Basic,
    /// Confluence with a bearer token through `/ex/confluence/{cloudId}`.
    Bearer,
    /// Admin, then Confluence basic.
    Chain,
}

impl Sources {
    pub fn admin(self) -> bool {
        matches!(self, Sources::Admin | Sources::Chain)
    }
    pub fn confluence(self) -> bool {
        !matches!(self, Sources::Admin)
    }
}

/// A server of the component, on devhost or on real Spin.
pub enum Server {
    /// devhost, in this process.
    Devhost(devhost::Server),
    /// A `spin up` child process.
    Spin(devhost::real_spin::SpinServer),
}

impl From<devhost::Server> for Server {
    fn from(server: devhost::Server) -> Server {
        Server::Devhost(server)
    }
}

impl Server {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        match self {
            Server::Devhost(s) => s.addr(),
            Server::Spin(s) => s.addr(),
        }
    }

    /// `http://ADDR`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Where component stdout/stderr are written (`<component>_stdout.txt`, `_stderr.txt`; on
    /// Spin also Spin's own output, `spin-up.log`).
    pub fn log_dir(&self) -> &Path {
        match self {
            Server::Devhost(s) => s.log_dir(),
            Server::Spin(s) => s.log_dir(),
        }
    }

    /// Fails if the host has stopped on its own (a crashed `spin up`, with its output).
    pub fn ensure_running(&mut self) -> Result<()> {
        if let Server::Spin(s) = self {
            if let Some(status) = s.exited()? {
                let output =
                    std::fs::read_to_string(s.log_dir().join(devhost::real_spin::SPIN_OUTPUT_FILE))
                        .unwrap_or_default();
                anyhow::bail!("spin up exited during the test with {status}:\n{output}");
            }
        }
        Ok(())
    }

    /// Stops the server.
    pub async fn shutdown(self) {
        match self {
            Server::Devhost(s) => s.shutdown().await,
            Server::Spin(s) => s.shutdown().await,
        }
    }
}

/// How to serve the component: what both runtimes honour.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `--variable NAME=VALUE` pairs, highest priority.
    pub variables: Vec<(String, String)>,
    /// The host's environment: `SPIN_VARIABLE_*` (and, on Spin, any other setting Spin reads
    /// from its environment). devhost reads `SPIN_VARIABLE_*` from this map, never from this
    /// process's own environment; Spin gets only this map plus `HOME` and `PATH`.
    pub env: HashMap<String, String>,
    /// Outbound connection pooling: Spin's runtime config `[outbound_http] connection_pooling`
    /// (default true), devhost's `--no-connection-pooling` when false.
    pub connection_pooling: bool,
    /// A Spin runtime-config file's text (`--runtime-config-file`): Spin only (devhost reads
    /// none, so a test that needs one is [`spin_only`]).
    pub spin_runtime_config: Option<String>,
    /// The instance memory cap in bytes: Spin's `SPIN_MAX_INSTANCE_MEMORY`, devhost's
    /// `--max-instance-memory` (same meaning).
    pub max_instance_memory: Option<usize>,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            variables: Vec::new(),
            env: HashMap::new(),
            connection_pooling: true,
            spin_runtime_config: None,
            max_instance_memory: None,
        }
    }
}

/// A running test environment.
pub struct Env {
    pub fake: FakeAtlassian,
    pub server: Server,
    pub client: reqwest::Client,
    pub directory: Directory,
    /// Extra strings that must never reach a log (beyond keys, credentials and the directory).
    pub never_logged: Vec<String>,
}

/// The variables that point a server at `fake` with `sources`.
pub fn source_vars(fake: &FakeAtlassian, sources: Sources) -> Vec<(String, String)> {
    let c: &Credentials = fake.credentials();
    let mut v = vec![
        ("api_key".to_string(), KEY.to_string()),
        ("atlassian_api_url".to_string(), fake.url()),
        // The fake Atlassian is plain http on 127.0.0.1: a test-only setting allows it.
        ("allow_loopback_http".to_string(), "true".to_string()),
    ];
    if sources.admin() {
        v.push(("atlassian_org_id".into(), c.org_id.clone()));
        v.push(("atlassian_admin_api_key".into(), c.admin_api_key.clone()));
    }
    match sources {
        Sources::Basic | Sources::Chain => {
            v.push(("confluence_url".into(), fake.url()));
            v.push(("confluence_email".into(), c.site_email.clone()));
            v.push(("confluence_api_token".into(), c.site_api_token.clone()));
        }
        Sources::Bearer => {
            v.push(("confluence_bearer_token".into(), c.bearer_token.clone()));
            v.push(("confluence_cloud_id".into(), c.cloud_id.clone()));
        }
        Sources::Admin => {}
    }
    v
}

/// Overrides or adds variables.
pub fn with(mut vars: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in extra {
        vars.retain(|(name, _)| name != k);
        vars.push((k.to_string(), v.to_string()));
    }
    vars
}

/// Starts a fake Atlassian with `directory`.
pub async fn fake(directory: Directory) -> Result<FakeAtlassian> {
    FakeAtlassian::start(
        "127.0.0.1:0".parse::<SocketAddr>()?,
        directory,
        Credentials::default(),
    )
    .await
}

/// Serves the component with exactly `variables`, on this run's runtime.
pub async fn serve(variables: Vec<(String, String)>) -> Result<Server> {
    serve_with(ServeOptions {
        variables,
        ..ServeOptions::default()
    })
    .await
}

/// Serves the component with `opts`, on this run's runtime. Its logs go to
/// `target/e2e-logs/<pid>-<start>-<n>`, which the privacy audit scans.
pub async fn serve_with(opts: ServeOptions) -> Result<Server> {
    let n = LOG_SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let name = format!("{}-{n}", run_name());
    let log_dir = root().join("target/e2e-logs").join(&name);
    match runtime() {
        Runtime::Devhost => {
            ensure!(
                opts.spin_runtime_config.is_none(),
                "devhost reads no Spin runtime config: a test that needs one is spin_only"
            );
            // On the defaults, so that a devhost option added later starts unset here.
            #[allow(clippy::needless_update)]
            let up = devhost::UpOptions {
                listen: Some("127.0.0.1:0".parse()?),
                variables: opts.variables,
                env: opts.env,
                log_dir: Some(log_dir),
                echo_logs: false,
                connection_pooling: opts.connection_pooling,
                max_instance_memory: opts.max_instance_memory,
                ..devhost::UpOptions::default()
            };
            let server = app().serve(up).await?;
            Ok(Server::Devhost(server))
        }
        Runtime::Spin(spin) => {
            let mut runtime_config = opts.spin_runtime_config.unwrap_or_default();
            if !opts.connection_pooling {
                ensure!(
                    !runtime_config.contains("[outbound_http]"),
                    "set connection_pooling inside the runtime config's [outbound_http] table"
                );
                runtime_config.push_str("\n[outbound_http]\nconnection_pooling = false\n");
            }
            let mut env = opts.env;
            if let Some(cap) = opts.max_instance_memory {
                env.insert("SPIN_MAX_INSTANCE_MEMORY".into(), cap.to_string());
            }
            let server = spin
                .up(
                    &root().join("spin.toml"),
                    devhost::real_spin::SpinUpOptions {
                        variables: opts.variables,
                        env,
                        runtime_config: (!runtime_config.is_empty()).then_some(runtime_config),
                        log_dir,
                        work_dir: root().join("target/e2e-spin").join(&name),
                        listen: None,
                    },
                )
                .await?;
            Ok(Server::Spin(server))
        }
    }
}

impl Env {
    /// A fake with the demo directory and a server using `sources`, plus `extra` variables.
    pub async fn start(sources: Sources, extra: &[(&str, &str)]) -> Result<Env> {
        Env::with_directory(Directory::demo(), sources, extra).await
    }

    /// As [`Env::start`] with another directory.
    pub async fn with_directory(
        directory: Directory,
        sources: Sources,
        extra: &[(&str, &str)],
    ) -> Result<Env> {
        let fake = fake(directory.clone()).await?;
        let server = serve(with(source_vars(&fake, sources), extra)).await?;
        Env::assemble(fake, server, directory)
    }

    /// An environment around a fake and a server the caller started (with [`serve_with`], or
    /// a [`devhost::Server`]), with the test client.
    pub fn assemble(
        fake: FakeAtlassian,
        server: impl Into<Server>,
        directory: Directory,
    ) -> Result<Env> {
        Ok(Env {
            fake,
            server: server.into(),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            directory,
            never_logged: Vec::new(),
        })
    }

    /// `POST /` with the key: the trigger URL as the connector calls it, body still to set.
    pub fn keyed_post(&self) -> reqwest::RequestBuilder {
        self.client
            .post(self.server.url() + "/")
            .header("x-api-key", KEY)
    }

    /// `POST /` with the test key and a JSON body.
    pub async fn lookup(&self, body: Value) -> Result<(u16, reqwest::header::HeaderMap, Value)> {
        let (status, headers, bytes) = self.send(self.keyed_post().json(&body)).await?;
        let json = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "non-JSON answer {status}: {}",
                String::from_utf8_lossy(&bytes)
            )
        })?;
        Ok((status, headers, json))
    }

    /// Looks up every account id of the directory and checks the answer is a `200` holding
    /// exactly what `sources` can resolve; returns that answer.
    pub async fn lookup_all_expecting(&self, sources: Sources) -> Result<Value> {
        let ids = self.ids();
        let (status, _, body) = self
            .lookup(serde_json::json!({ "accountIds": ids }))
            .await?;
        ensure!(status == 200, "status {status}: {body}");
        let expected = expected_answer(&self.directory, &ids, sources, false);
        ensure!(body == expected, "answer {body}\nexpected {expected}");
        Ok(body)
    }

    /// The requests the fake recorded for `endpoint`, in arrival order.
    pub fn requests_to(&self, endpoint: Endpoint) -> Vec<RecordedRequest> {
        self.fake
            .requests()
            .into_iter()
            .filter(|r| r.endpoint == Some(endpoint))
            .collect()
    }

    /// A request builder on `path`.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client.request(method, self.server.url() + path)
    }

    /// Every account id of the directory, in directory order.
    pub fn ids(&self) -> Vec<String> {
        self.directory
            .users
            .iter()
            .map(|u| u.account_id.clone())
            .collect()
    }

    /// Sends `request` (built from [`Env::request`] or `self.client`), reads the whole answer,
    /// and records a non-2xx body for the audit, as [`Env::lookup`] does. A request without an
    /// `X-Request-Id` gets the next one of this run ([`sequenced_request_id`]), so
    /// [`component_log_lines`] can put the log lines in the order the requests were sent.
    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<(u16, reqwest::header::HeaderMap, Vec<u8>)> {
        let mut request = request.build()?;
        if !request.headers().contains_key("x-request-id") {
            request
                .headers_mut()
                .insert("x-request-id", sequenced_request_id().parse()?);
        }
        let r = self.client.execute(request).await?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let bytes = r.bytes().await?.to_vec();
        record_answer(&self.server_key(), status, &bytes);
        Ok((status, headers, bytes))
    }

    /// This server's key in the audit records: its log dir, unique per server in a run
    /// (a port may be reused).
    pub fn server_key(&self) -> String {
        self.server.log_dir().display().to_string()
    }

    /// What must never reach a log or an error body of this environment: the caller keys, the
    /// fake's credentials, every email and account id of the directory, and `never_logged`.
    pub fn forbidden(&self) -> Vec<String> {
        let mut forbidden: Vec<String> = vec![KEY.into(), KEY2.into()];
        let c = self.fake.credentials();
        forbidden.extend([
            c.admin_api_key.clone(),
            c.site_api_token.clone(),
            c.scoped_api_token.clone(),
            c.bearer_token.clone(),
            c.app_token.clone(),
            c.site_email.clone(),
        ]);
        for u in &self.directory.users {
            forbidden.push(u.email.clone());
            forbidden.push(u.account_id.clone());
        }
        forbidden.extend(self.never_logged.iter().cloned());
        forbidden
    }

    /// Stops everything and checks the component's logs, and every error body this
    /// environment's server answered through [`Env::lookup`] or [`Env::send`], hold no secret,
    /// email or id.
    pub async fn finish(mut self) -> Result<()> {
        self.server.ensure_running()?;
        let log_dir = self.server.log_dir().to_path_buf();
        let url = self.server_key();
        let forbidden = self.forbidden();
        remember_forbidden(&forbidden);
        // The component prints its log line after the answer's last byte: wait for the lines
        // of the requests sent through `lookup`/`send` (at least one), so none escapes the scan.
        wait_for_log_lines(&log_dir, answers_from(&url).max(1)).await;
        self.server.shutdown().await;
        self.fake.shutdown().await;
        assert_logs_clean(&log_dir, &forbidden)?;
        let bodies: Vec<String> = error_bodies()
            .into_iter()
            .filter(|b| b.server == url)
            .map(|b| b.body)
            .collect();
        assert_bodies_clean(&bodies, &forbidden)
    }
}

/// A non-2xx answer the suite received, kept for the privacy audit.
#[derive(Debug, Clone)]
pub struct ErrorBody {
    /// The server that answered ([`Env::server_key`]).
    pub server: String,
    /// The status.
    pub status: u16,
    /// The body, lossily decoded.
    pub body: String,
}

/// Every non-2xx answer received in this process through [`Env::lookup`] / [`Env::send`].
static ERROR_BODIES: std::sync::Mutex<Vec<ErrorBody>> = std::sync::Mutex::new(Vec::new());
/// Forbidden values of every environment finished in this process, for the whole-run audit.
static FORBIDDEN_SEEN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// How many answers each server gave through [`Env::lookup`] / [`Env::send`].
static ANSWERS: std::sync::Mutex<Vec<(String, usize)>> = std::sync::Mutex::new(Vec::new());

/// How many answers `server` gave through [`Env::lookup`] / [`Env::send`].
pub fn answers_from(server: &str) -> usize {
    ANSWERS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .find(|(s, _)| s == server)
        .map_or(0, |(_, n)| *n)
}

/// Complete lines in the component stdout logs of `dir`.
fn stdout_lines(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with("_stdout.txt"))
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|text| text.matches('\n').count())
        .sum()
}

/// The component's log lines in `dir` (its `_stdout.txt`), parsed, once at least `lines`
/// complete lines are there: the component writes a request's line after the answer's last
/// byte, so a test that reads the log right after its requests waits for them.
pub async fn component_log_lines(dir: &Path, lines: usize) -> Result<Vec<Value>> {
    wait_for_log_lines(dir, lines).await;
    let log = std::fs::read_to_string(dir.join("identity-accessor_stdout.txt"))?;
    let mut parsed = log
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<Vec<Value>, _>>()?;
    // Each instance prints its line after its answer's last byte, so a request answered first
    // may be logged second: order the lines as the requests were sent (lines of requests with
    // another id keep their place after those).
    parsed.sort_by_key(|line| {
        line["requestId"]
            .as_str()
            .and_then(|id| id.strip_prefix(REQUEST_ID_PREFIX))
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(usize::MAX)
    });
    Ok(parsed)
}

/// The prefix of the request ids [`Env::send`] gives.
const REQUEST_ID_PREFIX: &str = "e2e-seq-";
/// The sequence behind [`sequenced_request_id`].
static REQUEST_SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The next request id of this run (`e2e-seq-000001`, ...): increasing in the order requests
/// are sent.
pub fn sequenced_request_id() -> String {
    let n = REQUEST_SEQ.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    format!("{REQUEST_ID_PREFIX}{n:06}")
}

/// Waits (at most 2 s) until the stdout logs in `dir` hold at least `lines` lines.
pub async fn wait_for_log_lines(dir: &Path, lines: usize) {
    let started = std::time::Instant::now();
    while stdout_lines(dir) < lines && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Counts an answer of `server`, and records its body for the audit when it is not a 2xx.
pub fn record_answer(server: &str, status: u16, body: &[u8]) {
    {
        let mut answers = ANSWERS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match answers.iter_mut().find(|(s, _)| s == server) {
            Some((_, n)) => *n += 1,
            None => answers.push((server.to_string(), 1)),
        }
    }
    if !(200..300).contains(&status) {
        ERROR_BODIES
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(ErrorBody {
                server: server.to_string(),
                status,
                body: String::from_utf8_lossy(body).into_owned(),
            });
    }
}

/// A snapshot of every non-2xx answer recorded so far in this process.
pub fn error_bodies() -> Vec<ErrorBody> {
    ERROR_BODIES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Adds `values` to the process-wide list the whole-run audit scans for.
pub fn remember_forbidden(values: &[String]) {
    let mut seen = FORBIDDEN_SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for v in values {
        if !seen.contains(v) {
            seen.push(v.clone());
        }
    }
}

/// Every forbidden value of the environments finished so far in this process.
pub fn forbidden_seen() -> Vec<String> {
    FORBIDDEN_SEEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Fails if any body holds any of `forbidden`, or an `@`.
pub fn assert_bodies_clean(bodies: &[String], forbidden: &[String]) -> Result<()> {
    for body in bodies {
        for secret in forbidden {
            ensure!(
                !body.contains(secret.as_str()),
                "an error body holds a forbidden value: {}",
                body.replace(secret.as_str(), "***")
            );
        }
        ensure!(
            !body.contains('@'),
            "an error body holds an email-like value: {}",
            body.replace('@', "(at)")
        );
    }
    Ok(())
}

/// The component log directories of this process (`target/e2e-logs/<pid>-<start>-<n>`).
pub fn this_run_log_dirs() -> Result<Vec<PathBuf>> {
    let prefix = format!("{}-", run_name());
    let mut dirs = Vec::new();
    let base = root().join("target/e2e-logs");
    for entry in std::fs::read_dir(&base).with_context(|| format!("{}", base.display()))? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) && entry.path().is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Fails if any file in `dir` holds any of `forbidden`, or an `@`; returns how many files and
/// lines it read.
pub fn scan_log_dir(dir: &Path, forbidden: &[String]) -> Result<(usize, usize)> {
    let (mut files, mut lines) = (0, 0);
    for entry in std::fs::read_dir(dir).with_context(|| format!("log dir {}", dir.display()))? {
        let path = entry?.path();
        let text = std::fs::read_to_string(&path)?;
        files += 1;
        lines += text.lines().count();
        for secret in forbidden {
            ensure!(
                !text.contains(secret.as_str()),
                "{} holds a forbidden value",
                path.display()
            );
        }
        ensure!(
            !text.contains('@'),
            "{} holds an email-like value",
            path.display()
        );
    }
    Ok((files, lines))
}

/// As [`scan_log_dir`], and fails if no log line was captured at all.
pub fn assert_logs_clean(dir: &Path, forbidden: &[String]) -> Result<()> {
    let (_, scanned) = scan_log_dir(dir, forbidden)?;
    ensure!(
        scanned > 0,
        "no log lines were captured in {}",
        dir.display()
    );
    Ok(())
}

/// What the component must answer for `user` with `sources`.
pub fn expected_email(user: &User, sources: Sources) -> Option<String> {
    if sources.admin() && user.managed {
        return Some(user.email.clone());
    }
    if sources.confluence() && !user.is_hidden() {
        return Some(user.email.clone());
    }
    None
}

/// The expected answer for `ids` (in order, duplicates allowed, unknown ids allowed).
pub fn expected_answer(
    directory: &Directory,
    ids: &[String],
    sources: Sources,
    include_unresolved: bool,
) -> Value {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for id in ids {
        if !seen.insert(id.clone()) {
            continue;
        }
        let email = directory.get(id).and_then(|u| expected_email(u, sources));
        if email.is_some() || include_unresolved {
            out.push(serde_json::json!({"accountId": id, "emailAddress": email}));
        }
    }
    Value::Array(out)
}
