//! `spin.toml`, checked the way Spin's loader checks it, without Spin or the component.
//!
//! Spin 3.x/4.x's rules come from devhost's public parsers, which follow Spin's and are tested
//! against it: the manifest-v2 schema ([`Manifest`], Spin's `crates/manifest/src/schema`),
//! variable names ([`validate_key`], `spin_expressions::Key::validate`), templates
//! ([`devhost::expressions::Template`], `spin_expressions::Template`) and
//! `allowed_outbound_hosts` entries ([`AllowedHost`],
//! `spin_outbound_networking_config::AllowedHostConfig::parse`). Each test first shows the
//! checker refusing what Spin refuses. On top of Spin's rules, the project's own: the component lists exactly the variables the code
//! reads (`config::ALL_VARIABLES`), secrets are marked `secret = true`, the defaults are the
//! code's defaults, and every `atlassian_api_url` the docs mention resolves the outbound-host
//! template to a valid `scheme://host[:port]` (an empty one stops the app: spin issue #3549).

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::{ensure, Context, Result};
use devhost::allowed_hosts::AllowedHost;
use devhost::expressions::validate_key;
use devhost::manifest::{HttpTrigger, Manifest};
use identity_accessor::config::{
    self, parse_base_url, ALL_VARIABLES, DEFAULT_ATLASSIAN_API_URL, DEFAULT_MAX_ACCOUNT_IDS,
    DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_UPSTREAM_CONCURRENCY,
};

/// The one component in the manifest.
pub(crate) const COMPONENT: &str = "identity-accessor";

/// The variables whose values are credentials: the code's own list.
pub(crate) const SECRETS: [&str; 4] = config::SECRET_VARIABLES;

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

/// `spin.toml`, loaded by devhost's manifest loader, which checks it as Spin's does: the
/// version-2 schema (unknown fields refused), variable names, each variable either required or
/// with a default, templates naming only declared variables, literal outbound hosts.
pub(crate) fn load_manifest() -> Result<Manifest> {
    Manifest::load(&repo_path("spin.toml"))
}

/// Whether the loader refuses `spin.toml` with its first `from` replaced by `to`: the checker
/// itself must refuse what Spin refuses. An error if `spin.toml` has no `from`.
fn refuses_edit(from: &str, to: &str) -> Result<bool> {
    let text = read("spin.toml")?;
    ensure!(text.contains(from), "spin.toml has no {from:?}");
    let edited = text.replacen(from, to, 1);
    Ok(Manifest::parse(&edited, &repo_path("spin.toml"), &repo_path("")).is_err())
}

/// Spin's rule for variable names (devhost's `validate_key`): lowercase ASCII letters, digits
/// and single `_` between them, starting with a letter and ending with a letter or digit.
pub(crate) fn check_variable_name(name: &str) -> Result<()> {
    validate_key(name).map_err(anyhow::Error::msg)
}

/// Spin's rule for a resolved `allowed_outbound_hosts` entry (devhost's `AllowedHost::parse`):
/// `scheme://host[:port]`, a trailing `/` tolerated, no path, `*` only as the whole host or a
/// `*.` subdomain prefix; an empty value stops the app (spin #3549).
pub(crate) fn check_allowed_host(entry: &str) -> Result<()> {
    AllowedHost::parse(entry).map(drop)
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
    ensure!(
        refuses_edit("spin_manifest_version = 2", "spin_manifest_version = 1")?,
        "the loader accepted version 1"
    );
    ensure!(
        refuses_edit("[application]", "bogus = 1\n[application]")?,
        "the loader accepted an unknown field"
    );
    let m = load_manifest()?;
    ensure!(m.name == "identity-accessor", "application.name");
    ensure!(
        m.triggers
            == [HttpTrigger {
                route: "/...".into(),
                component: COMPONENT.into(),
            }],
        "one HTTP trigger, /... to the component: {:?}",
        m.triggers
    );
    ensure!(m.components.len() == 1, "one component");
    let c = m.components.get(COMPONENT).context("no component")?;
    ensure!(
        c.source
            == m.dir
                .join("target/wasm32-wasip2/release/identity_accessor.wasm"),
        "the source is what `spin build` writes"
    );
    let commands = c.build.as_ref().map(|b| b.commands.as_slice());
    ensure!(commands == Some(&["cargo build --target wasm32-wasip2 --release".to_string()][..]));
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
    ensure!(
        refuses_edit("email_sources = {", "email__sources = {")?,
        "the loader accepted a bad name in [variables]"
    );
    let m = load_manifest()?;
    for name in m.variables.keys() {
        check_variable_name(name)?;
    }
    for name in m.components[COMPONENT].variables.keys() {
        check_variable_name(name)?;
    }
    Ok(())
}

#[test]
fn each_variable_is_required_or_has_a_default() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let required = "api_key = { required = true, secret = true }";
    for (what, to) in [
        (
            "both",
            "api_key = { required = true, default = \"x\", secret = true }",
        ),
        ("neither", "api_key = { secret = true }"),
    ] {
        ensure!(
            refuses_edit(required, to)?,
            "the loader accepted a variable with {what} `required = true` and `default`"
        );
    }
    // The loader refuses a variable with both or neither; a required one has no default.
    let m = load_manifest()?;
    ensure!(!m.variables.is_empty(), "[variables] is empty");
    ensure!(m.variables[config::API_KEY].default.is_none());
    Ok(())
}

#[test]
fn templates_name_only_declared_variables() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    ensure!(
        refuses_edit("\"{{ api_key }}\"", "\"{{ api_kee }}\"")?,
        "the loader accepted a template naming an undeclared variable"
    );
    ensure!(
        refuses_edit("\"{{ api_key }}\"", "\"{{ api_key \"")?,
        "the loader accepted an unmatched '{{{{'"
    );
    let m = load_manifest()?;
    let c = &m.components[COMPONENT];
    let templates = c.variables.values().chain(&c.allowed_outbound_hosts);
    for template in templates {
        for name in template.variables() {
            check_variable_name(name)?;
            ensure!(
                m.variables.contains_key(name),
                "\"{template}\" names {name:?}, which [variables] does not declare"
            );
        }
    }
    for (name, template) in &c.variables {
        ensure!(
            template.variables().eq([name.as_str()]),
            "component variable {name} should be \"{{{{ {name} }}}}\", not \"{template}\""
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
    let listed: BTreeSet<&str> = m.components[COMPONENT]
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

/// The README's configuration table and `openapi.yaml`'s `VariableName` enum name exactly the
/// variables the code reads, in the code's order ([`ALL_VARIABLES`]).
#[test]
fn readme_table_and_openapi_name_exactly_the_variables_the_code_reads() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let readme = read("README.md")?;
    let table = readme
        .split("\n## Configuration")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .context("README has a Configuration section")?;
    let in_table: Vec<&str> = table
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once("` |").map(|(name, _)| name))
        .collect();
    ensure!(
        in_table == ALL_VARIABLES,
        "README's configuration table lists {in_table:?}, the code reads {ALL_VARIABLES:?}"
    );
    let spec: serde_yaml::Value = serde_yaml::from_str(&read("openapi.yaml")?)?;
    let in_spec: Vec<&str> = spec["components"]["schemas"]["VariableName"]["enum"]
        .as_sequence()
        .context("openapi.yaml has the VariableName enum")?
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    ensure!(
        in_spec == ALL_VARIABLES,
        "openapi.yaml's VariableName lists {in_spec:?}, the code reads {ALL_VARIABLES:?}"
    );
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
    ensure!(
        m.variables[config::API_KEY].default.is_none(),
        "api_key is required"
    );
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
    let hosts = &m.components[COMPONENT].allowed_outbound_hosts;
    ensure!(!hosts.is_empty(), "allowed_outbound_hosts is empty");
    let defaults: HashMap<String, String> = m
        .variables
        .iter()
        .filter_map(|(n, v)| Some((n.clone(), v.default.clone()?)))
        .collect();
    let resolved: Vec<String> = hosts
        .iter()
        .map(|h| h.render(&defaults))
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
            let entry = host.render(&values)?;
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
