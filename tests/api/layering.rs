//! The shape of `src/` (STYLE.md): data flows one way, so no module imports
//! one that imports it back; the domain has no database, HTTP or schema
//! framework in it; HTTP handlers reach the database only through the
//! application modules.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every module of the crate (`efile::notes`) with its source, tests cut off.
fn modules() -> BTreeMap<String, String> {
    fn walk(dir: &Path, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(concat!(env!("CARGO_MANIFEST_DIR"), "/src")).unwrap();
                let mut parts: Vec<String> =
                    rel.with_extension("").iter().map(|p| p.to_string_lossy().into_owned()).collect();
                if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
                    parts.pop();
                }
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap_or("").to_owned();
                out.insert(parts.join("::"), code);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

/// Code without comments, so that prose may name anything.
fn code_only(text: &str) -> String {
    text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

/// Paths like `a::b::c` that follow `prefix` in `text`.
fn paths_after(text: &str, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let after = &rest[i + prefix.len()..];
        let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':')).unwrap_or(after.len());
        out.push(after[..end].trim_end_matches(':').to_owned());
        rest = &after[end..];
    }
    out
}

/// Which modules each module uses (`crate::x::y` and `super::y` paths, and
/// `use crate::{a, b}` groups), resolved to the longest module prefix.
fn imports(mods: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let resolve = |path: &str| -> Option<String> {
        let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        (1..=segs.len()).rev().map(|k| segs[..k].join("::")).find(|m| mods.contains_key(m))
    };
    let mut graph = BTreeMap::new();
    for (name, text) in mods {
        let code = code_only(text);
        let parent = name.rsplit_once("::").map_or("", |(p, _)| p).to_owned();
        let mut refs: Vec<String> = paths_after(&code, "crate::");
        for p in paths_after(&code, "super::") {
            refs.push(if parent.is_empty() { p } else { format!("{parent}::{p}") });
        }
        for group in code.split("use crate::{").skip(1) {
            let inner = group.split('}').next().unwrap_or("");
            refs.extend(inner.split(',').map(|s| s.trim().split(' ').next().unwrap_or("").to_owned()));
        }
        let used: BTreeSet<String> = refs
            .iter()
            .filter_map(|r| resolve(r))
            .filter(|m| m != name && !name.starts_with(&format!("{m}::")))
            .collect();
        graph.insert(name.clone(), used);
    }
    graph
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = imports(&modules());
    // Depth-first search for a back edge, reporting the cycle it closes.
    fn visit(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(m.to_owned(), 1);
        stack.push(m.to_owned());
        for next in graph.get(m).into_iter().flatten() {
            match state.get(next.as_str()).copied().unwrap_or(0) {
                0 => {
                    if let Some(c) = visit(next, graph, state, stack) {
                        return Some(c);
                    }
                }
                1 => {
                    let from = stack.iter().position(|s| s == next).unwrap_or(0);
                    let mut cycle = stack[from..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(m.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for m in graph.keys() {
        if state.get(m.as_str()).copied().unwrap_or(0) == 0
            && let Some(cycle) = visit(m, &graph, &mut state, &mut Vec::new())
        {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
    // The checker sees real edges.
    assert!(graph["efile::notes"].contains("ledger"), "{:?}", graph["efile::notes"]);
}

#[test]
fn the_domain_is_pure() {
    for (name, text) in modules().iter().filter(|(n, _)| n.as_str() == "domain" || n.starts_with("domain::")) {
        let code = code_only(text);
        for framework in ["diesel", "actix", "utoipa", "crate::store", "crate::api"] {
            assert!(!code.contains(framework), "{name} uses {framework}: the domain is plain types and rules");
        }
    }
}

#[test]
fn handlers_reach_the_database_through_the_application() {
    for (name, text) in modules().iter().filter(|(n, _)| n.starts_with("api::") && n.as_str() != "api::error") {
        let code = code_only(text);
        for forbidden in ["diesel", "store::schema"] {
            assert!(!code.contains(forbidden), "{name} uses {forbidden}: call an application module instead");
        }
    }
}
