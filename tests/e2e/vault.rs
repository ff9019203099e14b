//! Secret-store reads, on real Spin: how many times each request makes Spin ask HashiCorp Vault
//! for a variable.
//!
//! [`VaultStandIn`] serves the one endpoint Spin's Vault variables provider calls (Spin
//! `crates/variables-vault`, v3.6.3 and v4.0.2: vaultrs `kv2::read` of `<mount>/<prefix>/<name>`,
//! that is `GET /v1/<mount>/data/<prefix>/<name>` with `X-Vault-Token`, field `value`; a 404
//! with Vault's `{"errors":[]}` passes on to the next provider) and counts every read by
//! variable name. With `runtime-config/vault.toml` pointed at it, the secrets in it and every
//! other setting in `SPIN_VARIABLE_*` (SpinKube's way), each request kind is sent once and its
//! reads counted.
//!
//! Two shares make up a request's reads. **The component's**: each variable it reads, at most
//! once per request (`platform::ReadOnce`), only `api_key` before the key is checked, and only
//! the settings the request needs. **Spin's**: on an instance's first outbound HTTP request,
//! Spin resolves *every* application variable once, to check `allowed_outbound_hosts` (Spin
//! `crates/factor-outbound-networking/src/lib.rs`, `resolver.prepare()`;
//! `crates/expressions/src/lib.rs`, `prepare` loops over all variables), whether or not the
//! manifest templates a host. A lookup with ids (and `/admin/status`, whose live checks call
//! out) therefore costs the component's share plus one read of every variable; a lookup of `[]`
//! makes no call and shows the component's share alone.
//!
//! Where Vault is asked depends on the provider order. With Vault first (vault.toml without its
//! `env` provider, as it was), every variable Spin resolves is a Vault round trip, secret or not
//! (a 404 for those in `SPIN_VARIABLE_*`). With the `env` provider listed before it (vault.toml
//! as it is), a variable in `SPIN_VARIABLE_*` never reaches Vault: only the secrets do. Both
//! layouts are measured.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{ensure, Context, Result};
use fake_atlassian::Directory;
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use identity_accessor::config::{ALL_VARIABLES, SECRET_VARIABLES};
use reqwest::Method;
use serde_json::json;
use tokio::net::TcpListener;

use crate::support::*;

/// The token Spin must present.
const TOKEN: &str = "vault-stand-in-token-0123456789";
/// The KV v2 mount and the prefix of the secrets, as in runtime-config/vault.toml.
const MOUNT: &str = "secret";
const PREFIX: &str = "identity-accessor";

/// A stand-in for Vault's KV v2 read API, counting reads per variable.
pub struct VaultStandIn {
    addr: SocketAddr,
    reads: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

struct State {
    secrets: HashMap<String, String>,
    reads: Arc<Mutex<Vec<String>>>,
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// One request, as Vault answers it: `GET /v1/<mount>/data/<prefix>/<name>` with the token is
/// the secret (200) or `{"errors":[]}` (404); a wrong token is 403; anything else 404.
fn answer(state: &State, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let token_ok = request
        .headers()
        .get("x-vault-token")
        .is_some_and(|t| t.as_bytes() == TOKEN.as_bytes());
    let prefix = format!("/v1/{MOUNT}/data/{PREFIX}/");
    let name = request.uri().path().strip_prefix(prefix.as_str());
    let (Some(name), true) = (name, request.method() == hyper::Method::GET) else {
        return json_response(StatusCode::NOT_FOUND, json!({ "errors": [] }));
    };
    state
        .reads
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(name.to_string());
    if !token_ok {
        return json_response(
            StatusCode::FORBIDDEN,
            json!({ "errors": ["permission denied"] }),
        );
    }
    match state.secrets.get(name) {
        Some(value) => json_response(
            StatusCode::OK,
            json!({
                "request_id": "00000000-0000-0000-0000-000000000000",
                "lease_id": "",
                "renewable": false,
                "lease_duration": 0,
                "data": {
                    "data": { "value": value },
                    "metadata": {
                        "created_time": "2026-01-01T00:00:00.000000000Z",
                        "custom_metadata": null,
                        "deletion_time": "",
                        "destroyed": false,
                        "version": 1
                    }
                },
                "wrap_info": null,
                "warnings": null,
                "auth": null
            }),
        ),
        None => json_response(StatusCode::NOT_FOUND, json!({ "errors": [] })),
    }
}

impl VaultStandIn {
    /// Serves `secrets` (variable name → value) on 127.0.0.1.
    pub async fn start(secrets: &[(&str, &str)]) -> Result<VaultStandIn> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let reads = Arc::new(Mutex::new(Vec::new()));
        let state = Arc::new(State {
            secrets: secrets
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            reads: Arc::clone(&reads),
        });
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = Arc::clone(&state);
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let response = answer(&state, &request);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(VaultStandIn { addr, reads, task })
    }

    /// The project's `runtime-config/vault.toml` (an `env` provider, then Vault), its Vault
    /// pointed at this stand-in; without `env_first`, its `env` provider taken out (Vault first,
    /// as the file was before).
    pub fn runtime_config(&self, env_first: bool) -> Result<String> {
        let text = crate::manifest::read("runtime-config/vault.toml")?;
        let url = "url = \"https://vault.example.internal:8200\"";
        let token = "token = \"REPLACE-WITH-A-READ-ONLY-VAULT-TOKEN\"";
        let env = "[[variables_provider]]\ntype = \"env\"\n";
        ensure!(
            text.contains(url)
                && text.contains(token)
                && text.contains(env)
                && text.contains(&format!("mount = \"{MOUNT}\""))
                && text.contains(&format!("prefix = \"{PREFIX}\"")),
            "vault.toml no longer has the url, token, env provider, mount and prefix this test sets"
        );
        let text = text
            .replace(url, &format!("url = \"http://{}\"", self.addr))
            .replace(token, &format!("token = \"{TOKEN}\""));
        Ok(if env_first {
            text
        } else {
            text.replace(env, "")
        })
    }

    /// The reads since the last call, by variable name, in order.
    pub fn take_reads(&self) -> Vec<String> {
        std::mem::take(&mut *self.reads.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// One request kind of the measurement.
struct Kind {
    name: &'static str,
    method: Method,
    path: &'static str,
    key: Option<&'static str>,
    body: Option<serde_json::Value>,
    status: u16,
}

fn kinds(ids: &[String]) -> Vec<Kind> {
    let lookup = |ids: &[String]| Some(json!({ "accountIds": ids }));
    vec![
        Kind {
            name: "GET /health",
            method: Method::GET,
            path: "/health",
            key: None,
            body: None,
            status: 200,
        },
        Kind {
            name: "GET /health/ready",
            method: Method::GET,
            path: "/health/ready",
            key: None,
            body: None,
            status: 200,
        },
        Kind {
            name: "POST / without a key",
            method: Method::POST,
            path: "/",
            key: None,
            body: lookup(ids),
            status: 401,
        },
        Kind {
            name: "POST / with a wrong key",
            method: Method::POST,
            path: "/",
            key: Some("wrong-key-wrong-key-wrong-key-0123456789"),
            body: lookup(ids),
            status: 401,
        },
        Kind {
            name: "GET /admin",
            method: Method::GET,
            path: "/admin",
            key: None,
            body: None,
            status: 200,
        },
        Kind {
            name: "GET /admin/status without a key",
            method: Method::GET,
            path: "/admin/status",
            key: None,
            body: None,
            status: 401,
        },
        Kind {
            name: "POST / key, []",
            method: Method::POST,
            path: "/",
            key: Some(KEY),
            body: lookup(&[]),
            status: 200,
        },
        Kind {
            name: "POST / key, ids",
            method: Method::POST,
            path: "/",
            key: Some(KEY),
            body: lookup(ids),
            status: 200,
        },
        Kind {
            name: "GET /admin/status key",
            method: Method::GET,
            path: "/admin/status",
            key: Some(KEY),
            body: None,
            status: 200,
        },
    ]
}

/// Reads per variable name.
fn per_name(reads: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for name in reads {
        *counts.entry(name.clone()).or_insert(0) += 1;
    }
    counts
}

/// Serves the component on Spin with the secrets in the stand-in and everything else in
/// `SPIN_VARIABLE_*`, sends each request kind once, and returns the Vault reads of each.
async fn measure(env_first: bool) -> Result<(Vec<(&'static str, Vec<String>)>, Env)> {
    let directory = Directory::demo();
    let fake = fake(directory.clone()).await?;
    let variables = source_vars(&fake, Sources::Chain);
    let secrets: Vec<(&str, &str)> = variables
        .iter()
        .filter(|(name, _)| SECRET_VARIABLES.contains(&name.as_str()))
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let vault = VaultStandIn::start(&secrets).await?;
    let mut env: HashMap<String, String> = variables
        .iter()
        .filter(|(name, _)| !SECRET_VARIABLES.contains(&name.as_str()))
        .map(|(n, v)| (format!("SPIN_VARIABLE_{}", n.to_uppercase()), v.clone()))
        .collect();
    if env_first {
        // As vault.toml advises: every non-secret setting given, at its default if nothing else,
        // so that none falls through to Vault.
        for (name, default) in [
            ("email_sources", "auto"),
            ("confluence_cloud_id", ""),
            ("max_account_ids", "1000"),
            ("request_timeout_ms", "25000"),
            ("upstream_concurrency", "4"),
        ] {
            env.entry(format!("SPIN_VARIABLE_{}", name.to_uppercase()))
                .or_insert_with(|| default.to_string());
        }
    }
    let server = serve_with(ServeOptions {
        env,
        spin_runtime_config: Some(vault.runtime_config(env_first)?),
        ..ServeOptions::default()
    })
    .await?;
    let mut test_env = Env::assemble(fake, server, directory)?;
    test_env.never_logged.push(TOKEN.to_string());
    let ids: Vec<String> = test_env.ids().into_iter().take(5).collect();
    let mut rows = Vec::new();
    let mut answered = 0;
    for kind in kinds(&ids) {
        vault.take_reads();
        let mut request = test_env.request(kind.method.clone(), kind.path);
        if let Some(key) = kind.key {
            request = request.header("x-api-key", key);
        }
        if let Some(body) = &kind.body {
            request = request.json(body);
        }
        let (status, _, body) = test_env.send(request).await?;
        answered += 1;
        ensure!(
            status == kind.status,
            "{}: {status} {}",
            kind.name,
            String::from_utf8_lossy(&body)
        );
        // Every read happens before the answer; the log line follows it.
        wait_for_log_lines(test_env.server.log_dir(), answered).await;
        rows.push((kind.name, vault.take_reads()));
    }
    vault.stop();
    Ok((rows, test_env))
}

fn table(title: &str, rows: &[(&'static str, Vec<String>)]) -> String {
    let mut out = format!("{title}\n");
    for (name, reads) in rows {
        out.push_str(&format!(
            "  {name:<34} {:>3}  {:?}\n",
            reads.len(),
            per_name(reads)
        ));
    }
    out
}

fn reads_of<'a>(rows: &'a [(&'static str, Vec<String>)], kind: &str) -> Result<&'a [String]> {
    rows.iter()
        .find(|(name, _)| *name == kind)
        .map(|(_, reads)| reads.as_slice())
        .with_context(|| format!("no row {kind}"))
}

/// A request without a valid key reads `api_key` once and nothing else.
fn without_a_valid_key_only_api_key_is_read(rows: &[(&'static str, Vec<String>)]) -> Result<()> {
    for kind in [
        "POST / without a key",
        "POST / with a wrong key",
        "GET /admin/status without a key",
    ] {
        ensure!(reads_of(rows, kind)? == ["api_key"], "{kind}");
    }
    Ok(())
}

/// Each of `names`, read `times` times.
fn each(names: &[&str], times: usize) -> BTreeMap<String, usize> {
    names.iter().map(|n| (n.to_string(), times)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_reads_per_request_kind_vault_first() -> Result<()> {
    if spin_only("counts Spin's own Vault provider's reads: devhost reads no runtime config") {
        return Ok(());
    }
    let (rows, env) = measure(false).await?;
    eprintln!(
        "{}",
        table(
            "Vault reads, Vault first, non-secrets in SPIN_VARIABLE_*",
            &rows
        )
    );
    let all = each(&ALL_VARIABLES, 1);
    let public: Vec<&str> = ALL_VARIABLES
        .iter()
        .copied()
        .filter(|n| !SECRET_VARIABLES.contains(n))
        .collect();
    // Nothing for liveness and the page; api_key alone without a valid key.
    for kind in ["GET /health", "GET /admin"] {
        ensure!(reads_of(&rows, kind)?.is_empty(), "{kind}");
    }
    without_a_valid_key_only_api_key_is_read(&rows)?;
    // Readiness: each non-secret setting once at most, no secret: never more than it checks.
    let ready = per_name(reads_of(&rows, "GET /health/ready")?);
    ensure!(
        ready.values().all(|&n| n == 1) && ready.keys().all(|n| public.contains(&n.as_str())),
        "readiness read {ready:?}"
    );
    // A key holder's lookup without an upstream call: the component's share, each variable once.
    let own = per_name(reads_of(&rows, "POST / key, []")?);
    ensure!(own == all, "the component's share: {own:?}");
    // With ids, and /admin/status: the component's share plus Spin's, one read of every
    // variable on the first outbound call.
    for kind in ["POST / key, ids", "GET /admin/status key"] {
        let reads = per_name(reads_of(&rows, kind)?);
        ensure!(reads == each(&ALL_VARIABLES, 2), "{kind}: {reads:?}");
    }
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vault_reads_per_request_kind_env_provider_first() -> Result<()> {
    if spin_only("counts Spin's own Vault provider's reads: devhost reads no runtime config") {
        return Ok(());
    }
    let (rows, env) = measure(true).await?;
    eprintln!(
        "{}",
        table(
            "Vault reads, env provider first (every non-secret in SPIN_VARIABLE_*)",
            &rows
        )
    );
    // Only secrets reach Vault; readiness and the anonymous routes never do but for api_key.
    for (name, reads) in &rows {
        ensure!(
            reads.iter().all(|n| SECRET_VARIABLES.contains(&n.as_str())),
            "{name}: {reads:?}"
        );
    }
    for kind in ["GET /health", "GET /health/ready", "GET /admin"] {
        ensure!(reads_of(&rows, kind)?.is_empty(), "{kind}");
    }
    without_a_valid_key_only_api_key_is_read(&rows)?;
    ensure!(
        per_name(reads_of(&rows, "POST / key, []")?) == each(&SECRET_VARIABLES, 1),
        "{rows:?}"
    );
    for kind in ["POST / key, ids", "GET /admin/status key"] {
        ensure!(
            per_name(reads_of(&rows, kind)?) == each(&SECRET_VARIABLES, 2),
            "{kind}"
        );
    }
    env.finish().await
}
