//! Architecture invariants that a compiler does not check: no module of a crate depends on
//! itself through others (no import circles), and the verifier never names the prover.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The module path of a source file under `root` (`a/b.rs` and `a/b/mod.rs` are `a::b`).
fn module_of(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).expect("a file under the root");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// The code of a file that is compiled outside tests, without comments.
fn library_code(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// For each module of the crate under `root`, the other modules it names (`crate::a::b`, the
/// longest prefix that is a module, and `super::x`).
fn dependencies(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files: Vec<(String, PathBuf)> = sources(root)
        .into_iter()
        .map(|f| (module_of(root, &f), f))
        .collect();
    let modules: BTreeSet<String> = files.iter().map(|(m, _)| m.clone()).collect();
    let mut edges = BTreeMap::new();
    for (module, file) in &files {
        let code = library_code(&std::fs::read_to_string(file).expect("read a source file"));
        let mut deps = BTreeSet::new();
        for (prefix, base) in [("crate::", String::new()), ("super::", parent(module))] {
            for (at, _) in code.match_indices(prefix) {
                let rest = &code[at + prefix.len()..];
                let path: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                    .collect();
                let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
                for k in (1..=parts.len()).rev() {
                    let name = parts[..k].join("::");
                    let candidate = if base.is_empty() {
                        name
                    } else {
                        format!("{base}::{name}")
                    };
                    if modules.contains(&candidate) {
                        if candidate != *module {
                            deps.insert(candidate);
                        }
                        break;
                    }
                }
            }
        }
        edges.insert(module.clone(), deps);
    }
    edges
}

fn parent(module: &str) -> String {
    module
        .rsplit_once("::")
        .map(|(p, _)| p.to_string())
        .unwrap_or_default()
}

/// A circle among the modules, if there is one.
fn find_circle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == node) {
            let mut circle = stack[at..].to_vec();
            circle.push(node.to_string());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for dep in edges.get(node).into_iter().flatten() {
            if let Some(circle) = visit(dep, edges, stack, done) {
                return Some(circle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_an_import_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["witness-format/src", "verifier/src", "prover/src", "src"] {
        let edges = dependencies(&root.join(dir));
        assert!(edges.len() > 3, "{dir}: sources found");
        if let Some(circle) = find_circle(&edges) {
            panic!("{dir}: import circle {}", circle.join(" -> "));
        }
    }
}

#[test]
fn the_circle_finder_finds_a_circle() {
    let mut edges = BTreeMap::new();
    edges.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    edges.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    edges.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(
        find_circle(&edges).unwrap(),
        ["a", "b", "c", "a"].map(String::from)
    );
    edges.insert("c".to_string(), BTreeSet::new());
    assert_eq!(find_circle(&edges), None);
}

#[test]
fn the_verifier_and_the_wire_format_never_name_the_prover() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["verifier/src", "witness-format/src"] {
        for file in sources(&root.join(dir)) {
            let code = library_code(&std::fs::read_to_string(&file).unwrap());
            assert!(
                !code.contains("prover::"),
                "{} names the prover",
                file.display()
            );
        }
    }
}
