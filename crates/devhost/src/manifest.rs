//! The subset of Spin's application manifest (`spin.toml`, version 2) that devhost runs.
//!
//! The file is deserialized into private serde structs and then checked once into a
//! [`Manifest`] that the rest of the crate takes, as Spin's loader does: variable names and
//! templates are validated, every trigger names a defined component, every template names a
//! declared variable, and literal `allowed_outbound_hosts` entries parse. Manifest features
//! devhost does not implement (other trigger types, `files`, `environment`, key-value stores,
//! ...) are rejected with an error rather than silently ignored.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context};
use serde::Deserialize;

use crate::allowed_hosts::AllowedHost;
use crate::expressions::{validate_key, Template, Variable};

/// A component's build settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Build {
    /// The commands, run one after the other with `sh -c`.
    pub commands: Vec<String>,
    /// The directory to run them in (the manifest directory or `workdir` under it).
    pub workdir: PathBuf,
}

/// A `[component.NAME]` table.
#[derive(Clone, Debug)]
pub struct Component {
    /// The component id (the `NAME`).
    pub id: String,
    /// The `.wasm` file, resolved against the manifest directory.
    pub source: PathBuf,
    /// `allowed_outbound_hosts`, as templates; resolved per server.
    pub allowed_outbound_hosts: Vec<Template>,
    /// `[component.NAME.variables]`: the only names the component may `get`.
    pub variables: BTreeMap<String, Template>,
    /// `[component.NAME.build]`, if any.
    pub build: Option<Build>,
}

/// An `[[trigger.http]]` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpTrigger {
    /// The route as written (`/...` suffix for a wildcard).
    pub route: String,
    /// The component id.
    pub component: String,
}

/// A validated manifest.
#[derive(Clone, Debug)]
pub struct Manifest {
    /// The manifest file.
    pub path: PathBuf,
    /// The directory holding it; relative paths resolve against it.
    pub dir: PathBuf,
    /// `[application] name`.
    pub name: String,
    /// `[variables]`, by name.
    pub variables: BTreeMap<String, Variable>,
    /// `[[trigger.http]]`, in file order.
    pub triggers: Vec<HttpTrigger>,
    /// `[component.*]`, by id.
    pub components: BTreeMap<String, Component>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    spin_manifest_version: toml::Value,
    application: RawApplication,
    #[serde(default)]
    variables: BTreeMap<String, RawVariable>,
    #[serde(default)]
    trigger: BTreeMap<String, Vec<RawTrigger>>,
    #[serde(default)]
    component: BTreeMap<String, RawComponent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawApplication {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    version: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    authors: Vec<String>,
    #[serde(default)]
    trigger: Option<toml::Table>,
    #[serde(default)]
    #[allow(dead_code)]
    tool: Option<toml::Table>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVariable {
    #[serde(default)]
    required: bool,
    #[serde(default)]
    default: Option<String>,
    #[serde(default)]
    secret: bool,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
}

#[derive(Deserialize)]
struct RawTrigger {
    #[serde(default)]
    #[allow(dead_code)]
    id: Option<String>,
    route: Option<toml::Value>,
    component: Option<toml::Value>,
    #[serde(default)]
    executor: Option<toml::Table>,
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
struct RawComponent {
    source: Option<toml::Value>,
    #[serde(default)]
    allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    variables: BTreeMap<String, String>,
    #[serde(default)]
    build: Option<RawBuild>,
    #[serde(default)]
    #[allow(dead_code)]
    description: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBuild {
    command: RawCommands,
    #[serde(default)]
    workdir: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    watch: Vec<String>,
    #[serde(default)]
    #[allow(dead_code)]
    environment: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawCommands {
    One(String),
    Many(Vec<String>),
}

/// Component fields Spin accepts that devhost ignores because they change nothing here.
const IGNORED_COMPONENT_FIELDS: &[&str] = &["tool", "exclude_files"];

impl Manifest {
    /// Reads and validates a manifest file.
    pub fn load(path: &Path) -> anyhow::Result<Manifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read manifest {}", path.display()))?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        Self::parse(&text, path, &dir)
            .with_context(|| format!("invalid manifest {}", path.display()))
    }

    /// Parses and validates manifest text; `dir` is where relative paths resolve.
    pub fn parse(text: &str, path: &Path, dir: &Path) -> anyhow::Result<Manifest> {
        let raw: RawManifest = toml::from_str(text).context("failed to parse the manifest TOML")?;

        match raw.spin_manifest_version.as_integer() {
            Some(2) => {}
            _ => bail!(
                "unsupported spin_manifest_version {}: devhost reads version 2 manifests only",
                raw.spin_manifest_version
            ),
        }
        ensure!(
            !raw.application.name.trim().is_empty(),
            "[application] name must not be empty"
        );
        if let Some(trigger) = &raw.application.trigger {
            for (kind, settings) in trigger {
                ensure!(
                    kind == "http",
                    "[application.trigger.{kind}]: only the http trigger is supported"
                );
                if let Some(base) = settings.get("base") {
                    ensure!(
                        base.as_str() == Some("/"),
                        "[application.trigger.http] base: devhost supports only base = \"/\""
                    );
                }
            }
        }

        let mut variables = BTreeMap::new();
        for (name, var) in raw.variables {
            validate_key(&name).map_err(|e| anyhow::anyhow!("[variables]: {e}"))?;
            let default = match (var.required, var.default) {
                (true, None) => None,
                (false, Some(default)) => Some(default),
                (true, Some(_)) => bail!(
                    "variable {name:?}: must have either `required = true` or a `default`, not both"
                ),
                (false, None) => {
                    bail!("variable {name:?}: must have either `required = true` or a `default`")
                }
            };
            variables.insert(
                name,
                Variable {
                    default,
                    secret: var.secret,
                },
            );
        }

        let mut components = BTreeMap::new();
        for (id, raw) in raw.component {
            let component = parse_component(&id, raw, dir, &variables)
                .with_context(|| format!("component {id:?}"))?;
            components.insert(id, component);
        }

        let mut triggers = Vec::new();
        for (kind, entries) in raw.trigger {
            ensure!(
                kind == "http",
                "[[trigger.{kind}]]: devhost supports only the http trigger"
            );
            for (index, t) in entries.into_iter().enumerate() {
                triggers.push(
                    parse_trigger(t, &components)
                        .with_context(|| format!("[[trigger.http]] entry {}", index + 1))?,
                );
            }
        }
        ensure!(!triggers.is_empty(), "the manifest has no [[trigger.http]]");
        let mut seen = std::collections::HashSet::new();
        for t in &triggers {
            ensure!(
                seen.insert(normalize_route(&t.route)),
                "duplicate route {:?}: more than one [[trigger.http]] uses it",
                t.route
            );
        }

        Ok(Manifest {
            path: path.to_path_buf(),
            dir: dir.to_path_buf(),
            name: raw.application.name,
            variables,
            triggers,
            components,
        })
    }
}

/// Spin's route normalisation: absolute, one trailing `/` stripped (except for `/`).
pub(crate) fn normalize_route(route: &str) -> String {
    let route = if route.starts_with('/') {
        route.to_string()
    } else {
        format!("/{route}")
    };
    match route.strip_suffix('/') {
        Some(stripped) if !stripped.is_empty() => stripped.to_string(),
        _ => route,
    }
}

fn validate_component_id(id: &str) -> anyhow::Result<()> {
    let ok = !id.is_empty()
        && id.as_bytes()[0].is_ascii_lowercase()
        && id.split('-').all(|word| {
            !word.is_empty()
                && word
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
    ensure!(
        ok,
        "invalid component id {id:?}: ids are lowercase letters and digits in words \
         separated by single '-', starting with a letter"
    );
    Ok(())
}

fn parse_component(
    id: &str,
    raw: RawComponent,
    dir: &Path,
    variables: &BTreeMap<String, Variable>,
) -> anyhow::Result<Component> {
    validate_component_id(id)?;
    for key in raw.other.keys() {
        ensure!(
            IGNORED_COMPONENT_FIELDS.contains(&key.as_str()),
            "field `{key}` is not supported by devhost (it runs only source, \
             allowed_outbound_hosts, variables and build)"
        );
    }
    let source = match raw.source {
        Some(toml::Value::String(s)) => {
            ensure!(!s.is_empty(), "`source` must not be empty");
            dir.join(s)
        }
        Some(_) => bail!("`source` must be a path to a .wasm file (URL and registry sources are not supported by devhost)"),
        None => bail!("missing `source`"),
    };

    let check_template = |what: &str, text: &str| -> anyhow::Result<Template> {
        let template =
            Template::parse(text).with_context(|| format!("{what}: invalid template {text:?}"))?;
        for name in template.variables() {
            ensure!(
                variables.contains_key(name),
                "{what}: invalid variable template: unknown variable {name:?} in {text:?} \
                 (declare it in [variables])"
            );
        }
        Ok(template)
    };

    let mut allowed_outbound_hosts = Vec::new();
    ensure!(
        !(raw.allowed_outbound_hosts.len() == 1 && raw.allowed_outbound_hosts[0] == "insecure:allow-all"),
        "'insecure:allow-all' is not allowed - use '*://*:*' instead if you really want to allow all outbound traffic"
    );
    for entry in &raw.allowed_outbound_hosts {
        let template = check_template("allowed_outbound_hosts", entry)?;
        if template.is_literal() {
            AllowedHost::parse(entry)
                .with_context(|| format!("allowed_outbound_hosts entry {entry:?}"))?;
        }
        allowed_outbound_hosts.push(template);
    }

    let mut component_vars = BTreeMap::new();
    for (name, text) in &raw.variables {
        validate_key(name).map_err(|e| anyhow::anyhow!("[component.{id}.variables]: {e}"))?;
        let template = check_template(&format!("[component.{id}.variables] {name}"), text)?;
        component_vars.insert(name.clone(), template);
    }

    let build = match raw.build {
        None => None,
        Some(b) => {
            let commands = match b.command {
                RawCommands::One(c) => vec![c],
                RawCommands::Many(cs) => cs,
            };
            ensure!(
                commands.iter().all(|c| !c.trim().is_empty()),
                "[component.{id}.build] command must not be empty"
            );
            let workdir = match b.workdir {
                None => dir.to_path_buf(),
                Some(w) => {
                    let w = PathBuf::from(w);
                    ensure!(
                        w.is_relative(),
                        "[component.{id}.build] workdir must be relative to the manifest directory"
                    );
                    dir.join(w)
                }
            };
            Some(Build { commands, workdir })
        }
    };

    Ok(Component {
        id: id.to_string(),
        source,
        allowed_outbound_hosts,
        variables: component_vars,
        build,
    })
}

fn parse_trigger(
    t: RawTrigger,
    components: &BTreeMap<String, Component>,
) -> anyhow::Result<HttpTrigger> {
    if let Some(key) = t.other.keys().next() {
        bail!("field `{key}` is not supported by devhost");
    }
    if let Some(executor) = &t.executor {
        ensure!(
            executor.get("type").and_then(|v| v.as_str()) == Some("spin"),
            "only the default `spin` executor (wasi:http) is supported by devhost"
        );
    }
    let route = match t.route {
        Some(toml::Value::String(r)) => r,
        Some(_) => {
            bail!("`route` must be a string (private endpoints are not supported by devhost)")
        }
        None => bail!("missing `route`"),
    };
    let component = match t.component {
        Some(toml::Value::String(c)) => c,
        Some(_) => bail!("`component` must name a [component.NAME] table (inline components are not supported by devhost)"),
        None => bail!("missing `component`"),
    };
    ensure!(
        components.contains_key(&component),
        "route {route:?} names component {component:?}, which is not defined ([component.{component}] is missing)"
    );
    ensure!(
        !route.contains('*') && !route.split('/').any(|seg| seg.starts_with(':')),
        "route {route:?}: devhost supports exact routes and a trailing `/...` wildcard only"
    );
    Ok(HttpTrigger { route, component })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
spin_manifest_version = 2
[application]
name = "t"
[variables]
api_key = { required = true, secret = true }
base = { default = "https://api.example.com" }
[[trigger.http]]
route = "/..."
component = "c"
[component.c]
source = "c.wasm"
allowed_outbound_hosts = ["{{ base }}", "https://*.atlassian.net"]
[component.c.variables]
api_key = "{{ api_key }}"
mixed = "prefix-{{ base }}-suffix"
[component.c.build]
command = "make"
workdir = "sub"
"#;

    fn parse(text: &str) -> anyhow::Result<Manifest> {
        Manifest::parse(text, Path::new("/app/spin.toml"), Path::new("/app"))
    }

    fn parse_err(text: &str) -> String {
        format!("{:#}", parse(text).unwrap_err())
    }

    #[test]
    fn parses_the_real_manifest() -> anyhow::Result<()> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../spin.toml");
        let m = Manifest::load(&path)?;
        assert_eq!(m.name, "identity-accessor");
        assert_eq!(
            m.triggers,
            vec![HttpTrigger {
                route: "/...".into(),
                component: "identity-accessor".into()
            }]
        );
        let c = &m.components["identity-accessor"];
        assert!(c
            .source
            .ends_with("target/wasm32-wasip2/release/identity_accessor.wasm"));
        assert_eq!(c.allowed_outbound_hosts.len(), 2);
        assert!(c.variables.contains_key("api_key"));
        assert_eq!(m.variables["api_key"].default, None);
        assert!(m.variables["api_key"].secret);
        assert_eq!(
            m.variables["email_sources"].default.as_deref(),
            Some("auto")
        );
        assert_eq!(
            c.build.as_ref().map(|b| b.commands.clone()),
            Some(vec![
                "cargo build --target wasm32-wasip2 --release".to_string()
            ])
        );
        Ok(())
    }

    #[test]
    fn parses_a_minimal_manifest() -> anyhow::Result<()> {
        let m = parse(MINIMAL)?;
        let c = &m.components["c"];
        assert_eq!(c.source, Path::new("/app/c.wasm"));
        assert_eq!(c.variables["mixed"].to_string(), "prefix-{{ base }}-suffix");
        let build = c.build.as_ref().unwrap();
        assert_eq!(build.workdir, Path::new("/app/sub"));
        Ok(())
    }

    #[test]
    fn rejects_other_manifest_versions() {
        let text = MINIMAL.replace("spin_manifest_version = 2", "spin_manifest_version = 1");
        assert!(parse_err(&text).contains("spin_manifest_version"));
    }

    #[test]
    fn rejects_variable_with_both_required_and_default() {
        let text = MINIMAL.replace(
            "api_key = { required = true, secret = true }",
            "api_key = { required = true, default = \"x\" }",
        );
        assert!(parse_err(&text).contains("not both"));
    }

    #[test]
    fn rejects_variable_with_neither_required_nor_default() {
        let text = MINIMAL.replace(
            "api_key = { required = true, secret = true }",
            "api_key = { secret = true }",
        );
        assert!(parse_err(&text).contains("either `required = true` or a `default`"));
    }

    #[test]
    fn rejects_bad_variable_names() {
        let text = MINIMAL.replace("base = {", "bad__name = {");
        assert!(parse_err(&text).contains("invalid variable name"));
        let text = MINIMAL.replace("base = {", "Base = {");
        assert!(parse_err(&text).contains("invalid variable name"));
    }

    #[test]
    fn rejects_template_naming_undeclared_variable() {
        let text = MINIMAL.replace("\"{{ api_key }}\"", "\"{{ nope }}\"");
        assert!(parse_err(&text).contains("unknown variable \"nope\""));
    }

    #[test]
    fn rejects_unmatched_braces() {
        let text = MINIMAL.replace("\"{{ api_key }}\"", "\"{{ api_key\"");
        assert!(parse_err(&text).contains("unmatched"));
    }

    #[test]
    fn rejects_trigger_for_unknown_component() {
        let text = MINIMAL.replace("component = \"c\"", "component = \"other\"");
        assert!(parse_err(&text).contains("not defined"));
    }

    #[test]
    fn rejects_bad_literal_allowed_host() {
        let text = MINIMAL.replace("https://*.atlassian.net", "https://example.com/path");
        assert!(parse_err(&text).contains("path"));
    }

    #[test]
    fn rejects_unsupported_component_fields() {
        let text = MINIMAL.replace(
            "source = \"c.wasm\"",
            "source = \"c.wasm\"\nfiles = [\"x\"]",
        );
        assert!(parse_err(&text).contains("`files` is not supported"));
    }

    #[test]
    fn rejects_unknown_top_level_fields() {
        let text = format!("bogus = 1\n{MINIMAL}");
        assert!(parse_err(&text).contains("bogus"));
    }

    #[test]
    fn rejects_missing_trigger() {
        let text = MINIMAL.replace(
            "[[trigger.http]]\nroute = \"/...\"\ncomponent = \"c\"\n",
            "",
        );
        assert!(parse_err(&text).contains("no [[trigger.http]]"));
    }

    #[test]
    fn rejects_bad_component_id() {
        let text = MINIMAL
            .replace("component = \"c\"", "component = \"C_x\"")
            .replace("[component.c", "[component.C_x");
        assert!(parse_err(&text).contains("invalid component id"));
    }

    #[test]
    fn accepts_command_lists() -> anyhow::Result<()> {
        let text = MINIMAL.replace("command = \"make\"", "command = [\"make a\", \"make b\"]");
        let m = parse(&text)?;
        assert_eq!(m.components["c"].build.as_ref().unwrap().commands.len(), 2);
        Ok(())
    }

    #[test]
    fn normalizes_routes_like_spin() {
        assert_eq!(normalize_route("/"), "/");
        assert_eq!(normalize_route("foo"), "/foo");
        assert_eq!(normalize_route("/foo/"), "/foo");
        assert_eq!(normalize_route("/..."), "/...");
    }
}
