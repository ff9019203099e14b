//! The deployment files, checked without Spin or a cluster.
//!
//! - `runtime-config/*.toml` parse the way Spin 3.x/4.x parses a runtime config
//!   (`spin-runtime-config`: `[[variables_provider]]` of type `vault`, `azure_key_vault`, `env`
//!   or `static`, each refusing unknown fields; `[outbound_http]`), with the project's rules on
//!   top: `connection_pooling = true` whenever `[outbound_http]` is written (Spin reads it as
//!   false once the table exists), Azure credentials all or none, no env prefix ending in `_`.
//! - `deploy/kubernetes/*.yaml` hold SpinApps that supply every variable the app reads (test-only
//!   ones excepted), secrets and `atlassian_api_url` only through `secretKeyRef`, each reference
//!   naming a key of a Secret in the same directory; liveness on `/health`, readiness on
//!   `/health/ready`; the HPA, the Gateway API `HTTPRoute` and the legacy Ingress point at the
//!   Service the operator creates (the SpinApp's name, port 80); TLS terminates at the Gateway,
//!   which has no plain-HTTP listener; no object names a namespace (spin-operator's webhook wants
//!   the executor in the SpinApp's own namespace, so everything is applied with `-n`); and the
//!   plain values plus sample secrets load as a valid configuration.
//! - No deployment file or deploy doc mentions a test-only variable (`allow_loopback_http`).
//! - Every `runtime-config/...` and `deploy/kubernetes/...` path the docs mention exists, and
//!   DEPLOY.md states the HPA's replicas and every metric it scales on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{bail, ensure, Context, Result};
use identity_accessor::config::{
    Config, ALL_VARIABLES, ATLASSIAN_API_URL, DEFAULT_ATLASSIAN_API_URL, REQUEST_TIMEOUT_MS,
    UPSTREAM_CONCURRENCY,
};
use identity_accessor::platform::{VariableError, Variables};
use serde::Deserialize;
use serde_yaml::Value;

use crate::manifest::{
    check_allowed_host, check_variable_name, load_manifest, read, repo_path, DOC_FILES, SECRETS,
};

/// Variables that exist only for the test tools (loopback `http://` to the fake Atlassian).
/// Deployments never pass them, and no deployment file or deploy doc may mention them.
const TEST_ONLY_VARIABLES: [&str; 1] = ["allow_loopback_http"];

/// Settings that are not credentials but decide where credentials are sent: they come from the
/// Secret too, kept and changed like the credentials, never a plain value in the SpinApp.
const CREDENTIAL_ROUTING: [&str; 1] = [ATLASSIAN_API_URL];

/// The port of the Service spin-operator creates for a SpinApp (`spinapp.DefaultHTTPPort`).
const OPERATOR_SERVICE_PORT: i64 = 80;

/// A Spin runtime-config file: the tables these examples may use.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuntimeConfig {
    #[serde(default)]
    variables_provider: Vec<Provider>,
    #[serde(default)]
    outbound_http: Option<OutboundHttp>,
}

/// `[[variables_provider]]`, tagged by `type` (spin-runtime-config `VariableProviderConfiguration`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
enum Provider {
    Vault(VaultProvider),
    AzureKeyVault(AzureProvider),
    Env(EnvProvider),
    Static(StaticProvider),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VaultProvider {
    url: String,
    token: String,
    mount: String,
    #[serde(default)]
    prefix: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AzureProvider {
    vault_url: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    tenant_id: Option<String>,
    #[allow(dead_code)]
    authority_host: Option<AzureAuthorityHost>,
}

/// Spin's spelling of the Azure clouds (`spin_variables_azure::AzureAuthorityHost`).
#[derive(Debug, Deserialize)]
#[allow(clippy::enum_variant_names)]
enum AzureAuthorityHost {
    AzurePublicCloud,
    AzureChina,
    AzureGermany,
    AzureGovernment,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvProvider {
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    dotenv_path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StaticProvider {
    values: BTreeMap<String, String>,
}

/// `[outbound_http]`: Spin 3.x/4.0 names, and 4.1's `max_connections`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutboundHttp {
    #[serde(default)]
    connection_pooling: bool,
    #[serde(default)]
    max_concurrent_requests: Option<usize>,
    #[serde(default)]
    max_connections: Option<usize>,
}

/// The files of a directory with the given extension, sorted.
fn files(dir: &str, ext: &str) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(repo_path(dir)).with_context(|| format!("listing {dir}"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == ext) {
            out.push(path);
        }
    }
    out.sort();
    ensure!(!out.is_empty(), "no *.{ext} in {dir}");
    Ok(out)
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[test]
fn runtime_config_examples_parse_as_spin_parses_them() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let mut kinds = BTreeSet::new();
    for path in files("runtime-config", "toml")? {
        let name = file_name(&path);
        let text = std::fs::read_to_string(&path)?;
        ensure!(text.starts_with('#'), "{name} should open with comments");
        let rc: RuntimeConfig =
            toml::from_str(&text).with_context(|| format!("{name} is not a runtime config"))?;
        ensure!(
            !rc.variables_provider.is_empty() || rc.outbound_http.is_some(),
            "{name} configures nothing"
        );
        for provider in &rc.variables_provider {
            match provider {
                Provider::Vault(v) => {
                    kinds.insert("vault");
                    ensure!(
                        v.url.starts_with("https://") || v.url.starts_with("http://"),
                        "{name}: vault url"
                    );
                    ensure!(!v.token.is_empty() && !v.mount.is_empty(), "{name}: vault");
                    if let Some(prefix) = &v.prefix {
                        ensure!(
                            !prefix.is_empty()
                                && !prefix.starts_with('/')
                                && !prefix.ends_with('/'),
                            "{name}: the vault prefix is joined with `/`"
                        );
                    }
                }
                Provider::AzureKeyVault(a) => {
                    kinds.insert("azure_key_vault");
                    ensure!(a.vault_url.starts_with("https://"), "{name}: vault_url");
                    let given = [&a.client_id, &a.client_secret, &a.tenant_id]
                        .iter()
                        .filter(|v| v.is_some())
                        .count();
                    ensure!(
                        given == 0 || given == 3,
                        "{name}: client_id, client_secret and tenant_id: all or none"
                    );
                }
                Provider::Env(e) => {
                    kinds.insert("env");
                    if let Some(prefix) = &e.prefix {
                        ensure!(
                            !prefix.is_empty() && !prefix.ends_with('_'),
                            "{name}: Spin joins the prefix to the name with `_` itself"
                        );
                    }
                    if let Some(path) = &e.dotenv_path {
                        ensure!(!path.as_os_str().is_empty(), "{name}: dotenv_path");
                    }
                }
                Provider::Static(s) => {
                    kinds.insert("static");
                    for key in s.values.keys() {
                        check_variable_name(key)?;
                    }
                }
            }
        }
        if let Some(http) = &rc.outbound_http {
            kinds.insert("outbound_http");
            ensure!(
                http.connection_pooling,
                "{name}: write `connection_pooling = true` with [outbound_http]"
            );
            ensure!(
                http.max_concurrent_requests.is_none() || http.max_connections.is_none(),
                "{name}: Spin refuses both max_concurrent_requests and max_connections"
            );
        }
    }
    for wanted in ["vault", "azure_key_vault", "env", "outbound_http"] {
        ensure!(
            kinds.contains(wanted),
            "no runtime-config example for {wanted}"
        );
    }
    Ok(())
}

#[test]
fn vault_example_stores_secrets_where_spin_reads_them() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let text = read("runtime-config/vault.toml")?;
    let rc: RuntimeConfig = toml::from_str(&text)?;
    // SPIN_VARIABLE_* first, then Vault: a setting given in the environment never costs a Vault
    // round trip (tests/e2e/vault.rs measures both orders on real Spin).
    let [Provider::Env(env), Provider::Vault(vault)] = rc.variables_provider.as_slice() else {
        bail!("vault.toml: an env provider, then vault");
    };
    ensure!(
        env.prefix.is_none() && env.dotenv_path.is_none(),
        "vault.toml: the env provider reads SPIN_VARIABLE_* as Spin's default one does"
    );
    let prefix = vault.prefix.clone().unwrap_or_default();
    let mut stored = BTreeSet::new();
    for line in text.lines().filter(|l| l.contains("vault kv put")) {
        let mount = format!("-mount={}", vault.mount);
        ensure!(line.contains(&mount), "{line:?} does not use {mount}");
        let path = line
            .split_whitespace()
            .find(|w| w.starts_with(&format!("{prefix}/")))
            .with_context(|| format!("{line:?} does not write under {prefix}/"))?;
        stored.insert(path[prefix.len() + 1..].to_string());
    }
    let secrets: BTreeSet<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    ensure!(
        stored.is_subset(&secrets),
        "vault.toml stores non-secrets: {stored:?}"
    );
    ensure!(
        stored.contains("api_key"),
        "vault.toml does not store api_key"
    );
    Ok(())
}

/// A SpinApp (`core.spinkube.dev/v1alpha1`), with the spec fields of spin-operator 0.6; unknown
/// fields are refused (the API server would silently prune them).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SpinApp {
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    metadata: Metadata,
    spec: SpinAppSpec,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct SpinAppSpec {
    executor: Option<String>,
    image: String,
    image_pull_secrets: Option<Value>,
    checks: Option<Checks>,
    replicas: Option<i32>,
    enable_autoscaling: Option<bool>,
    runtime_config: Option<Value>,
    volumes: Option<Value>,
    volume_mounts: Option<Value>,
    #[serde(default)]
    variables: Vec<SpinVar>,
    service_annotations: Option<Value>,
    deployment_annotations: Option<Value>,
    pod_annotations: Option<Value>,
    pod_labels: Option<Value>,
    resources: Option<Resources>,
    components: Option<Vec<String>>,
    service_account_name: Option<String>,
    invocation_limits: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct SpinVar {
    name: String,
    value: Option<Value>,
    value_from: Option<VarSource>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct VarSource {
    secret_key_ref: Option<KeyRef>,
    config_map_key_ref: Option<KeyRef>,
    field_ref: Option<Value>,
    resource_field_ref: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRef {
    name: String,
    key: String,
    #[serde(default)]
    optional: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Checks {
    readiness: Option<Probe>,
    liveness: Option<Probe>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct Probe {
    http_get: Option<HttpGet>,
    initial_delay_seconds: Option<i32>,
    timeout_seconds: Option<i32>,
    period_seconds: Option<i32>,
    success_threshold: Option<i32>,
    failure_threshold: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct HttpGet {
    path: String,
    http_headers: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Resources {
    limits: Option<BTreeMap<String, Value>>,
    requests: Option<BTreeMap<String, Value>>,
}

/// Every YAML document in `deploy/kubernetes`, with its file name.
fn kubernetes_documents() -> Result<Vec<(String, Value)>> {
    let mut docs = Vec::new();
    for path in files("deploy/kubernetes", "yaml")? {
        let name = file_name(&path);
        let text = std::fs::read_to_string(&path)?;
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc).with_context(|| format!("{name}: bad YAML"))?;
            if !value.is_null() {
                docs.push((name.clone(), value));
            }
        }
    }
    Ok(docs)
}

/// The path of the first mapping key named `wanted`, anywhere in `doc`.
fn key_path(doc: &Value, wanted: &str) -> Option<String> {
    match doc {
        Value::Mapping(map) => map.iter().find_map(|(k, v)| {
            let k = k.as_str().unwrap_or("?");
            if k == wanted {
                Some(k.to_string())
            } else {
                key_path(v, wanted).map(|p| format!("{k}.{p}"))
            }
        }),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| key_path(v, wanted).map(|p| format!("[{i}].{p}"))),
        _ => None,
    }
}

fn kind(doc: &Value) -> &str {
    doc.get("kind").and_then(Value::as_str).unwrap_or("")
}

fn str_at<'a>(doc: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(doc, |v, k| v.get(*k))?.as_str()
}

fn i64_at(doc: &Value, path: &[&str]) -> Option<i64> {
    path.iter().try_fold(doc, |v, k| v.get(*k))?.as_i64()
}

/// The SpinApps, by file.
fn spinapps(docs: &[(String, Value)]) -> Result<Vec<(String, SpinApp)>> {
    docs.iter()
        .filter(|(_, d)| kind(d) == "SpinApp")
        .map(|(file, d)| {
            let app: SpinApp = serde_yaml::from_value(d.clone())
                .with_context(|| format!("{file}: not a SpinApp of spin-operator 0.6"))?;
            Ok((file.clone(), app))
        })
        .collect()
}

/// The keys of every Secret: (secret name, key) -> value.
fn secret_keys(docs: &[(String, Value)]) -> Result<BTreeMap<(String, String), String>> {
    let mut keys = BTreeMap::new();
    for (file, doc) in docs.iter().filter(|(_, d)| kind(d) == "Secret") {
        ensure!(
            str_at(doc, &["apiVersion"]) == Some("v1"),
            "{file}: Secret apiVersion"
        );
        let name = str_at(doc, &["metadata", "name"]).context("Secret without a name")?;
        for field in ["stringData", "data"] {
            if let Some(map) = doc.get(field).and_then(Value::as_mapping) {
                for (key, value) in map {
                    let key = key.as_str().context("Secret key is not a string")?;
                    let value = value
                        .as_str()
                        .with_context(|| format!("{file}: {key} must be a quoted string"))?;
                    keys.insert((name.to_string(), key.to_string()), value.to_string());
                }
            }
        }
    }
    Ok(keys)
}

#[test]
fn kubernetes_yaml_parses_into_known_objects() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let docs = kubernetes_documents()?;
    for (file, doc) in &docs {
        ensure!(
            str_at(doc, &["metadata", "name"]).is_some_and(|n| !n.is_empty()),
            "{file}: an object without metadata.name"
        );
        ensure!(
            matches!(
                kind(doc),
                "SpinApp"
                    | "Secret"
                    | "HorizontalPodAutoscaler"
                    | "Gateway"
                    | "HTTPRoute"
                    | "Ingress"
            ),
            "{file}: unexpected kind {:?}",
            kind(doc)
        );
        // spin-operator's webhook looks the executor up in the SpinApp's own namespace
        // ("executor does not exist in namespace"), and the shim executor manifest names none:
        // the docs apply everything with `-n NAMESPACE`, which works only if no object here
        // pins another namespace (kubectl refuses a mismatch; a cross-namespace reference
        // would point out of the user's namespace).
        if let Some(path) = key_path(doc, "namespace") {
            bail!("{file}: {} names a namespace at {path}", kind(doc));
        }
    }
    for kind_wanted in ["Gateway", "HTTPRoute"] {
        ensure!(
            docs.iter().any(|(_, d)| kind(d) == kind_wanted),
            "no {kind_wanted}: the Gateway API is the primary way in"
        );
    }
    let apps = spinapps(&docs)?;
    ensure!(!apps.is_empty(), "no SpinApp");
    ensure!(
        apps.iter().any(|(_, a)| a.spec.replicas.is_some()),
        "no SpinApp with a replica count"
    );
    ensure!(
        apps.iter()
            .any(|(_, a)| a.spec.enable_autoscaling == Some(true)),
        "no autoscaled SpinApp"
    );
    Ok(())
}

/// Variables from a map, for loading the configuration a SpinApp would give the component.
struct MapVariables(BTreeMap<String, String>);

impl Variables for MapVariables {
    fn get(&self, name: &str) -> Result<Option<String>, VariableError> {
        Ok(self.0.get(name).cloned())
    }
}

#[test]
fn spinapps_supply_every_variable_and_secrets_only_from_secrets() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let manifest = load_manifest()?;
    let docs = kubernetes_documents()?;
    let secrets = secret_keys(&docs)?;
    for (file, app) in spinapps(&docs)? {
        let spec = &app.spec;
        ensure!(app.api_version == "core.spinkube.dev/v1alpha1", "{file}");
        ensure!(
            spec.executor.as_deref() == Some("containerd-shim-spin"),
            "{file}"
        );
        ensure!(spec.image.contains(':'), "{file}: tag the image");
        ensure!(
            spec.replicas.is_some() != (spec.enable_autoscaling == Some(true)),
            "{file}: either replicas or enableAutoscaling, not both"
        );
        if let Some(replicas) = spec.replicas {
            ensure!(replicas >= 1, "{file}: replicas");
        }
        let readiness = spec
            .checks
            .as_ref()
            .and_then(|c| c.readiness.as_ref())
            .and_then(|p| p.http_get.as_ref())
            .map(|g| g.path.as_str());
        ensure!(
            readiness == Some("/health/ready"),
            "{file}: readiness on /health/ready (reads the non-secret settings)"
        );
        let liveness = spec
            .checks
            .as_ref()
            .and_then(|c| c.liveness.as_ref())
            .and_then(|p| p.http_get.as_ref())
            .map(|g| g.path.as_str());
        ensure!(
            liveness == Some("/health"),
            "{file}: liveness on /health (reads no setting: a restart cannot fix one)"
        );

        // What the component would see: plain values, and a sample value for each secretKeyRef.
        let mut seen = BTreeSet::new();
        let mut values = BTreeMap::new();
        for var in &spec.variables {
            let name = var.name.as_str();
            check_variable_name(name)?;
            ensure!(
                !TEST_ONLY_VARIABLES.contains(&name),
                "{file}: {name} is for the test tools only"
            );
            ensure!(seen.insert(name), "{file}: {name} given twice");
            let declared = manifest
                .variables
                .get(name)
                .with_context(|| format!("{file}: {name} is not declared in spin.toml"))?;
            match (&var.value, &var.value_from) {
                (Some(value), None) => {
                    ensure!(!declared.secret, "{file}: secret {name} as a plain value");
                    ensure!(
                        !CREDENTIAL_ROUTING.contains(&name),
                        "{file}: {name} decides where credentials go: take it from the Secret"
                    );
                    let value = value
                        .as_str()
                        .with_context(|| format!("{file}: {name}: quote the value"))?;
                    values.insert(name.to_string(), value.to_string());
                }
                (None, Some(from)) => {
                    ensure!(
                        from.config_map_key_ref.is_none()
                            && from.field_ref.is_none()
                            && from.resource_field_ref.is_none(),
                        "{file}: {name}: take values from the Secret"
                    );
                    let r = from
                        .secret_key_ref
                        .as_ref()
                        .with_context(|| format!("{file}: {name}: no secretKeyRef"))?;
                    ensure!(
                        secrets.contains_key(&(r.name.clone(), r.key.clone())),
                        "{file}: {name} refers to {}/{}, which no Secret here holds",
                        r.name,
                        r.key
                    );
                    if declared.default.is_none() || CREDENTIAL_ROUTING.contains(&name) {
                        ensure!(
                            r.optional != Some(true),
                            "{file}: {name} must not be optional"
                        );
                    }
                    values.insert(name.to_string(), sample_secret(name));
                }
                _ => bail!("{file}: {name}: exactly one of value and valueFrom"),
            }
        }
        for name in ALL_VARIABLES {
            if TEST_ONLY_VARIABLES.contains(&name) {
                continue;
            }
            ensure!(seen.contains(name), "{file}: {name} is not supplied");
        }

        let config = Config::load(&MapVariables(values))
            .map_err(|e| anyhow::anyhow!("{file}: does not load: {e:?}"))?;
        ensure!(config.upstream_concurrency >= 1);

        if spec.enable_autoscaling == Some(true) {
            let resources = spec
                .resources
                .as_ref()
                .context("autoscaling needs resources")?;
            let cpu = resources
                .requests
                .as_ref()
                .or(resources.limits.as_ref())
                .and_then(|r| r.get("cpu"));
            ensure!(cpu.is_some(), "{file}: CPU utilization needs a CPU request");
            let hpa = docs.iter().any(|(f, d)| {
                f == &file
                    && kind(d) == "HorizontalPodAutoscaler"
                    && str_at(d, &["spec", "scaleTargetRef", "name"])
                        == Some(app.metadata.name.as_str())
            });
            ensure!(hpa, "{file}: autoscaling without an HPA for it");
        }
    }
    Ok(())
}

/// A value that passes the app's checks, standing in for what the Secret will hold.
fn sample_secret(name: &str) -> String {
    match name {
        "api_key" => "sample-api-key-0123456789abcdef-0123456789".into(),
        "atlassian_org_id" => "sample-org".into(),
        // The template's value (checked in every_secret_key_is_used_and_every_reference_exists).
        ATLASSIAN_API_URL => DEFAULT_ATLASSIAN_API_URL.into(),
        "atlassian_admin_api_key" => "sample-admin-key".into(),
        // The template's other keys are empty: the sample configures the admin source only.
        _ => String::new(),
    }
}

#[test]
fn every_secret_key_is_used_and_every_reference_exists() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let docs = kubernetes_documents()?;
    let secrets = secret_keys(&docs)?;
    ensure!(!secrets.is_empty(), "no Secret template");
    let mut referenced = BTreeSet::new();
    for (_, app) in spinapps(&docs)? {
        for var in &app.spec.variables {
            if let Some(r) = var
                .value_from
                .as_ref()
                .and_then(|f| f.secret_key_ref.as_ref())
            {
                ensure!(
                    r.key == var.name,
                    "{}: key {} for {}",
                    r.name,
                    r.key,
                    var.name
                );
                referenced.insert((r.name.clone(), r.key.clone()));
            }
        }
    }
    for (key, value) in &secrets {
        ensure!(
            referenced.contains(key),
            "Secret key {}/{} is never used",
            key.0,
            key.1
        );
        if key.1 == ATLASSIAN_API_URL {
            // Spin builds the allowed outbound hosts from it: empty, the app does not load.
            ensure!(
                value == DEFAULT_ATLASSIAN_API_URL,
                "the template's {} should be Atlassian's, {DEFAULT_ATLASSIAN_API_URL}",
                key.1
            );
            check_allowed_host(value)?;
        } else {
            ensure!(
                value.is_empty(),
                "the template must not ship a value for {}",
                key.1
            );
        }
    }
    for name in SECRETS.iter().chain(&CREDENTIAL_ROUTING) {
        ensure!(
            secrets.keys().any(|(_, k)| k == name),
            "the Secret has no key for {name}"
        );
    }
    Ok(())
}

#[test]
fn autoscaler_and_ingress_point_at_the_spinapp() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let docs = kubernetes_documents()?;
    let apps = spinapps(&docs)?;
    let names: BTreeSet<&str> = apps.iter().map(|(_, a)| a.metadata.name.as_str()).collect();
    for (file, doc) in &docs {
        match kind(doc) {
            "HorizontalPodAutoscaler" => {
                ensure!(
                    str_at(doc, &["apiVersion"]) == Some("autoscaling/v2"),
                    "{file}"
                );
                let target = |k| str_at(doc, &["spec", "scaleTargetRef", k]);
                ensure!(target("apiVersion") == Some("apps/v1"), "{file}");
                ensure!(target("kind") == Some("Deployment"), "{file}");
                ensure!(target("name").is_some_and(|n| names.contains(n)), "{file}");
                let min = i64_at(doc, &["spec", "minReplicas"]).unwrap_or(1);
                let max = i64_at(doc, &["spec", "maxReplicas"]).context("maxReplicas")?;
                ensure!(
                    1 <= min && min <= max,
                    "{file}: 1 <= minReplicas <= maxReplicas"
                );
                // The file's note on what Atlassian sees must stay true.
                let app = &apps.iter().find(|(f, _)| f == file).context("no app")?.1;
                let per_request: i64 = app
                    .spec
                    .variables
                    .iter()
                    .find(|v| v.name == UPSTREAM_CONCURRENCY)
                    .and_then(|v| v.value.as_ref()?.as_str()?.parse().ok())
                    .context("upstream_concurrency as a plain value")?;
                let text = read(&format!("deploy/kubernetes/{file}"))?;
                let note = format!(
                    "maxReplicas {max} and upstream_concurrency {per_request}, up to\n# {}",
                    max * per_request
                );
                ensure!(
                    text.contains(&note),
                    "{file}: the comment should say {note:?}"
                );
            }
            "Ingress" => {
                ensure!(
                    str_at(doc, &["apiVersion"]) == Some("networking.k8s.io/v1"),
                    "{file}"
                );
                // ingress-nginx is retired (SIG Network, March 2026): kept only as a marked legacy
                // example next to the Gateway API one.
                let text = read(&format!("deploy/kubernetes/{file}"))?;
                ensure!(
                    file.contains("legacy")
                        && text.starts_with("# LEGACY")
                        && text.contains("gateway.yaml"),
                    "{file}: an Ingress must be marked legacy and point at gateway.yaml"
                );
                let rules = doc
                    .get("spec")
                    .and_then(|s| s.get("rules"))
                    .and_then(Value::as_sequence)
                    .context("rules")?;
                for rule in rules {
                    let paths = rule
                        .get("http")
                        .and_then(|h| h.get("paths"))
                        .and_then(Value::as_sequence)
                        .context("paths")?;
                    for path in paths {
                        let service = str_at(path, &["backend", "service", "name"]);
                        ensure!(service.is_some_and(|s| names.contains(s)), "{file}");
                        let port = i64_at(path, &["backend", "service", "port", "number"]);
                        ensure!(
                            port == Some(OPERATOR_SERVICE_PORT),
                            "{file}: the operator's Service is on {OPERATOR_SERVICE_PORT}"
                        );
                    }
                }
                ensure!(doc["spec"].get("tls").is_some(), "{file}: no tls");
            }
            _ => {}
        }
    }
    Ok(())
}

/// A Gateway API `Gateway` (`gateway.networking.k8s.io/v1`), with the spec fields of the
/// standard channel (v1.5); unknown fields are refused, as the API server's schema refuses them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Gateway {
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    metadata: GatewayMetadata,
    spec: GatewaySpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct GatewayMetadata {
    name: String,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct GatewaySpec {
    gateway_class_name: String,
    listeners: Vec<Listener>,
    addresses: Option<Value>,
    infrastructure: Option<Value>,
    allowed_listeners: Option<Value>,
    tls: Option<Value>,
    default_scope: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Listener {
    name: String,
    hostname: Option<String>,
    port: u16,
    protocol: String,
    tls: Option<ListenerTls>,
    allowed_routes: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ListenerTls {
    mode: Option<String>,
    #[serde(default)]
    certificate_refs: Vec<Value>,
    options: Option<Value>,
}

/// A Gateway API `HTTPRoute` (`gateway.networking.k8s.io/v1`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HttpRoute {
    api_version: String,
    #[allow(dead_code)]
    kind: String,
    metadata: Metadata,
    spec: HttpRouteSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct HttpRouteSpec {
    parent_refs: Vec<ParentRef>,
    #[serde(default)]
    hostnames: Vec<String>,
    rules: Vec<RouteRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ParentRef {
    group: Option<String>,
    kind: Option<String>,
    name: String,
    section_name: Option<String>,
    port: Option<u16>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct RouteRule {
    name: Option<String>,
    matches: Option<Value>,
    filters: Option<Value>,
    #[serde(default)]
    backend_refs: Vec<BackendRef>,
    timeouts: Option<RouteTimeouts>,
    retry: Option<Value>,
    session_persistence: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[allow(dead_code)]
struct BackendRef {
    group: Option<String>,
    kind: Option<String>,
    name: String,
    port: Option<i64>,
    weight: Option<i32>,
    filters: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RouteTimeouts {
    request: Option<String>,
    backend_request: Option<String>,
}

/// A Gateway API duration (GEP-2257: `^([0-9]{1,5}(h|m|s|ms)){1,4}$`) in milliseconds.
fn gateway_duration_ms(text: &str) -> Result<u64> {
    let mut total = 0u64;
    let mut rest = text;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        ensure!((1..=5).contains(&digits), "{text:?}: 1 to 5 digits a part");
        let number: u64 = rest[..digits].parse()?;
        rest = &rest[digits..];
        let (unit, len) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else {
            bail!("{text:?}: unit h, m, s or ms");
        };
        rest = &rest[len..];
        total += number * unit;
        parts += 1;
    }
    ensure!((1..=4).contains(&parts), "{text:?}: 1 to 4 parts");
    Ok(total)
}

#[test]
fn gateway_api_route_reaches_the_operators_service_over_https() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    ensure!(gateway_duration_ms("30s")? == 30_000);
    ensure!(gateway_duration_ms("1m30s")? == 90_000);
    ensure!(gateway_duration_ms("1500ms")? == 1_500);
    ensure!(gateway_duration_ms("30").is_err() && gateway_duration_ms("").is_err());

    let docs = kubernetes_documents()?;
    let apps = spinapps(&docs)?;
    let app_names: BTreeSet<&str> = apps.iter().map(|(_, a)| a.metadata.name.as_str()).collect();
    // The longest deadline any SpinApp gives the app: the route must wait longer.
    let mut deadline_ms = 0u64;
    for (file, app) in &apps {
        let value = app
            .spec
            .variables
            .iter()
            .find(|v| v.name == REQUEST_TIMEOUT_MS)
            .and_then(|v| v.value.as_ref()?.as_str()?.parse::<u64>().ok())
            .with_context(|| format!("{file}: {REQUEST_TIMEOUT_MS} as a plain number"))?;
        deadline_ms = deadline_ms.max(value);
    }

    let mut gateways = BTreeMap::new();
    for (file, doc) in docs.iter().filter(|(_, d)| kind(d) == "Gateway") {
        let gateway: Gateway = serde_yaml::from_value(doc.clone())
            .with_context(|| format!("{file}: not a Gateway of gateway.networking.k8s.io/v1"))?;
        ensure!(
            gateway.api_version == "gateway.networking.k8s.io/v1",
            "{file}: Gateway apiVersion"
        );
        ensure!(!gateway.spec.gateway_class_name.is_empty(), "{file}");
        ensure!(!gateway.spec.listeners.is_empty(), "{file}: no listener");
        for listener in &gateway.spec.listeners {
            // The API key travels in a header: no plain-HTTP listener, not even to redirect.
            ensure!(
                listener.protocol == "HTTPS",
                "{file}: listener {} is {}, not HTTPS",
                listener.name,
                listener.protocol
            );
            let tls = listener
                .tls
                .as_ref()
                .with_context(|| format!("{file}: listener {} without tls", listener.name))?;
            ensure!(
                tls.mode.as_deref().unwrap_or("Terminate") == "Terminate",
                "{file}: TLS terminates at the Gateway"
            );
            ensure!(
                !tls.certificate_refs.is_empty(),
                "{file}: listener {} has no certificate",
                listener.name
            );
            ensure!(
                tls.options.is_none(),
                "{file}: no implementation-specific TLS options"
            );
            // Routes from this namespace only (the default): the Gateway is the app's own.
            let from = listener
                .allowed_routes
                .as_ref()
                .and_then(|r| str_at(r, &["namespaces", "from"]));
            ensure!(
                from.is_none_or(|f| f == "Same"),
                "{file}: listener {} admits routes from other namespaces",
                listener.name
            );
        }
        gateways.insert(gateway.metadata.name.clone(), gateway);
    }

    let mut routes = 0;
    for (file, doc) in docs.iter().filter(|(_, d)| kind(d) == "HTTPRoute") {
        let route: HttpRoute = serde_yaml::from_value(doc.clone())
            .with_context(|| format!("{file}: not an HTTPRoute of gateway.networking.k8s.io/v1"))?;
        ensure!(
            route.api_version == "gateway.networking.k8s.io/v1",
            "{file}: HTTPRoute apiVersion"
        );
        ensure!(!route.spec.parent_refs.is_empty(), "{file}: no parentRefs");
        for parent in &route.spec.parent_refs {
            ensure!(
                parent
                    .group
                    .as_deref()
                    .unwrap_or("gateway.networking.k8s.io")
                    == "gateway.networking.k8s.io"
                    && parent.kind.as_deref().unwrap_or("Gateway") == "Gateway",
                "{file}: the parent is a Gateway"
            );
            let gateway = gateways.get(&parent.name).with_context(|| {
                format!(
                    "{file}: parent Gateway {} is not in deploy/kubernetes",
                    parent.name
                )
            })?;
            let section = parent
                .section_name
                .as_deref()
                .with_context(|| format!("{file}: name the HTTPS listener (sectionName)"))?;
            let listener = gateway
                .spec
                .listeners
                .iter()
                .find(|l| l.name == section)
                .with_context(|| {
                    format!("{file}: Gateway {} has no listener {section}", parent.name)
                })?;
            ensure!(
                parent.port.is_none_or(|p| p == listener.port),
                "{file}: parent port"
            );
            for host in &route.spec.hostnames {
                ensure!(
                    listener.hostname.as_deref().is_none_or(|h| h == host),
                    "{file}: hostname {host} is not the listener's"
                );
            }
        }
        ensure!(!route.spec.rules.is_empty(), "{file}: no rules");
        for rule in &route.spec.rules {
            ensure!(
                !rule.backend_refs.is_empty(),
                "{file}: a rule without backends"
            );
            for backend in &rule.backend_refs {
                ensure!(
                    backend.group.as_deref().unwrap_or("").is_empty()
                        && backend.kind.as_deref().unwrap_or("Service") == "Service",
                    "{file}: the backend is a core Service"
                );
                ensure!(
                    app_names.contains(backend.name.as_str()),
                    "{file}: backend {} is not the operator's Service (named like the SpinApp)",
                    backend.name
                );
                ensure!(
                    backend.port == Some(OPERATOR_SERVICE_PORT),
                    "{file}: the operator's Service is on {OPERATOR_SERVICE_PORT}"
                );
            }
            let timeouts = rule.timeouts.as_ref().with_context(|| {
                format!("{file}: set timeouts.request above {REQUEST_TIMEOUT_MS}")
            })?;
            let request = gateway_duration_ms(timeouts.request.as_deref().context("request")?)?;
            ensure!(
                request > deadline_ms,
                "{file}: the route gives up ({request} ms) before the app's deadline ({deadline_ms} ms)"
            );
            ensure!(
                timeouts.backend_request.is_none(),
                "{file}: backendRequest would cut retries"
            );
        }
        ensure!(
            app_names.contains(route.metadata.name.as_str()),
            "{file}: name the route like the app"
        );
        routes += 1;
    }
    ensure!(routes > 0, "no HTTPRoute");
    Ok(())
}

/// Whether a route path rule (`kind` `Exact`, or a prefix kind: Gateway API `PathPrefix`, Ingress
/// `Prefix` / `ImplementationSpecific`) matches `path`. Prefixes match whole path elements, as
/// both APIs specify: `/admin` matches `/admin` and `/admin/status`, not `/administrator`.
fn route_matches(kind: &str, value: &str, path: &str) -> bool {
    if kind == "Exact" {
        return value == path;
    }
    let value = value.trim_end_matches('/');
    value.is_empty()
        || path == value
        || path
            .strip_prefix(value)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// The public routes carry the trigger URL, liveness and the admin page, and not readiness:
/// `/health/ready` reads the non-secret settings (with Vault first, one Vault call each), the
/// kubelet probes the pod directly, and nobody on the internet needs it.
#[test]
fn public_routes_leave_readiness_off_the_internet() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    ensure!(route_matches("PathPrefix", "/admin", "/admin/status"));
    ensure!(!route_matches("PathPrefix", "/admin", "/administrator"));
    ensure!(route_matches("PathPrefix", "/", "/health/ready"));
    ensure!(!route_matches("Exact", "/health", "/health/ready"));
    let public = [
        "/",
        "/health",
        "/admin",
        "/admin/status",
        "/admin/app.js",
        "/admin/app.css",
        "/admin/favicon.svg",
    ];
    let mut checked = 0;
    for (file, doc) in kubernetes_documents()? {
        let rules: Vec<(String, String)> = match kind(&doc) {
            "HTTPRoute" => {
                let mut out = Vec::new();
                for rule in doc["spec"]["rules"].as_sequence().context("rules")? {
                    let matches = rule.get("matches").and_then(Value::as_sequence);
                    // No matches: the rule takes every path.
                    let Some(matches) = matches else {
                        out.push(("PathPrefix".into(), "/".into()));
                        continue;
                    };
                    for m in matches {
                        let kind = str_at(m, &["path", "type"]).unwrap_or("PathPrefix");
                        let value = str_at(m, &["path", "value"]).unwrap_or("/");
                        out.push((kind.to_string(), value.to_string()));
                    }
                }
                out
            }
            "Ingress" => {
                let mut out = Vec::new();
                for rule in doc["spec"]["rules"].as_sequence().context("rules")? {
                    for path in rule["http"]["paths"].as_sequence().context("paths")? {
                        let kind = str_at(path, &["pathType"]).context("pathType")?;
                        let value = str_at(path, &["path"]).context("path")?;
                        out.push((kind.to_string(), value.to_string()));
                    }
                }
                out
            }
            _ => continue,
        };
        let routed = |path: &str| rules.iter().any(|(k, v)| route_matches(k, v, path));
        for path in public {
            ensure!(routed(path), "{file}: {path} is not routed");
        }
        ensure!(
            !routed("/health/ready"),
            "{file}: /health/ready is on a public route"
        );
        checked += 1;
    }
    ensure!(checked >= 2, "an HTTPRoute and the legacy Ingress");
    Ok(())
}

/// A Kubernetes memory quantity with a binary suffix (`64Mi`, `1Gi`) or none, in bytes.
fn memory_bytes(quantity: &str) -> Result<u64> {
    let (number, unit) = match quantity {
        q if q.ends_with("Ki") => (&q[..q.len() - 2], 1u64 << 10),
        q if q.ends_with("Mi") => (&q[..q.len() - 2], 1 << 20),
        q if q.ends_with("Gi") => (&q[..q.len() - 2], 1 << 30),
        q => (q, 1),
    };
    let number: u64 = number
        .parse()
        .with_context(|| format!("{quantity:?} is not a whole memory quantity"))?;
    Ok(number * unit)
}

#[test]
fn memory_settings_are_the_measured_ones() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    ensure!(memory_bytes("64Mi")? == 64 << 20 && memory_bytes("1Gi")? == 1 << 30);
    ensure!(memory_bytes("12x").is_err());
    let readme = read("deploy/kubernetes/README.md")?;
    let deploy = read("docs/DEPLOY.md")?;
    let docs = kubernetes_documents()?;
    for (file, app) in spinapps(&docs)? {
        let resources = app
            .spec
            .resources
            .as_ref()
            .with_context(|| format!("{file}: no resources"))?;
        let quantity = |map: &Option<BTreeMap<String, Value>>, what: &str| -> Result<String> {
            map.as_ref()
                .and_then(|m| m.get("memory"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .with_context(|| format!("{file}: no memory {what}"))
        };
        let request = quantity(&resources.requests, "request")?;
        let limit = quantity(&resources.limits, "limit")?;
        let cap = app
            .spec
            .invocation_limits
            .as_ref()
            .and_then(|l| l.get("memory"))
            .cloned()
            .with_context(|| format!("{file}: no invocationLimits.memory (per-instance cap)"))?;
        ensure!(
            memory_bytes(&request)? <= memory_bytes(&limit)?,
            "{file}: request above limit"
        );
        // spin-operator 0.6.1's webhook: the invocation limit may not exceed the memory limit.
        ensure!(
            memory_bytes(&cap)? <= memory_bytes(&limit)?,
            "{file}: invocationLimits.memory {cap} above the limit {limit}"
        );
        // Each figure is the one the reasoning in deploy/kubernetes/README.md arrives at, and
        // DEPLOY.md repeats it.
        for value in [&request, &limit, &cap] {
            ensure!(
                readme.contains(&format!("**{value}**")),
                "deploy/kubernetes/README.md does not justify {value} ({file})"
            );
            ensure!(
                deploy.contains(value.as_str()),
                "docs/DEPLOY.md does not state {value} ({file})"
            );
        }
    }
    for (file, hpa) in docs
        .iter()
        .filter(|(_, d)| kind(d) == "HorizontalPodAutoscaler")
    {
        // Measured: a Spin process keeps the memory its busiest moment touched, so a memory
        // target would never let the HPA scale back down.
        let metrics = hpa["spec"]["metrics"].as_sequence().context("metrics")?;
        ensure!(
            metrics
                .iter()
                .all(|m| str_at(m, &["resource", "name"]) != Some("memory")),
            "{file}: the HPA must not scale on memory"
        );
    }
    Ok(())
}

#[test]
fn no_deploy_file_mentions_a_test_only_variable() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let mut checked: Vec<String> = vec![
        "docs/DEPLOY.md".into(),
        "deploy/kubernetes/README.md".into(),
        "runtime-config/README.md".into(),
    ];
    for (dir, ext) in [("deploy/kubernetes", "yaml"), ("runtime-config", "toml")] {
        for path in files(dir, ext)? {
            checked.push(format!("{dir}/{}", file_name(&path)));
        }
    }
    for file in &checked {
        let text = read(file)?.to_ascii_lowercase();
        for name in TEST_ONLY_VARIABLES {
            ensure!(
                !text.contains(name),
                "{file} mentions the test-only variable {name}"
            );
        }
    }
    Ok(())
}

#[test]
fn deploy_doc_states_what_the_autoscaler_does() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let doc = read("docs/DEPLOY.md")?;
    let docs = kubernetes_documents()?;
    let mut hpas = 0;
    for (file, hpa) in docs
        .iter()
        .filter(|(_, d)| kind(d) == "HorizontalPodAutoscaler")
    {
        let min = i64_at(hpa, &["spec", "minReplicas"]).unwrap_or(1);
        let max = i64_at(hpa, &["spec", "maxReplicas"]).context("maxReplicas")?;
        let replicas = format!("{min} to {max} replicas");
        ensure!(
            doc.contains(&replicas),
            "DEPLOY.md should say {replicas:?} ({file})"
        );
        let metrics = hpa["spec"]["metrics"].as_sequence().context("metrics")?;
        for metric in metrics {
            let name = str_at(metric, &["resource", "name"]).context("a Resource metric")?;
            let percent = i64_at(metric, &["resource", "target", "averageUtilization"])
                .context("averageUtilization")?;
            let words = match name {
                "cpu" => "CPU",
                "memory" => "memory",
                other => other,
            };
            let said = format!("{percent}% {words}");
            ensure!(
                doc.contains(&said),
                "DEPLOY.md should say {said:?} ({file})"
            );
        }
        hpas += 1;
    }
    ensure!(hpas > 0, "no HorizontalPodAutoscaler");
    Ok(())
}

#[test]
fn install_steps_put_the_executor_in_the_apps_namespace() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    // spin-operator 0.6.1 `internal/webhook/spinapp_validating.go`: the SpinApp's executor is
    // fetched from the SpinApp's namespace; the upstream executor manifest names none.
    let doc = read("docs/DEPLOY.md")?;
    let lines: Vec<&str> = doc
        .lines()
        .filter(|l| l.contains("spin-operator.shim-executor.yaml"))
        .collect();
    ensure!(
        !lines.is_empty(),
        "DEPLOY.md does not install the shim executor"
    );
    for line in lines {
        ensure!(
            line.contains(" -n ") || line.contains("--namespace"),
            "DEPLOY.md applies the executor without the app's namespace: {line:?}"
        );
    }
    ensure!(
        doc.contains("executor does not exist in namespace"),
        "DEPLOY.md should quote the webhook's refusal, so a reader can find the rule"
    );
    Ok(())
}

#[test]
fn docs_point_at_files_that_exist() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let mut texts = Vec::new();
    for file in DOC_FILES
        .iter()
        .copied()
        .chain(["runtime-config/README.md", "deploy/kubernetes/README.md"])
    {
        texts.push((file, read(file)?));
    }
    let mut checked = 0;
    for (file, text) in &texts {
        for dir in ["runtime-config/", "deploy/kubernetes/"] {
            for (at, _) in text.match_indices(dir) {
                let path: String = text[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
                    .collect();
                let path = path.trim_end_matches('.');
                if path.ends_with(".toml") || path.ends_with(".yaml") || path.ends_with(".md") {
                    ensure!(
                        repo_path(path).is_file(),
                        "{file} mentions {path}, which is missing"
                    );
                    checked += 1;
                }
            }
        }
    }
    ensure!(checked > 0, "the docs name no deployment file");
    Ok(())
}
