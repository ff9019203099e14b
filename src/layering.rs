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

// The tools' crates (`crates/`), held to the same rule: no import cycle between the modules of
// devhost, fake-atlassian or bench, nor between those of the integration tests. A shared type
// lives in the module that owns it (the fake's `state` and `endpoint`; devhost's variable type
// beside the templates that need it), and the modules that use it name it, never the other way
// round.

/// The module trees checked besides `src/` (each folder holds a crate root and its modules),
/// with one import each that shows the files were really read.
const TOOL_TREES: [(&str, &str, &str); 5] = [
    ("crates/devhost/src", "manifest", "expressions"),
    ("crates/fake-atlassian/src", "server", "api"),
    ("crates/bench/src", "suite", "stats"),
    ("crates/fake-atlassian/tests/all", "spec", "support"),
    ("tests/e2e", "deploy", "manifest"),
];

/// Every set of modules that import each other round in a circle (the strongly connected
/// components with more than one module), so that one run names all of a crate's circles.
fn circles(graph: &Graph) -> Vec<BTreeSet<String>> {
    let reach = |from: &str| {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_string()];
        while let Some(node) = todo.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    todo.push(next.clone());
                }
            }
        }
        seen
    };
    let reached: BTreeMap<&String, BTreeSet<String>> =
        graph.keys().map(|node| (node, reach(node))).collect();
    let mut out: Vec<BTreeSet<String>> = Vec::new();
    for (node, from_node) in &reached {
        if !from_node.contains(*node) || out.iter().any(|c| c.contains(*node)) {
            continue;
        }
        let circle = from_node
            .iter()
            .filter(|other| reached.get(other).is_some_and(|r| r.contains(*node)))
            .cloned()
            .collect();
        out.push(circle);
    }
    out
}

#[test]
fn tools_and_tests_have_no_import_cycle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for (tree, from, to) in TOOL_TREES {
        let graph = graph_of(&root.join(tree)).expect("the tree is readable");
        assert!(
            graph.get(from).is_some_and(|names| names.contains(to)),
            "{tree}: {from} should name {to}: {graph:?}"
        );
        assert_eq!(
            find_cycle(&graph).is_some(),
            !circles(&graph).is_empty(),
            "{tree}"
        );
        for circle in circles(&graph) {
            let modules: Vec<&str> = circle.iter().map(String::as_str).collect();
            found.push(format!("{tree}: {}", modules.join(" <-> ")));
        }
    }
    assert!(
        found.is_empty(),
        "modules that import each other: {found:#?}"
    );
}

#[test]
fn the_check_reads_a_cycle_between_files() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("lib.rs"), "mod a;\nmod b;\nmod c;\n")?;
    std::fs::write(dir.path().join("a.rs"), "use crate::b::Shared;\n")?;
    std::fs::write(
        dir.path().join("b.rs"),
        "pub struct Shared;\nfn f() { crate::a::g() }\n",
    )?;
    std::fs::write(dir.path().join("c.rs"), "use crate::{a, b};\n")?;
    let graph = graph_of(dir.path())?;
    assert_eq!(
        find_cycle(&graph),
        Some(["a", "b", "a"].map(String::from).to_vec())
    );
    assert_eq!(
        circles(&graph),
        [["a", "b"].map(String::from).into()],
        "c names both but is on no circle"
    );
    Ok(())
}
