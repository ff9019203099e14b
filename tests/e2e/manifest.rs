//! `spin.toml`, checked the way Spin's loader checks it, without Spin or the component.
//!
//! The rules mirror Spin 3.x/4.x: the manifest-v2 schema (`crates/manifest/src/schema`), variable
//! names (`spin_expressions::Key::validate`), templates (`spin_expressions::Template`) and
//! `allowed_outbound_hosts` entries (`spin_outbound_networking_config::AllowedHostConfig::parse`).
//! On top of Spin's rules, the project's own: the component lists exactly the variables the code
//! reads (`config::ALL_VARIABLES`), secrets are marked `secret = true`, the defaults are the
//! code's defaults, and every `atlassian_api_url` the docs mention resolves the outbound-host
//! template to a valid `scheme://host[:port]` (an empty one stops the app: spin issue #3549).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use identity_accessor::config::{
    self, parse_base_url, ALL_VARIABLES, DEFAULT_ATLASSIAN_API_URL, DEFAULT_MAX_ACCOUNT_IDS,
    DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_UPSTREAM_CONCURRENCY,
};
use serde::Deserialize;

/// The one component in the manifest.
pub(crate) const COMPONENT: &str = "identity-accessor";

/// The variables whose values are credentials.
pub(crate) const SECRETS: [&str; 4] = [
    config::API_KEY,
    config::ATLASSIAN_ADMIN_API_KEY,
    config::CONFLUENCE_API_TOKEN,
    config::CONFLUENCE_BEARER_TOKEN,
];

/// Values of `atlassian_api_url` the docs describe, besides the default: Atlassian's gateway
/// spelled out (with and without a trailing `/`) and the loopback fake Atlassian of the tests.
/// Every value the docs pass with `atlassian_api_url=` is checked too (see
/// [`documented_api_urls`]).
const DOCUMENTED_API_URLS: [&str; 5] = [
    "https://api.atlassian.com",
    "https://api.atlassian.com/",
    "http://127.0.0.1:8081",
    "http://localhost:8081",
    "http://[::1]:8081",
];

/// Files whose commands name variables.
pub(crate) const DOC_FILES: [&str; 3] = ["README.md", "docs/DEPLOY.md", "docs/CONNECTOR.md"];

/// A path in the repository.
pub(crate) fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A file of the repository as text.
pub(crate) fn read(relative: &str) -> Result<String> {
    std::fs::read_to_string(repo_path(relative)).with_context(|| format!("reading {relative}"))
}

/// The manifest-v2 fields this project uses; unknown top-level keys and variable fields are
/// refused, as Spin refuses them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    spin_manifest_version: toml::Value,
    application: toml::Table,
    #[serde(default)]
    pub(crate) variables: BTreeMap<String, Variable>,
    #[serde(default)]
    trigger: BTreeMap<String, Vec<toml::Table>>,
    #[serde(default)]
    pub(crate) component: BTreeMap<String, Component>,
}

/// An entry of `[variables]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Variable {
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    pub(crate) required: bool,
    #[serde(default)]
    pub(crate) default: Option<String>,
    #[serde(default)]
    pub(crate) secret: bool,
}

/// A `[component.<id>]` table: the fields checked here, the rest kept aside.
#[derive(Debug, Deserialize)]
pub(crate) struct Component {
    source: toml::Value,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub(crate) variables: BTreeMap<String, String>,
    #[serde(default)]
    build: Option<toml::Table>,
}

/// `spin.toml`, parsed.
pub(crate) fn load_manifest() -> Result<Manifest> {
    toml::from_str(&read("spin.toml")?).context("spin.toml does not parse as a Spin manifest")
}

/// Spin's rule for variable names: lowercase ASCII letters, digits and single `_` between them,
/// starting with a letter and ending with a letter or digit.
pub(crate) fn check_variable_name(name: &str) -> Result<()> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.contains("__");
    ensure!(ok, "{name:?} is not a valid Spin variable name");
    Ok(())
}

/// The variable names a Spin template refers to (`{{ name }}`, whitespace trimmed).
fn template_names(template: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let (expr, tail) = after
            .split_once("}}")
            .with_context(|| format!("unmatched '{{{{' in template {template:?}"))?;
        names.push(expr.trim().to_string());
        rest = tail;
    }
    Ok(names)
}

/// A template with every `{{ name }}` replaced by its value.
fn resolve(template: &str, values: &BTreeMap<String, String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let (expr, tail) = rest[start + 2..]
            .split_once("}}")
            .with_context(|| format!("unmatched '{{{{' in template {template:?}"))?;
        let name = expr.trim();
        out.push_str(
            values
                .get(name)
                .with_context(|| format!("no value for {name:?}"))?,
        );
        rest = tail;
    }
    out.push_str(rest);
    Ok(out)
}

/// Spin's rule for a resolved `allowed_outbound_hosts` entry: `scheme://host[:port]`, a trailing
/// `/` tolerated, no path, `*` only as the whole host or a `*.` subdomain prefix.
pub(crate) fn check_allowed_host(entry: &str) -> Result<()> {
    let entry = entry.trim();
    let Some((scheme, rest)) = entry.split_once("://") else {
        bail!("{entry:?} is not scheme://host[:port] (empty values stop the app: spin #3549)");
    };
    ensure!(
        scheme == "*" || (!scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic())),
        "{entry:?} has an invalid scheme"
    );
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    ensure!(!rest.contains('/'), "{entry:?} has a path");
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .with_context(|| format!("{entry:?} has an unclosed IPv6 host"))?;
        ensure!(
            addr.parse::<std::net::Ipv6Addr>().is_ok(),
            "{entry:?} has an invalid IPv6 host"
        );
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .with_context(|| format!("{entry:?} has junk after its host"))?,
            ),
        };
        ("v6", port)
    } else {
        match rest.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        }
    };
    if let Some(port) = port {
        ensure!(
            port == "*" || port.parse::<u16>().is_ok(),
            "{entry:?} has an invalid port"
        );
    }
    let domain = host.strip_prefix("*.").unwrap_or(host);
    ensure!(
        host == "*"
            || (!domain.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && domain
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')),
        "{entry:?} has an invalid host (wildcards only as a `*.` prefix)"
    );
    Ok(())
}

/// Every `atlassian_api_url=VALUE` the docs show (commands, `.env` lines, SPIN_VARIABLE_ forms).
fn documented_api_urls() -> Result<BTreeSet<String>> {
    let mut urls = BTreeSet::new();
    for file in DOC_FILES {
        let text = read(file)?;
        for marker in ["atlassian_api_url=", "ATLASSIAN_API_URL="] {
            for (at, _) in text.match_indices(marker) {
                let value: String = text[at + marker.len()..]
                    .trim_start_matches(['"', '\''])
                    .chars()
                    .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '`' | ')'))
                    .collect();
                if value.starts_with("http") {
                    urls.insert(value);
                }
            }
        }
    }
    Ok(urls)
}

/// The variable names a text uses in `--variable name=` form and, for each of `env_prefixes`,
/// in `<PREFIX>NAME` form (`SPIN_VARIABLE_API_KEY`).
fn documented_variable_names(text: &str, env_prefixes: &[&str]) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (at, _) in text.match_indices("--variable ") {
        let name: String = text[at + "--variable ".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let lowercase = name.starts_with(|c: char| c.is_ascii_lowercase());
        if lowercase && text[at + "--variable ".len() + name.len()..].starts_with('=') {
            names.insert(name);
        }
    }
    for prefix in env_prefixes {
        for (at, _) in text.match_indices(prefix) {
            let name: String = text[at + prefix.len()..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let name = name.trim_end_matches('_');
            if !name.is_empty() {
                names.insert(name.to_ascii_lowercase());
            }
        }
    }
    names
}

#[test]
fn manifest_parses_as_version_2() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let m = load_manifest()?;
    ensure!(
        m.spin_manifest_version == toml::Value::Integer(2),
        "spin_manifest_version must be the integer 2"
    );
    ensure!(
        m.application.get("name").and_then(|v| v.as_str()) == Some("identity-accessor"),
        "application.name"
    );
    let http = m.trigger.get("http").context("no [[trigger.http]]")?;
    ensure!(http.len() == 1, "one HTTP trigger");
    ensure!(http[0].get("route").and_then(|v| v.as_str()) == Some("/..."));
    ensure!(http[0].get("component").and_then(|v| v.as_str()) == Some(COMPONENT));
    ensure!(m.component.len() == 1, "one component");
    let c = m.component.get(COMPONENT).context("no component")?;
    ensure!(
        c.source.as_str() == Some("target/wasm32-wasip2/release/identity_accessor.wasm"),
        "the source is what `spin build` writes"
    );
    let command = c
        .build
        .as_ref()
        .and_then(|b| b.get("command"))
        .and_then(|v| v.as_str());
    ensure!(command == Some("cargo build --target wasm32-wasip2 --release"));
    Ok(())
}

#[test]
fn variable_names_follow_spins_rule() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    for good in ["a", "api_key", "a1_b2"] {
        check_variable_name(good)?;
    }
    for bad in ["", "Api", "1a", "_a", "a_", "a__b", "a-b", "a.b"] {
        ensure!(check_variable_name(bad).is_err(), "{bad:?} was accepted");
    }
    let m = load_manifest()?;
    for name in m.variables.keys() {
        check_variable_name(name)?;
    }
    for name in m.component[COMPONENT].variables.keys() {
        check_variable_name(name)?;
    }
    Ok(())
}

#[test]
fn each_variable_is_required_or_has_a_default() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    for (name, v) in &load_manifest()?.variables {
        ensure!(
            v.required != v.default.is_some(),
            "{name}: exactly one of `required = true` or `default`"
        );
    }
    Ok(())
}

#[test]
fn templates_name_only_declared_variables() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let m = load_manifest()?;
    let c = &m.component[COMPONENT];
    let templates = c.variables.values().chain(&c.allowed_outbound_hosts);
    for template in templates {
        for name in template_names(template)? {
            check_variable_name(&name)?;
            ensure!(
                m.variables.contains_key(&name),
                "{template:?} names {name:?}, which [variables] does not declare"
            );
        }
    }
    for (name, template) in &c.variables {
        ensure!(
            template_names(template)? == [name.clone()],
            "component variable {name} should be \"{{{{ {name} }}}}\", not {template:?}"
        );
    }
    Ok(())
}

#[test]
fn component_lists_exactly_the_variables_the_code_reads() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let m = load_manifest()?;
    let listed: BTreeSet<&str> = m.component[COMPONENT]
        .variables
        .keys()
        .map(String::as_str)
        .collect();
    let read: BTreeSet<&str> = ALL_VARIABLES.into_iter().collect();
    ensure!(
        listed == read,
        "read by the code but not listed: {:?}; listed but never read: {:?}",
        read.difference(&listed).collect::<Vec<_>>(),
        listed.difference(&read).collect::<Vec<_>>()
    );
    let declared: BTreeSet<&str> = m.variables.keys().map(String::as_str).collect();
    ensure!(declared == read, "[variables] differs from the code's list");
    Ok(())
}

#[test]
fn secrets_are_marked_secret_and_have_no_value() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let m = load_manifest()?;
    let marked: BTreeSet<&str> = m
        .variables
        .iter()
        .filter(|(_, v)| v.secret)
        .map(|(n, _)| n.as_str())
        .collect();
    let expected: BTreeSet<&str> = SECRETS.into_iter().collect();
    ensure!(marked == expected, "secret = true on {marked:?}");
    for name in SECRETS {
        let default = m.variables[name].default.as_deref().unwrap_or("");
        ensure!(default.is_empty(), "{name} must not have a default value");
    }
    for name in m.variables.keys() {
        let looks_secret = ["_key", "_token", "_secret", "_password"]
            .iter()
            .any(|s| name.ends_with(s));
        ensure!(!looks_secret || marked.contains(name.as_str()), "{name}");
    }
    ensure!(m.variables[config::API_KEY].required, "api_key is required");
    Ok(())
}

#[test]
fn defaults_are_the_codes_defaults() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let m = load_manifest()?;
    let default = |name: &str| m.variables[name].default.clone().unwrap_or_default();
    ensure!(default(config::ATLASSIAN_API_URL) == DEFAULT_ATLASSIAN_API_URL);
    ensure!(default(config::EMAIL_SOURCES) == "auto");
    ensure!(default(config::MAX_ACCOUNT_IDS) == DEFAULT_MAX_ACCOUNT_IDS.to_string());
    ensure!(default(config::REQUEST_TIMEOUT_MS) == DEFAULT_REQUEST_TIMEOUT_MS.to_string());
    ensure!(default(config::UPSTREAM_CONCURRENCY) == DEFAULT_UPSTREAM_CONCURRENCY.to_string());
    Ok(())
}

#[test]
fn outbound_hosts_resolve_for_every_documented_api_url() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    // The checker itself: what Spin refuses, it refuses.
    for bad in [
        "",
        "api.atlassian.com",
        "https://",
        "https://a.com/ex",
        "https://a.*.com",
    ] {
        ensure!(check_allowed_host(bad).is_err(), "{bad:?} was accepted");
    }
    let m = load_manifest()?;
    let hosts = &m.component[COMPONENT].allowed_outbound_hosts;
    ensure!(!hosts.is_empty(), "allowed_outbound_hosts is empty");
    let defaults: BTreeMap<String, String> = m
        .variables
        .iter()
        .filter_map(|(n, v)| Some((n.clone(), v.default.clone()?)))
        .collect();
    let resolved: Vec<String> = hosts
        .iter()
        .map(|h| resolve(h, &defaults))
        .collect::<Result<_>>()?;
    ensure!(
        resolved == ["https://api.atlassian.com", "https://*.atlassian.net"],
        "with the defaults: {resolved:?}"
    );

    let documented = documented_api_urls()?;
    let urls = DOCUMENTED_API_URLS
        .iter()
        .map(|u| u.to_string())
        .chain(documented);
    for url in urls {
        parse_base_url(&url).map_err(|why| anyhow::anyhow!("{url}: the app says it {why}"))?;
        let mut values = defaults.clone();
        values.insert(config::ATLASSIAN_API_URL.to_string(), url.clone());
        for host in hosts {
            let entry = resolve(host, &values)?;
            check_allowed_host(&entry).with_context(|| format!("atlassian_api_url={url}"))?;
        }
    }
    Ok(())
}

#[test]
fn docs_name_only_declared_variables() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let m = load_manifest()?;
    // The env-prefix example's IDENTITY_ACCESSOR_ names count only in the runtime configs: the
    // README also has IDENTITY_ACCESSOR_WASM, a test setting.
    let docs_prefixes: &[&str] = &["SPIN_VARIABLE_"];
    let config_prefixes: &[&str] = &["SPIN_VARIABLE_", "IDENTITY_ACCESSOR_"];
    let mut texts = Vec::new();
    for file in DOC_FILES {
        texts.push((file.to_string(), read(file)?, docs_prefixes));
    }
    for entry in std::fs::read_dir(repo_path("runtime-config"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&path)?;
            texts.push((path.display().to_string(), text, config_prefixes));
        }
    }
    let mut found = 0;
    for (file, text, prefixes) in texts {
        for name in documented_variable_names(&text, prefixes) {
            found += 1;
            ensure!(
                m.variables.contains_key(&name),
                "{file} uses variable {name:?}, which spin.toml does not declare"
            );
        }
    }
    ensure!(found > 0, "the docs name no variable");
    Ok(())
}
