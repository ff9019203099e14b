//! The release's one version and its files, checked without building a release.
//!
//! - The version is `Cargo.toml`'s (`identity_accessor::VERSION`: what `/admin/status` reports
//!   and the admin page shows, the upstream `User-Agent`, the OCI tag, the Git tag `vVERSION`).
//!   `spin.toml`'s `[application] version`, `openapi.yaml`'s `info.version`, every SpinApp's
//!   image tag, every `identity-accessor:<tag>` the docs name, and CHANGELOG.md's newest release
//!   are the same.
//! - CHANGELOG.md keeps the "Keep a Changelog" form: `## [Unreleased]` first, then releases
//!   newest first as `## [X.Y.Z] - YYYY-MM-DD`, with only the standard `###` sections.
//! - The GitHub workflows run scripts that exist, CI runs `.ci/run`, and the release runs on
//!   `v*` tags through `scripts/release.sh`.

use anyhow::{bail, ensure, Context, Result};
use identity_accessor::VERSION;
use regex_lite::Regex;
use serde::Deserialize;
use serde_yaml::Value;

use crate::manifest::{read, repo_path};

/// Files that name the artifact `…/identity-accessor:<tag>`.
const ARTIFACT_FILES: [&str; 6] = [
    "README.md",
    "docs/DEPLOY.md",
    "deploy/kubernetes/README.md",
    "deploy/kubernetes/spinapp.yaml",
    "deploy/kubernetes/spinapp-autoscaled.yaml",
    "CHANGELOG.md",
];

/// The change types "Keep a Changelog" 1.1.0 defines.
const CHANGE_TYPES: [&str; 6] = [
    "Added",
    "Changed",
    "Deprecated",
    "Removed",
    "Fixed",
    "Security",
];

/// A `MAJOR.MINOR.PATCH` version as numbers.
fn semver(text: &str) -> Result<(u64, u64, u64)> {
    let parts = text
        .split('.')
        .map(|p| {
            p.parse::<u64>()
                .with_context(|| format!("version {text:?}"))
        })
        .collect::<Result<Vec<_>>>()?;
    match parts[..] {
        [major, minor, patch] => Ok((major, minor, patch)),
        _ => bail!("version {text:?} is not MAJOR.MINOR.PATCH"),
    }
}

#[test]
fn one_version_in_manifest_spec_deploy_files_and_docs() -> Result<()> {
    semver(VERSION)?;

    let spin: toml::Value = toml::from_str(&read("spin.toml")?)?;
    let app_version = spin["application"]["version"].as_str();
    ensure!(
        app_version == Some(VERSION),
        "spin.toml [application] version is {app_version:?}, Cargo.toml's is {VERSION}"
    );

    let openapi: Value = serde_yaml::from_str(&read("openapi.yaml")?)?;
    let spec_version = openapi["info"]["version"].as_str();
    ensure!(
        spec_version == Some(VERSION),
        "openapi.yaml info.version is {spec_version:?}, Cargo.toml's is {VERSION}"
    );

    for file in [
        "deploy/kubernetes/spinapp.yaml",
        "deploy/kubernetes/spinapp-autoscaled.yaml",
    ] {
        let mut images = 0;
        for doc in serde_yaml::Deserializer::from_str(&read(file)?) {
            let doc = Value::deserialize(doc)?;
            if doc["kind"].as_str() == Some("SpinApp") {
                let image = doc["spec"]["image"].as_str().context("spec.image")?;
                ensure!(
                    image.ends_with(&format!("/identity-accessor:{VERSION}")),
                    "{file}: image {image:?} is not the release artifact …/identity-accessor:{VERSION}"
                );
                images += 1;
            }
        }
        ensure!(images == 1, "{file}: expected one SpinApp, found {images}");
    }

    // Every artifact reference in the docs and manifests carries the version.
    let reference = Regex::new(r"identity-accessor:([0-9A-Za-z._-]+)")?;
    let mut seen = 0;
    for file in ARTIFACT_FILES {
        let text = read(file)?;
        for found in reference.captures_iter(&text) {
            let tag = &found[1];
            ensure!(
                tag == VERSION || tag == "VERSION",
                "{file}: names identity-accessor:{tag}, the version is {VERSION}"
            );
            seen += 1;
        }
    }
    ensure!(
        seen >= 6,
        "expected the artifact named in the docs and manifests, found {seen}"
    );
    Ok(())
}

#[test]
fn changelog_keeps_a_changelog_newest_release_is_this_version() -> Result<()> {
    let text = read("CHANGELOG.md")?;
    let release = Regex::new(r"^## \[([0-9]+\.[0-9]+\.[0-9]+)\] - ([0-9]{4}-[0-9]{2}-[0-9]{2})$")?;
    let headings: Vec<&str> = text.lines().filter(|l| l.starts_with("## ")).collect();
    ensure!(
        headings.first() == Some(&"## [Unreleased]"),
        "CHANGELOG.md: the first section must be ## [Unreleased], found {:?}",
        headings.first()
    );
    let mut releases = Vec::new();
    for heading in &headings[1..] {
        let found = release
            .captures(heading)
            .with_context(|| format!("CHANGELOG.md: {heading:?} is not ## [X.Y.Z] - YYYY-MM-DD"))?;
        releases.push((
            semver(&found[1])?,
            found[1].to_string(),
            found[2].to_string(),
        ));
    }
    ensure!(
        releases.first().map(|r| r.1.as_str()) == Some(VERSION),
        "CHANGELOG.md: the newest release must be {VERSION}, found {:?}",
        releases.first().map(|r| &r.1)
    );
    for pair in releases.windows(2) {
        ensure!(
            pair[0].0 > pair[1].0 && pair[0].2 >= pair[1].2,
            "CHANGELOG.md: {} ({}) must come before {} ({}): newest first",
            pair[1].1,
            pair[1].2,
            pair[0].1,
            pair[0].2
        );
    }
    ensure!(
        releases.iter().any(|r| r.1 == "0.1.0"),
        "CHANGELOG.md: the history starts at 0.1.0"
    );
    for line in text.lines().filter(|l| l.starts_with("### ")) {
        let kind = &line[4..];
        ensure!(
            CHANGE_TYPES.contains(&kind),
            "CHANGELOG.md: {line:?} is not one of Keep a Changelog's sections {CHANGE_TYPES:?}"
        );
    }
    Ok(())
}

#[test]
fn workflows_run_the_projects_scripts() -> Result<()> {
    let dir = repo_path(".github/workflows");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if !(name.ends_with(".yml") || name.ends_with(".yaml")) {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let doc: Value = serde_yaml::from_str(&text).with_context(|| format!("parsing {name}"))?;
        ensure!(doc["jobs"].as_mapping().is_some(), "{name}: no jobs");
        // Every script a step runs exists and is executable.
        let script = Regex::new(r"(?:^|[\s/])((?:scripts|\.ci)/[A-Za-z0-9._-]+)")?;
        for found in script.captures_iter(&text) {
            let path = repo_path(&found[1]);
            ensure!(
                path.is_file(),
                "{name}: runs {}, which does not exist",
                &found[1]
            );
        }
        names.push((name, doc, text));
    }
    let ci = names
        .iter()
        .find(|(n, _, _)| n.starts_with("ci."))
        .context("no .github/workflows/ci.yml")?;
    ensure!(ci.2.contains(".ci/run"), "ci.yml does not run .ci/run");
    // `on:` parses as the key "on" (YAML 1.2; serde_yaml does not read it as a boolean); an
    // event with no filter (`pull_request:`) is a key with a null value.
    let on = ci.1["on"].as_mapping().context("ci.yml: no `on:` events")?;
    for event in ["push", "pull_request"] {
        ensure!(on.contains_key(event), "ci.yml does not run on {event}");
    }
    let release = names
        .iter()
        .find(|(n, _, _)| n.starts_with("release."))
        .context("no .github/workflows/release.yml")?;
    let tags = &release.1["on"]["push"]["tags"];
    ensure!(
        tags.as_sequence()
            .is_some_and(|t| t.iter().any(|t| t.as_str() == Some("v*"))),
        "release.yml must run on tags v*: {tags:?}"
    );
    ensure!(
        release.2.contains("scripts/release.sh"),
        "release.yml does not run scripts/release.sh"
    );
    Ok(())
}
