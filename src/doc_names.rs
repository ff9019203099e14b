//! The contributor docs name only what exists: every repository path ARCHITECTURE.md and
//! CONTRIBUTING.md mention is on disk, every test or item they name as a Rust path
//! (`module::tests::name`, as libtest prints a test) is defined in the file that path leads to,
//! and every `cargo` command they show names a package, a test target and a test filter that
//! exist. A doc that names something since moved or renamed fails here, saying what and where.
//!
//! What counts as a name: a path is any word starting with one of the repository's top-level
//! folders and a `/` (`src/entry.rs`, `deploy/kubernetes/*.yaml`, `crates/devhost/`), or a file
//! name with a known extension (`real_spin.rs`, `spin.toml`), which must exist somewhere in the
//! tree; `target/` and `../` are not the repository's. A Rust path is an inline code span of the
//! form `a::b::c` starting with a lowercase module; its first segment is looked up in each module
//! root (`src/`, `tests/e2e/`, the tool crates' sources and tests).

use std::path::{Path, PathBuf};

/// The docs this test holds to the tree.
const DOCS: [&str; 2] = ["ARCHITECTURE.md", "CONTRIBUTING.md"];

/// The top-level folders a path in the docs may start with.
const TOP_FOLDERS: [&str; 10] = [
    "src",
    "crates",
    "tests",
    "scripts",
    "fuzz",
    "deploy",
    "runtime-config",
    "docs",
    ".ci",
    ".github",
];

/// Where a Rust path starts: the module roots of the crates and of the test binaries.
const MODULE_ROOTS: [&str; 8] = [
    "src",
    "tests/e2e",
    "tests",
    "crates/devhost/src",
    "crates/devhost/tests",
    "crates/fake-atlassian/src",
    "crates/fake-atlassian/tests/all",
    "crates/bench/src",
];

/// Extensions of the file names a doc may give without their folder.
const FILE_EXTENSIONS: [&str; 14] = [
    "rs", "md", "toml", "yaml", "yml", "sh", "json", "lock", "txt", "wit", "html", "js", "css",
    "svg",
];

/// The item keywords a Rust path's last segment may be defined with.
const ITEM_KEYWORDS: [&str; 8] = [
    "fn", "mod", "struct", "enum", "trait", "const", "static", "type",
];

/// What checking one doc found, and how much it looked at.
#[derive(Debug, Default)]
struct Findings {
    problems: Vec<String>,
    paths: usize,
    rust_paths: usize,
    commands: usize,
}

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, skipping build output and version control.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if !matches!(name.to_str(), Some("target" | ".git" | "node_modules")) {
                    todo.push(path);
                }
            } else {
                out.push(path);
            }
        }
    }
    out
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `text` defines `name` with one of `keywords` (`fn name(`, `mod name;`, ...).
fn defines(text: &str, keywords: &[&str], name: &str) -> bool {
    keywords.iter().any(|keyword| {
        let pattern = format!("{keyword} {name}");
        text.match_indices(&pattern).any(|(at, _)| {
            let before = text[..at].chars().next_back();
            let after = text[at + pattern.len()..].chars().next();
            !before.is_some_and(is_ident_char) && !after.is_some_and(is_ident_char)
        })
    })
}

/// The inline code spans of a Markdown text (a span may cross a line break), and each line of
/// its fenced code blocks.
fn code_of(text: &str) -> Vec<String> {
    let mut prose = String::new();
    let mut out = Vec::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if fenced {
            out.push(line.to_string());
        } else {
            prose.push_str(line);
            prose.push('\n');
        }
    }
    out.extend(
        prose
            .split('`')
            .skip(1)
            .step_by(2)
            .map(|span| span.replace('\n', " ")),
    );
    out
}

/// Whether `path` (relative to the repository, `*` allowed in a component) exists.
fn path_exists(path: &str) -> bool {
    let mut candidates = vec![repo().to_path_buf()];
    for component in path.split('/').filter(|c| !c.is_empty()) {
        let mut next = Vec::new();
        for base in &candidates {
            match component.split_once('*') {
                None => next.push(base.join(component)),
                Some((prefix, rest)) => {
                    let suffix = rest.trim_start_matches('*');
                    let Ok(entries) = std::fs::read_dir(base) else {
                        continue;
                    };
                    for entry in entries.flatten() {
                        let name = entry.file_name().to_string_lossy().into_owned();
                        if name.starts_with(prefix) && name.ends_with(suffix) {
                            next.push(entry.path());
                        }
                    }
                }
            }
        }
        candidates = next;
    }
    candidates.iter().any(|p| p.exists())
}

/// Whether the Rust path `segments` leads, from some module root, to a module or to a file that
/// defines its last segment.
fn rust_path_resolves(segments: &[&str]) -> bool {
    MODULE_ROOTS.iter().any(|root| {
        let mut dir = repo().join(root);
        let mut file: Option<PathBuf> = None;
        for (i, segment) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            let as_file = dir.join(format!("{segment}.rs"));
            let as_folder = dir.join(segment).join("mod.rs");
            if as_file.is_file() || as_folder.is_file() {
                file = Some(if as_file.is_file() {
                    as_file
                } else {
                    as_folder
                });
                dir = dir.join(segment);
                continue;
            }
            let Some(text) = file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()) else {
                return false;
            };
            if !last {
                // An inline module (`mod tests { ... }`) of the same file.
                if defines(&text, &["mod"], segment) {
                    continue;
                }
                return false;
            }
            // The item is in the file, or in the module's folder (re-exported from there).
            return defines(&text, &ITEM_KEYWORDS, segment)
                || files_under(&dir).iter().any(|f| {
                    std::fs::read_to_string(f).is_ok_and(|t| defines(&t, &ITEM_KEYWORDS, segment))
                });
        }
        true
    })
}

/// The names a test filter may match in `scope`: file stems, folder names, modules and
/// functions.
fn names_in(scope: &[PathBuf]) -> Vec<String> {
    let mut names = Vec::new();
    for root in scope {
        let files = if root.is_file() {
            vec![root.clone()]
        } else {
            files_under(root)
        };
        for file in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "rs"))
        {
            if let Some(stem) = file.file_stem() {
                names.push(stem.to_string_lossy().into_owned());
            }
            if let Some(parent) = file.parent().and_then(Path::file_name) {
                names.push(parent.to_string_lossy().into_owned());
            }
            let text = std::fs::read_to_string(file).unwrap_or_default();
            for keyword in ["fn ", "mod "] {
                for (at, _) in text.match_indices(keyword) {
                    let name: String = text[at + keyword.len()..]
                        .chars()
                        .take_while(|c| is_ident_char(*c))
                        .collect();
                    names.push(name);
                }
            }
        }
    }
    names
}

/// The workspace's package names, from each `Cargo.toml`'s `[package] name`.
fn package_names() -> Vec<String> {
    let mut manifests = vec![repo().join("Cargo.toml")];
    if let Ok(entries) = std::fs::read_dir(repo().join("crates")) {
        manifests.extend(entries.flatten().map(|e| e.path().join("Cargo.toml")));
    }
    manifests
        .iter()
        .filter_map(|m| std::fs::read_to_string(m).ok())
        .filter_map(|text| {
            let line = text.lines().find(|l| l.starts_with("name = \""))?;
            Some(line["name = \"".len()..].trim_end_matches('"').to_string())
        })
        .collect()
}

/// Checks one `cargo test|run|build|clippy ...` command: its package, test target and filter.
fn check_command(command: &str, packages: &[String]) -> Result<(), String> {
    let words: Vec<&str> = command
        .split(['&', ';', '|', '#'])
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let testing = words.get(1) == Some(&"test");
    let mut scope: Vec<PathBuf> = MODULE_ROOTS.iter().map(|r| repo().join(r)).collect();
    let mut filter = None;
    let mut i = 2;
    while i < words.len() {
        let value = words.get(i + 1).copied().unwrap_or("");
        match words[i] {
            "--" => break,
            "-p" | "--package" => {
                if !packages.iter().any(|p| p == value) {
                    return Err(format!("no package {value:?}"));
                }
                if value != "identity-accessor" {
                    scope = vec![repo().join("crates").join(value)];
                }
                i += 1;
            }
            "--test" => {
                let target = [
                    "tests/{}.rs",
                    "tests/{}/main.rs",
                    "crates/*/tests/{}/main.rs",
                ]
                .map(|form| form.replace("{}", value))
                .into_iter()
                .find(|path| path_exists(path));
                let Some(target) = target else {
                    return Err(format!("no test target {value:?}"));
                };
                let target = repo().join(target);
                scope = vec![if target.ends_with("main.rs") {
                    target.parent().unwrap_or(&target).to_path_buf()
                } else {
                    target
                }];
                i += 1;
            }
            "--lib" => scope = vec![repo().join("src")],
            "--target" | "--features" | "--target-dir" | "--bin" | "-j" | "--jobs" => i += 1,
            word if word.starts_with('-') => {}
            word => {
                if testing && filter.is_none() {
                    filter = Some(word);
                }
            }
        }
        i += 1;
    }
    let Some(filter) = filter else {
        return Ok(());
    };
    let names = names_in(&scope);
    let segments: Vec<&str> = filter.trim_end_matches("::").split("::").collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        let known = names.iter().any(|n| n == segment)
            || (last && names.iter().any(|n| n.contains(segment)));
        if !known {
            return Err(format!("the filter {filter:?} matches no test"));
        }
    }
    Ok(())
}

/// Checks the names one doc gives.
fn check(doc: &str, text: &str) -> Findings {
    let mut found = Findings::default();
    let file_names: Vec<String> = files_under(repo())
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();

    let path_like = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '*' | '-');
    for word in text.split(|c: char| !path_like(c)) {
        let word = word.trim_end_matches('.');
        let word = word.strip_prefix("./").unwrap_or(word);
        let top = word.split('/').next().unwrap_or("");
        let named_file = !word.contains('/')
            && word
                .rsplit_once('.')
                .is_some_and(|(stem, ext)| !stem.is_empty() && FILE_EXTENSIONS.contains(&ext));
        if word.contains('/') && TOP_FOLDERS.contains(&top) {
            found.paths += 1;
            if !path_exists(word) {
                found.problems.push(format!("{doc}: {word}: no such path"));
            }
        } else if named_file {
            found.paths += 1;
            if !file_names.iter().any(|n| n == word) {
                found.problems.push(format!("{doc}: {word}: no such file"));
            }
        }
    }

    let packages = package_names();
    for code in code_of(text) {
        let span = code.trim();
        let span = span.strip_prefix("crate::").unwrap_or(span);
        let span = span.strip_suffix("()").unwrap_or(span);
        let segments: Vec<&str> = span.split("::").collect();
        let rust_path = segments.len() > 1
            && segments[0].starts_with(|c: char| c.is_ascii_lowercase())
            && segments
                .iter()
                .all(|s| !s.is_empty() && s.chars().all(is_ident_char));
        if rust_path {
            found.rust_paths += 1;
            if !rust_path_resolves(&segments) {
                found
                    .problems
                    .push(format!("{doc}: {span}: no such test, module or item"));
            }
        }
        for sub in ["cargo test", "cargo run", "cargo build", "cargo clippy"] {
            for (at, _) in code.match_indices(sub) {
                found.commands += 1;
                if let Err(why) = check_command(&code[at..], &packages) {
                    found
                        .problems
                        .push(format!("{doc}: {}: {why}", code[at..].trim()));
                }
            }
        }
    }
    found
}

#[test]
fn the_contributor_docs_name_only_what_exists() {
    let mut problems = Vec::new();
    for doc in DOCS {
        let text = std::fs::read_to_string(repo().join(doc)).expect("the doc is readable");
        let found = check(doc, &text);
        // The doc was really read: it names paths, tests and commands.
        assert!(
            found.paths >= 20 && found.rust_paths >= 10 && found.commands >= 3,
            "{doc}: too few names seen: {found:?}"
        );
        problems.extend(found.problems);
    }
    assert!(
        problems.is_empty(),
        "names in the docs that do not exist: {problems:#?}"
    );
}

#[test]
fn a_name_that_moved_is_caught() {
    let text = "See `src/entry.rs`, `src/no_such_room.rs`, [x](deploy/kubernetes/*.yaml) and \
                deploy/kubernetes/*.json, `real_spin.rs` and `unreal_spin.rs`.\n\
                Tests: `auth::tests::rejects_empty_key`, `auth::tests::rejects_no_such_thing`,\n\
                `spec::admin_limit::accepts_1_to_100`, `handler::Request`, `nowhere::at_all`.\n\
                ```sh\n\
                cargo test --test e2e contract::\n\
                cargo test --test e2e no_such_module::\n\
                cargo test --lib rejects_empty\n\
                cargo run -p bench -- --quick\n\
                cargo run -p no-such-crate\n\
                ```\n";
    let found = check("DOC", text);
    assert_eq!(
        found.problems,
        [
            "DOC: src/no_such_room.rs: no such path",
            "DOC: deploy/kubernetes/*.json: no such path",
            "DOC: unreal_spin.rs: no such file",
            "DOC: cargo test --test e2e no_such_module::: the filter \"no_such_module::\" matches no test",
            "DOC: cargo run -p no-such-crate: no package \"no-such-crate\"",
            "DOC: auth::tests::rejects_no_such_thing: no such test, module or item",
            "DOC: nowhere::at_all: no such test, module or item",
        ]
    );
    assert_eq!((found.paths, found.rust_paths, found.commands), (6, 5, 5));
}
