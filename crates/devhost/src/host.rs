//! The wasmtime host: compiling the component once, serving HTTP, a fresh instance per
//! request, variables, outbound policy and component logs.
//!
//! Per request: route the path (404 from the host if nothing matches), add the `spin-*`
//! headers, make a new `Store` with a WASI context that inherits nothing (no environment, no
//! arguments, no preopened directories, no sockets; stdout/stderr go to the log files),
//! instantiate from the `ProxyPre`, and call `wasi:http/incoming-handler.handle`. A trap, an
//! error code, or no response at all becomes a 500 to the client and one line on the host's
//! stderr naming the component, method and path (never the query, headers or body).
//!
//! With [`UpOptions::max_instance_memory`] (Spin's `--max-instance-memory` /
//! `SPIN_MAX_INSTANCE_MEMORY`), each store gets [`MemoryCap`], Spin's rule: a linear memory may
//! grow to at most that many bytes; past it `memory.grow` returns -1 inside the guest (no trap
//! from the host), and instantiation fails if the initial memory is already larger.
//!
//! Outgoing requests pass through [`OutboundPolicy`], which allows only what the component's
//! resolved `allowed_outbound_hosts` allow and otherwise fails the request inside the guest
//! with `ErrorCode::HttpRequestDenied`, as Spin does. Allowed requests go out through the
//! server's [`Outbound`] clients, which keep connections alive and pool them per host as Spin
//! does, and honour the guest's `request-options` timeouts (otherwise 600 s each, Spin's
//! defaults).

use std::collections::HashMap;
use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{anyhow, Context};
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::http::uri::Authority;
use hyper::http::{header, HeaderName, HeaderValue, Request, Response, StatusCode, Uri};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{
    RequestOptions, WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView,
};

use crate::allowed_hosts::{AllowedHost, AllowedHosts};
use crate::expressions::{resolve_app_variables, validate_key};
use crate::manifest::Manifest;
use crate::outbound::Outbound;
use crate::routes::{spin_headers, RouteDisplay, Router};

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "devhost:host/host",
    });
}

use bindings::fermyon::spin::variables;

/// The default listen address, as `spin up`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:3000";

/// How many instances (and memories, tables, stacks) the pooling allocator holds at once:
/// the most requests one [`App`] runs concurrently. Spin's default is 1000; devhost uses
/// fewer so that many engines (one per test) fit in the address space.
const POOL_INSTANCES: u32 = 128;

/// How long [`Server::shutdown`] lets open connections finish before closing them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

const MB: usize = 1 << 20;

/// How often the engine's epoch advances. Each request's store yields to the async runtime
/// at every tick, as Spin does (10 ms), so a guest busy in wasm never starves other requests,
/// Ctrl-C or shutdown.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// A loaded application: the parsed manifest, one wasmtime engine with the pooling
/// allocator, and each component compiled once and pre-instantiated.
pub struct App {
    manifest: Manifest,
    router: Router,
    engine: Engine,
    components: HashMap<String, ProxyPre<HostState>>,
}

/// Options for one [`Server`], like `spin up`'s.
#[derive(Clone)]
pub struct UpOptions {
    /// Where to listen; default `127.0.0.1:3000`. Tests pass `127.0.0.1:0`.
    pub listen: Option<SocketAddr>,
    /// `--variable NAME=VALUE` pairs, highest priority; a value `@path` is that file's content.
    pub variables: Vec<(String, String)>,
    /// The environment `SPIN_VARIABLE_*` is read from.
    pub env: HashMap<String, String>,
    /// Where component output goes; default `.spin/logs` next to the manifest.
    pub log_dir: Option<PathBuf>,
    /// Also echo component output to the host's stdout/stderr.
    pub echo_logs: bool,
    /// Keep outbound connections alive and reuse them per host, as Spin's runtime config
    /// `[outbound_http] connection_pooling` (default true). Off: a new connection per request.
    pub connection_pooling: bool,
    /// The most bytes one instance's linear memory may grow to, as Spin's
    /// `--max-instance-memory` / `SPIN_MAX_INSTANCE_MEMORY` (bytes; `None`: no cap beyond
    /// wasm32's 4 GiB). A growth past it makes `memory.grow`
    /// return -1 inside the guest, as in Spin.
    pub max_instance_memory: Option<usize>,
}

impl Default for UpOptions {
    fn default() -> UpOptions {
        UpOptions {
            listen: None,
            variables: Vec::new(),
            env: HashMap::new(),
            log_dir: None,
            echo_logs: false,
            connection_pooling: true,
            max_instance_memory: None,
        }
    }
}

/// A running HTTP server for an [`App`].
pub struct Server {
    addr: SocketAddr,
    log_dir: PathBuf,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// What one server knows about one component: its resolved configuration.
struct ComponentRuntime {
    id: Arc<str>,
    pre: ProxyPre<HostState>,
    variables: Arc<HashMap<String, String>>,
    allowed: Arc<AllowedHosts>,
    outbound: Outbound,
    stdout: LogSink,
    stderr: LogSink,
    max_instance_memory: Option<usize>,
}

/// Everything a server's request handlers share.
struct ServeState {
    app: Arc<App>,
    components: HashMap<String, ComponentRuntime>,
}

/// The `T` of each request's `Store<T>`.
struct HostState {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    hooks: OutboundPolicy,
    component: Arc<str>,
    variables: Arc<HashMap<String, String>>,
    memory: MemoryCap,
}

/// Spin's instance memory cap (spin-core `StoreLimitsAsync`, installed on every store; its
/// maximum set by spin-trigger's `MaxInstanceMemoryHook` from `--max-instance-memory`,
/// `SPIN_MAX_INSTANCE_MEMORY` or runtime-config `max_instance_memory`): a linear memory may
/// grow to `max` bytes and no further. A refused growth is `Ok(false)`, which wasmtime turns
/// into `memory.grow` returning -1 in the guest (what the guest's allocator does then is up to
/// it: Rust's aborts, a trap, which the host answers 500); at instantiation, an initial memory
/// above the cap fails the instance. Tables are not limited, as in Spin. Like Spin's warning,
/// a refusal prints one line on the host's stderr.
#[derive(Debug, Clone)]
struct MemoryCap {
    component: Arc<str>,
    max: Option<usize>,
}

impl MemoryCap {
    fn new(component: Arc<str>, max: Option<usize>) -> MemoryCap {
        MemoryCap { component, max }
    }
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.max.is_none_or(|max| desired <= max);
        if !allowed {
            eprintln!(
                "devhost: component {:?}: instance memory limit exceeded \
                 (current {current}, desired {desired}, max_instance_memory {})",
                self.component,
                self.max.unwrap_or_default()
            );
        }
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl variables::Host for HostState {
    /// `fermyon:spin/variables.get`: only the names in `[component.NAME.variables]`.
    fn get(&mut self, name: String) -> Result<String, variables::Error> {
        validate_key(&name).map_err(variables::Error::InvalidName)?;
        self.variables.get(&name).cloned().ok_or_else(|| {
            variables::Error::Undefined(format!("no variable for {:?}.{name:?}", self.component))
        })
    }
}

/// The outbound HTTP policy of one request's component, and the server's clients.
struct OutboundPolicy {
    component: Arc<str>,
    allowed: Arc<AllowedHosts>,
    outbound: Outbound,
}

type SendFuture = Box<dyn std::future::Future<Output = crate::outbound::SendResult> + Send>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: hyper::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn std::future::Future<Output = wasmtime_wasi_http::Result<()>> + Send>,
    ) -> SendFuture {
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let host = uri.host().unwrap_or("").to_string();
        let port = uri.port_u16();
        if !self.allowed.allows(&scheme, &host, port) {
            // Scheme, host and port only: the path and query may carry data.
            let shown_port = port.map(|p| format!(":{p}")).unwrap_or_default();
            eprintln!(
                "devhost: denied outbound request from component {:?} to {scheme}://{host}{shown_port}: \
                 not in its allowed_outbound_hosts",
                self.component
            );
            return Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) });
        }
        let outbound = self.outbound.clone();
        Box::new(async move { outbound.send(request, options).await })
    }
}

/// Component stdout or stderr: appended to a log file, optionally echoed to the host's.
#[derive(Clone)]
struct LogSink {
    file: Arc<std::fs::File>,
    echo: Option<Echo>,
}

#[derive(Clone, Copy)]
enum Echo {
    Stdout,
    Stderr,
}

impl LogSink {
    fn open(path: &Path, echo: Option<Echo>) -> anyhow::Result<LogSink> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("failed to open log file {}", path.display()))?;
        Ok(LogSink {
            file: Arc::new(file),
            echo,
        })
    }

    fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
        (&*self.file).write_all(buf)?;
        match self.echo {
            Some(Echo::Stdout) => {
                let mut out = std::io::stdout().lock();
                out.write_all(buf)?;
                out.flush()
            }
            Some(Echo::Stderr) => std::io::stderr().lock().write_all(buf),
            None => Ok(()),
        }
    }
}

impl IsTerminal for LogSink {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for LogSink {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl tokio::io::AsyncWrite for LogSink {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.write_all(buf).map(|()| buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Converts wasmtime's own error type into an `anyhow::Error`.
fn wasmtime_err(e: wasmtime::Error) -> anyhow::Error {
    anyhow::Error::from_boxed(e.into())
}

fn new_engine() -> anyhow::Result<Engine> {
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(POOL_INSTANCES)
        .total_core_instances(POOL_INSTANCES * 4)
        .total_memories(POOL_INSTANCES)
        .total_tables(POOL_INSTANCES * 2)
        .total_stacks(POOL_INSTANCES)
        // Spin's values for these.
        .max_component_instance_size(10 * MB)
        .max_core_instance_size(10 * MB)
        .max_core_instances_per_component(200)
        .max_tables_per_component(20)
        .table_elements(100_000)
        .max_memories_per_component(32)
        .max_memory_size(4 << 30)
        .linear_memory_keep_resident(2 * MB)
        .table_keep_resident(MB / 2);
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let engine = Engine::new(&config).map_err(wasmtime_err)?;
    // Advance the epoch until the engine is dropped.
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("devhost-epoch".to_string())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        })
        .context("failed to start the epoch thread")?;
    Ok(engine)
}

impl App {
    /// Loads the manifest and compiles each component from its `source`.
    pub fn load(manifest: &Path) -> anyhow::Result<App> {
        let manifest = Manifest::load(manifest)?;
        Self::from_manifest(manifest, None)
    }

    /// Loads the manifest but compiles `wasm` instead of the component's `source` (the
    /// manifest must have exactly one component).
    pub fn load_with_source(manifest: &Path, wasm: &Path) -> anyhow::Result<App> {
        let manifest = Manifest::load(manifest)?;
        anyhow::ensure!(
            manifest.components.len() == 1,
            "load_with_source needs a manifest with exactly one component, {} has {}",
            manifest.path.display(),
            manifest.components.len()
        );
        Self::from_manifest(manifest, Some(wasm))
    }

    fn from_manifest(manifest: Manifest, wasm: Option<&Path>) -> anyhow::Result<App> {
        let engine = new_engine()?;
        let mut linker: Linker<HostState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(wasmtime_err)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(wasmtime_err)?;
        variables::add_to_linker::<HostState, HasSelf<HostState>>(&mut linker, |s| s)
            .map_err(wasmtime_err)?;

        let mut components = HashMap::new();
        for (id, component) in &manifest.components {
            let source = wasm.unwrap_or(component.source.as_path());
            let compiled = Component::from_file(&engine, source)
                .map_err(wasmtime_err)
                .with_context(|| {
                    format!(
                        "failed to load component {id:?} from {} (run `devhost build` first?)",
                        source.display()
                    )
                })?;
            let pre = linker
                .instantiate_pre(&compiled)
                .and_then(ProxyPre::new)
                .map_err(wasmtime_err)
                .with_context(|| {
                    format!(
                        "component {id:?} ({}) cannot run here: it must export \
                         wasi:http/incoming-handler@0.2 and import only WASI 0.2, wasi:http \
                         and fermyon:spin/variables@2.0.0",
                        source.display()
                    )
                })?;
            components.insert(id.clone(), pre);
        }
        let router = Router::new(&manifest.triggers);
        Ok(App {
            manifest,
            router,
            engine,
            components,
        })
    }

    /// The validated manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The routes, as `spin up` lists them under "Available Routes".
    pub fn routes(&self) -> Vec<RouteDisplay<'_>> {
        self.router.display()
    }

    /// Resolves variables and outbound hosts for `opts`, binds the listener and starts
    /// serving. Fails, like `spin up`, on a required variable without a value, an undeclared
    /// `--variable`, or an `allowed_outbound_hosts` entry that resolves to something invalid.
    pub async fn serve(self: &Arc<Self>, opts: UpOptions) -> anyhow::Result<Server> {
        let resolved = resolve_components(&self.manifest, &opts)?;
        let log_dir = opts
            .log_dir
            .clone()
            .unwrap_or_else(|| self.manifest.dir.join(".spin").join("logs"));
        std::fs::create_dir_all(&log_dir)
            .with_context(|| format!("failed to create log directory {}", log_dir.display()))?;

        let outbound = Outbound::new(opts.connection_pooling);
        let mut components = HashMap::new();
        for (id, config) in resolved {
            let echo = |e| opts.echo_logs.then_some(e);
            let runtime = ComponentRuntime {
                id: Arc::from(id.as_str()),
                pre: self.components[&id].clone(),
                variables: Arc::new(config.variables),
                allowed: Arc::new(config.allowed),
                outbound: outbound.clone(),
                stdout: LogSink::open(
                    &log_dir.join(format!("{id}_stdout.txt")),
                    echo(Echo::Stdout),
                )?,
                stderr: LogSink::open(
                    &log_dir.join(format!("{id}_stderr.txt")),
                    echo(Echo::Stderr),
                )?,
                max_instance_memory: opts.max_instance_memory,
            };
            components.insert(id, runtime);
        }

        let listen = match opts.listen {
            Some(addr) => addr,
            None => DEFAULT_LISTEN.parse()?,
        };
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("failed to listen on {listen}"))?;
        let addr = listener.local_addr()?;

        let state = Arc::new(ServeState {
            app: Arc::clone(self),
            components,
        });
        let (shutdown, rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, state, rx));
        Ok(Server {
            addr,
            log_dir,
            shutdown,
            task,
        })
    }
}

/// One component's configuration for one server.
#[derive(Debug)]
struct ResolvedComponent {
    /// `[component.NAME.variables]`, rendered.
    variables: HashMap<String, String>,
    /// `allowed_outbound_hosts`, rendered and parsed.
    allowed: AllowedHosts,
}

/// Resolves application variables for `opts`, then each component's variables and
/// `allowed_outbound_hosts`; fails as `spin up` does on a missing required variable, an
/// undeclared `--variable`, or an outbound host that resolves to an invalid entry (such as
/// `""`, spin issue #3549).
fn resolve_components(
    manifest: &Manifest,
    opts: &UpOptions,
) -> anyhow::Result<HashMap<String, ResolvedComponent>> {
    let values = resolve_app_variables(&manifest.variables, &opts.variables, &opts.env)?;
    let mut resolved = HashMap::new();
    for (id, component) in &manifest.components {
        let mut variables = HashMap::new();
        for (name, template) in &component.variables {
            variables.insert(name.clone(), template.render(&values)?);
        }
        let mut hosts = Vec::new();
        for template in &component.allowed_outbound_hosts {
            let value = template.render(&values)?;
            hosts.push(AllowedHost::parse(&value).with_context(|| {
                format!(
                    "component {id:?}: allowed_outbound_hosts entry \"{template}\" resolved to \
                     an invalid host"
                )
            })?);
        }
        resolved.insert(
            id.clone(),
            ResolvedComponent {
                variables,
                allowed: AllowedHosts::from_hosts(hosts),
            },
        );
    }
    Ok(resolved)
}

impl Server {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where component stdout/stderr are written.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// Stops accepting, lets open connections finish for up to a second, then closes them.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<ServeState>, mut rx: watch::Receiver<bool>) {
    let mut connections = JoinSet::new();
    let connection_rx = rx.clone();
    loop {
        tokio::select! {
            _ = rx.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(serve_connection(
                        Arc::clone(&state),
                        stream,
                        peer,
                        connection_rx.clone(),
                    ));
                }
                Err(e) => {
                    eprintln!("devhost: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    connections.abort_all();
}

async fn serve_connection(
    state: Arc<ServeState>,
    stream: TcpStream,
    peer: SocketAddr,
    mut shutdown: watch::Receiver<bool>,
) {
    let service = hyper::service::service_fn(move |req| {
        let state = Arc::clone(&state);
        async move { Ok::<_, Infallible>(handle(state, req, peer).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = shutdown.changed() => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

fn empty_response(status: StatusCode) -> Response<HyperOutgoingBody> {
    let body = Empty::<Bytes>::new()
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}

async fn handle(
    state: Arc<ServeState>,
    mut req: Request<Incoming>,
    peer: SocketAddr,
) -> Response<HyperOutgoingBody> {
    let path = req.uri().path().to_string();
    let Some(route) = state.app.router.route(&path) else {
        return empty_response(StatusCode::NOT_FOUND);
    };
    // As Spin (trigger-http server.rs `set_req_uri`, headers.rs `prepare_request_headers`):
    // a routed request whose authority is missing, invalid or ambiguous, or with any header
    // value that is not UTF-8, fails in the host before an instance is made: a bare 500.
    let authority = match request_authority(&req) {
        Ok(authority) => authority,
        Err(why) => return refused(why),
    };
    if let Some((name, _)) = req
        .headers()
        .iter()
        .find(|(_, value)| std::str::from_utf8(value.as_bytes()).is_err())
    {
        return refused(&format!("the {name} header value is not valid UTF-8"));
    }
    let host = authority.to_string();
    let path_and_query = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    match Uri::builder()
        .scheme("http")
        .authority(authority)
        .path_and_query(path_and_query.as_str())
        .build()
    {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return refused("the request URI cannot be rebuilt"),
    }
    for (name, value) in spin_headers(&route, &host, &path_and_query, peer) {
        match HeaderValue::from_str(&value) {
            Ok(value) => {
                req.headers_mut()
                    .insert(HeaderName::from_static(name), value);
            }
            Err(_) => return refused("a spin-* header value is invalid"),
        }
    }

    let method = req.method().clone();
    let Some(component) = state.components.get(&route.component) else {
        return empty_response(StatusCode::NOT_FOUND);
    };
    match run_component(&state.app.engine, component, req).await {
        Ok(response) => response,
        Err(e) => {
            eprintln!(
                "devhost: component {:?} failed on {method} {path}: {}",
                route.component,
                one_line(&format!("{e:#}"))
            );
            empty_response(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// The request's authority as Spin's `set_req_uri` finds it: the `Host` header (UTF-8, a valid
/// authority) or the URI's, which must agree when both are present; one of them is required.
fn request_authority(req: &Request<Incoming>) -> Result<Authority, &'static str> {
    let from_header = match req.headers().get(header::HOST) {
        None => None,
        Some(value) => {
            let text = value
                .to_str()
                .map_err(|_| "the Host header is not valid UTF-8")?;
            Some(
                text.parse::<Authority>()
                    .map_err(|_| "the Host header holds an invalid authority")?,
            )
        }
    };
    match (from_header, req.uri().authority().cloned()) {
        (None, None) => Err("the request has no Host header"),
        (Some(a), None) | (None, Some(a)) => Ok(a),
        (Some(a), Some(b)) if a == b => Ok(a),
        (Some(_), Some(_)) => Err("the Host header does not match the URI's authority"),
    }
}

/// A request the host cannot hand to a component: Spin's answer (its service fails, hyper
/// answers `500` with an empty body and closes the connection), and a line on stderr as Spin's
/// `Error processing request`.
fn refused(why: &str) -> Response<HyperOutgoingBody> {
    eprintln!("devhost: error processing request: {why}");
    let mut response = empty_response(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Collapses a multi-line error (wasm backtraces) into one log line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn run_component(
    engine: &Engine,
    component: &ComponentRuntime,
    req: Request<Incoming>,
) -> anyhow::Result<Response<HyperOutgoingBody>> {
    let wasi = WasiCtx::builder()
        .stdout(component.stdout.clone())
        .stderr(component.stderr.clone())
        .build();
    let mut store = Store::new(
        engine,
        HostState {
            table: ResourceTable::new(),
            wasi,
            http: WasiHttpCtx::new(),
            hooks: OutboundPolicy {
                component: Arc::clone(&component.id),
                allowed: Arc::clone(&component.allowed),
                outbound: component.outbound.clone(),
            },
            component: Arc::clone(&component.id),
            variables: Arc::clone(&component.variables),
            memory: MemoryCap::new(Arc::clone(&component.id), component.max_instance_memory),
        },
    );
    store.limiter(|state| &mut state.memory);
    store.epoch_deadline_async_yield_and_update(1);
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let incoming = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)
        .map_err(wasmtime_err)?;
    let outparam = store
        .data_mut()
        .http()
        .new_response_outparam(sender)
        .map_err(wasmtime_err)?;
    let pre = component.pre.clone();
    let task = tokio::spawn(async move {
        let proxy = pre.instantiate_async(&mut store).await?;
        proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, incoming, outparam)
            .await
    });

    match receiver.await {
        Ok(Ok(response)) => {
            // The guest may keep running to stream the body; report a late failure.
            let id = Arc::clone(&component.id);
            tokio::spawn(async move {
                match task.await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => eprintln!(
                        "devhost: component {id:?} failed after sending its response head: {}",
                        one_line(&format!("{:#}", wasmtime_err(e)))
                    ),
                    Err(e) => eprintln!("devhost: component {id:?} task failed: {e}"),
                }
            });
            Ok(response)
        }
        Ok(Err(code)) => Err(anyhow!("the component set an error response: {code:?}")),
        Err(_) => match task.await {
            Ok(Ok(())) => Err(anyhow!("the component returned without setting a response")),
            Ok(Err(e)) => Err(wasmtime_err(e)),
            Err(e) => Err(anyhow!("the component task failed: {e}")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real_manifest() -> anyhow::Result<Manifest> {
        Manifest::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml"))
    }

    fn opts(vars: &[(&str, &str)]) -> UpOptions {
        UpOptions {
            variables: vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..UpOptions::default()
        }
    }

    #[test]
    fn resolves_the_real_manifest_with_defaults() -> anyhow::Result<()> {
        let resolved = resolve_components(&real_manifest()?, &opts(&[("api_key", "k")]))?;
        let c = &resolved["identity-accessor"];
        assert_eq!(c.variables["api_key"], "k");
        assert_eq!(c.variables["email_sources"], "auto");
        assert_eq!(
            c.variables["atlassian_api_url"],
            "https://api.atlassian.com"
        );
        assert!(c.allowed.allows("https", "api.atlassian.com", None));
        assert!(c.allowed.allows("https", "acme.atlassian.net", None));
        assert!(!c.allowed.allows("https", "example.com", None));
        assert!(!c.allowed.allows("http", "api.atlassian.com", None));
        Ok(())
    }

    #[test]
    fn required_variable_missing_fails_serve_config() -> anyhow::Result<()> {
        let err = resolve_components(&real_manifest()?, &opts(&[])).unwrap_err();
        assert!(
            err.to_string()
                .contains("no provider resolved required variable \"api_key\""),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn env_supplies_variables() -> anyhow::Result<()> {
        let mut o = opts(&[]);
        o.env
            .insert("SPIN_VARIABLE_API_KEY".into(), "from-env".into());
        o.env.insert(
            "SPIN_VARIABLE_ATLASSIAN_API_URL".into(),
            "http://127.0.0.1:8080".into(),
        );
        let resolved = resolve_components(&real_manifest()?, &o)?;
        let c = &resolved["identity-accessor"];
        assert_eq!(c.variables["api_key"], "from-env");
        assert!(c.allowed.allows("http", "127.0.0.1", Some(8080)));
        assert!(!c.allowed.allows("https", "api.atlassian.com", None));
        Ok(())
    }

    #[test]
    fn templated_outbound_host_must_resolve_to_a_host() -> anyhow::Result<()> {
        let m = real_manifest()?;
        let err = resolve_components(&m, &opts(&[("api_key", "k"), ("atlassian_api_url", "")]))
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("is not an allowed outbound host format"),
            "{text}"
        );
        assert!(text.contains("{{ atlassian_api_url }}"), "{text}");

        let err = resolve_components(
            &m,
            &opts(&[
                ("api_key", "k"),
                ("atlassian_api_url", "https://api.atlassian.com/admin"),
            ]),
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("path"), "{err:#}");

        let ok = resolve_components(
            &m,
            &opts(&[
                ("api_key", "k"),
                ("atlassian_api_url", "https://api.atlassian.com/"),
            ]),
        )?;
        assert!(ok["identity-accessor"]
            .allowed
            .allows("https", "api.atlassian.com", Some(443)));
        Ok(())
    }

    fn request(url: &str) -> hyper::Request<WasiBody> {
        let body = Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        let mut req = hyper::Request::new(body);
        *req.uri_mut() = url.parse().expect("test url");
        req
    }

    #[tokio::test]
    async fn denied_requests_fail_with_http_request_denied() -> anyhow::Result<()> {
        let mut policy = OutboundPolicy {
            component: Arc::from("c"),
            allowed: Arc::new(AllowedHosts::parse(&["http://127.0.0.1:9"])?),
            outbound: Outbound::new(true),
        };
        let fut = policy.send_request(
            request("https://example.com/secret?token=x"),
            None,
            Box::new(async { Ok(()) }),
        );
        match Pin::from(fut).await {
            Err(wasmtime_wasi_http::Error::HttpRequestDenied) => Ok(()),
            Err(e) => anyhow::bail!("wrong error: {e}"),
            Ok(_) => anyhow::bail!("request was not denied"),
        }
    }

    #[tokio::test]
    async fn allowed_requests_go_out() -> anyhow::Result<()> {
        // A one-shot HTTP server on 127.0.0.1.
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let server = tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut s, _) = listener.accept().await?;
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await?;
            s.write_all(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                .await?;
            Ok::<_, std::io::Error>(())
        });
        let mut policy = OutboundPolicy {
            component: Arc::from("c"),
            allowed: Arc::new(AllowedHosts::parse(&[format!("http://{addr}")])?),
            outbound: Outbound::new(true),
        };
        let fut = policy.send_request(
            request(&format!("http://{addr}/x")),
            None,
            Box::new(async { Ok(()) }),
        );
        let (response, _io) = Pin::from(fut)
            .await
            .map_err(|e| anyhow!("send failed: {e}"))?;
        assert_eq!(response.status(), StatusCode::NO_CONTENT);
        server.await??;
        Ok(())
    }

    #[test]
    fn memory_cap_refuses_growth_past_it_as_spin_does() -> anyhow::Result<()> {
        use wasmtime::ResourceLimiter;
        const PAGE: usize = 64 * 1024;
        let mut cap = MemoryCap::new(Arc::from("c"), Some(8 * MB));
        // Up to and exactly at the cap: allowed (spin-core: `desired <= limit`).
        assert!(cap
            .memory_growing(0, 17 * PAGE, None)
            .map_err(wasmtime_err)?);
        assert!(cap
            .memory_growing(17 * PAGE, 8 * MB, Some(4 << 30))
            .map_err(wasmtime_err)?);
        // One page past it: refused with `Ok(false)`, so `memory.grow` returns -1 (no trap).
        assert!(!cap
            .memory_growing(8 * MB, 8 * MB + PAGE, Some(4 << 30))
            .map_err(wasmtime_err)?);
        assert!(!cap.memory_growing(0, 9 * MB, None).map_err(wasmtime_err)?);
        // Tables are not limited, and no cap allows anything.
        assert!(cap.table_growing(0, 1 << 20, None).map_err(wasmtime_err)?);
        let mut none = MemoryCap::new(Arc::from("c"), None);
        assert!(none
            .memory_growing(0, 4 << 30, None)
            .map_err(wasmtime_err)?);
        Ok(())
    }

    #[test]
    fn log_sink_appends() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("c_stdout.txt");
        let sink = LogSink::open(&path, None)?;
        sink.write_all(b"one\n")?;
        LogSink::open(&path, None)?.write_all(b"two\n")?;
        assert_eq!(std::fs::read_to_string(&path)?, "one\ntwo\n");
        Ok(())
    }

    #[test]
    fn errors_become_one_line() {
        assert_eq!(one_line("a\n  0: x\n\tb"), "a 0: x b");
    }
}
