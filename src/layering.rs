//! The layering rule, checked: the modules of `src/` import each other without cycles.
//!
//! Every `crate::<module>` path (in `use`, in code and in doc links) of a file under `src/` is an
//! edge from the file's top-level module (`src/admin.rs` and `src/admin/**` are `admin`) to
//! `<module>`. The graph must have no cycle; in particular the upstream layer never names the
//! HTTP side (`error`, `handler`, `admin`), and `handler` and `admin` never name each other
//! both ways.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module → the modules it names.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The top-level modules `text` names as `crate::<module>` or `crate::{<module>, ...}`.
fn named_modules(text: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Only the first segment of each path in the group: `crate::{a::{b, c}, d}` names a
            // and d.
            let mut depth = 0;
            let mut start = 0;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        out.insert(ident(&group[start..i]));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.insert(ident(&group[start..i]));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident(rest));
        }
    }
    // `crate::VERSION` and the like are items of the crate root, not modules.
    out.retain(|m| m.starts_with(|c: char| c.is_ascii_lowercase()));
    out
}

/// The module graph of the `.rs` files under `src`.
fn graph_of(src: &Path) -> std::io::Result<Graph> {
    let mut graph = Graph::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src");
            let first = relative.components().next().expect("a file");
            let first = first.as_os_str().to_string_lossy();
            let module = first.strip_suffix(".rs").unwrap_or(&first).to_string();
            if module == "lib" || module == "layering" {
                continue;
            }
            let text = std::fs::read_to_string(&path)?;
            let names = graph.entry(module.clone()).or_default();
            names.extend(named_modules(&text).into_iter().filter(|m| *m != module));
        }
    }
    Ok(graph)
}

/// A cycle of `graph`, as the modules along it, if there is one.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

fn src_graph() -> Graph {
    graph_of(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")).expect("src/ is readable")
}

#[test]
fn upstream_never_names_the_http_side() {
    let graph = src_graph();
    let upstream = &graph["upstream"];
    for http in ["error", "handler", "admin"] {
        assert!(
            !upstream.contains(http),
            "src/upstream/ names crate::{http}"
        );
    }
}

#[test]
fn handler_and_admin_do_not_name_each_other_both_ways() {
    let graph = src_graph();
    assert!(
        !(graph["handler"].contains("admin") && graph["admin"].contains("handler")),
        "handler and admin import each other"
    );
}

#[test]
fn src_modules_have_no_import_cycle() {
    let graph = src_graph();
    // The files are really read: the handler routes to the admin page.
    assert!(graph["handler"].contains("admin"), "{graph:?}");
    assert_eq!(find_cycle(&graph), None, "{graph:?}");
}

#[test]
fn the_check_sees_every_form_of_import() {
    let text = "use crate::error::ApiError;\nuse crate::{auth::{Secret, ApiKeys}, platform};\n\
                /// See [`crate::handler`].\nlet v = crate::VERSION;";
    assert_eq!(
        named_modules(text),
        ["auth", "error", "handler", "platform"]
            .map(String::from)
            .into()
    );
    let graph: Graph = [
        ("a", "use crate::b;"),
        ("b", "x(crate::c::f)"),
        ("c", "crate::a"),
    ]
    .into_iter()
    .map(|(m, text)| (m.to_string(), named_modules(text)))
    .collect();
    assert_eq!(
        find_cycle(&graph),
        Some(["a", "b", "c", "a"].map(String::from).to_vec())
    );
}
