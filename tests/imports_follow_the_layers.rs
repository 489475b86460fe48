//! The layers of `src/`, enforced: every `crate::` and `super::` import of every source file is read,
//! resolved to the file it names (through a folder's `mod.rs` re-exports), and must not run up a layer;
//! and no two top-level modules may import each other, directly or around a loop. A wrong edge fails
//! this test naming the file, the line and both layers (`a_wrong_edge_is_caught` proves it can).
//!
//! From the bottom:
//! - **core**: types and pure logic — the clock, items, the window and AIMD step, the split plan,
//!   codecs and caps, record validation, load schedules and payloads, errors, metrics;
//! - **storage**: the durable-file layer and what lives on it — segments and sinks, the DLQ, the spill
//!   queue, the start-up recovery scan;
//! - **observation**: the run report and its expositions (Prometheus, the progress line);
//! - **config**: a run's settings (each component's own config lives with the component, lower);
//! - **pipeline**: drives core and storage;
//! - **producers**: ingest and re-drive, which feed the pipeline;
//! - **checks**: the checks and the crash simulation, which use everything below;
//! - **report**: renders run folders;
//! - the crate root (`lib.rs`), which only declares and re-exports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layers from the bottom, each a list of module paths (`folder/file`, or a folder or file for all
/// of it); the longest match decides.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "core",
        &[
            "clock",
            "control",
            "rng",
            "error",
            "host",
            "signals",
            "metrics",
            "item",
            "codec",
            "batch",
            "load",
            "payload",
            "testutil",
            "retry/split",
            "ingest/field",
            "ingest/scan",
            "ingest/schema",
            "ingest/testdata",
        ],
    ),
    (
        "storage",
        &["storage", "sink", "queue", "retry", "ingest/checkpoint"],
    ),
    ("observation", &["summary", "prometheus", "progress"]),
    ("config", &["config"]),
    ("pipeline", &["pipeline"]),
    ("producers", &["ingest", "redrive"]),
    ("checks", &["checks", "crashsim"]),
    ("report", &["report"]),
    ("root", &["lib"]),
];

/// A source file: its module path (`a/b` for `src/a/b.rs`, `a` for `src/a/mod.rs` or `src/a.rs`) and
/// its text.
struct Source {
    module: String,
    text: String,
}

fn module_of(rel: &Path) -> String {
    let s = rel.with_extension("").to_string_lossy().replace('\\', "/");
    s.strip_suffix("/mod").unwrap_or(&s).to_string()
}

fn layer_of(module: &str) -> Option<(usize, &'static str)> {
    let mut best: Option<(usize, usize, &'static str)> = None;
    for (rank, (name, mods)) in LAYERS.iter().enumerate() {
        for m in mods.iter() {
            let hit = module == *m || module.starts_with(&format!("{m}/"));
            if hit && best.is_none_or(|b| m.len() > b.0) {
                best = Some((m.len(), rank, name));
            }
        }
    }
    best.map(|(_, rank, name)| (rank, name))
}

/// Code without comments (doc links are not imports) and without string literals' contents.
fn code_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_tests = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("#[cfg(test)]") {
            // Test modules sit at the end of a file; their imports are the tests', not the layer's.
            in_tests = true;
        }
        if in_tests {
            break;
        }
        let code = match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        };
        let mut s = String::new();
        let mut in_str = false;
        for c in code.chars() {
            if c == '"' {
                in_str = !in_str;
            }
            if !in_str {
                s.push(c);
            }
        }
        out.push((i + 1, s));
    }
    out
}

/// `pub use child::{A, B}` / `pub use child::A` in a folder's `mod.rs`: name -> child module.
fn re_exports(sources: &[Source]) -> BTreeMap<(String, String), String> {
    let mut map = BTreeMap::new();
    for s in sources {
        let text = s.text.replace('\n', " ");
        for stmt in text.split(';') {
            let Some(rest) = stmt.trim().strip_prefix("pub use ") else {
                continue;
            };
            let Some((child, names)) = rest.split_once("::") else {
                continue;
            };
            if child.contains("crate") || child.contains("super") {
                continue;
            }
            let names = names.trim().trim_start_matches('{').trim_end_matches('}');
            for n in names.split(',') {
                let n = n.trim().rsplit("::").next().unwrap_or("").trim();
                if !n.is_empty() {
                    map.insert(
                        (s.module.clone(), n.to_string()),
                        format!("{}/{child}", s.module),
                    );
                }
            }
        }
    }
    map
}

/// Every import edge: (from module, line, to module).
fn edges(sources: &[Source]) -> Vec<(String, usize, String)> {
    let modules: BTreeSet<&str> = sources.iter().map(|s| s.module.as_str()).collect();
    let exports = re_exports(sources);
    let resolve = |path: &[&str]| -> Option<String> {
        // The longest prefix of `path` that is a module, then through its re-exports.
        for n in (1..=path.len()).rev() {
            let m = path[..n].join("/");
            if modules.contains(m.as_str()) {
                if let Some(name) = path.get(n) {
                    if let Some(child) = exports.get(&(m.clone(), name.to_string())) {
                        return Some(child.clone());
                    }
                }
                return Some(m);
            }
        }
        None
    };
    let mut out = Vec::new();
    for s in sources {
        let parent = match s.module.rsplit_once('/') {
            Some((p, _)) => p.to_string(),
            None => String::new(),
        };
        for (line, code) in code_lines(&s.text) {
            for (anchor, base) in [("crate::", String::new()), ("super::", parent.clone())] {
                let mut rest = code.as_str();
                while let Some(at) = rest.find(anchor) {
                    let tail = &rest[at + anchor.len()..];
                    // `crate::{a, b::C}` and `crate::a::{B, c::D}`: expand one level of braces.
                    let head: String = tail
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    let mut paths = Vec::new();
                    let prefix: Vec<&str> = head.split("::").filter(|p| !p.is_empty()).collect();
                    if tail[head.len()..].starts_with('{') {
                        let inner = &tail[head.len() + 1..];
                        let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
                        for item in inner.split(',') {
                            let mut p = prefix.clone();
                            p.extend(item.trim().split("::").filter(|p| !p.is_empty()));
                            paths.push(p.into_iter().map(str::to_string).collect::<Vec<_>>());
                        }
                    } else {
                        paths.push(prefix.iter().map(|p| p.to_string()).collect());
                    }
                    for p in paths {
                        let mut full: Vec<String> = if base.is_empty() {
                            Vec::new()
                        } else {
                            base.split('/').map(str::to_string).collect()
                        };
                        full.extend(p);
                        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
                        if let Some(to) = resolve(&refs) {
                            if to != s.module {
                                out.push((s.module.clone(), line, to));
                            }
                        }
                    }
                    rest = &tail[head.len()..];
                }
            }
        }
    }
    out
}

/// What is wrong with the imports of `sources`: edges up a layer, files in no layer, and cycles
/// between top-level modules.
fn violations(sources: &[Source]) -> Vec<String> {
    let mut bad = Vec::new();
    for s in sources {
        if layer_of(&s.module).is_none() {
            bad.push(format!("src/{}: in no layer (add it to LAYERS)", s.module));
        }
    }
    let edges = edges(sources);
    for (from, line, to) in &edges {
        let (Some((fr, fname)), Some((tr, tname))) = (layer_of(from), layer_of(to)) else {
            continue;
        };
        // A folder's face (`mod.rs`) declares and re-exports its children, whatever their layer.
        let face = to.starts_with(&format!("{from}/"));
        if tr > fr && !face {
            bad.push(format!(
                "src/{from} line {line}: imports {to} ({tname}), a layer above its own ({fname})"
            ));
        }
    }
    // Cycles between top-level modules.
    let top = |m: &str| m.split('/').next().unwrap_or(m).to_string();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, _, to) in &edges {
        let (a, b) = (top(from), top(to));
        if a != b && a != "lib" {
            graph.entry(a).or_default().insert(b);
        }
    }
    let reach = |start: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![start.to_string()];
        while let Some(n) = todo.pop() {
            for m in graph.get(&n).into_iter().flatten() {
                if seen.insert(m.clone()) {
                    todo.push(m.clone());
                }
            }
        }
        seen
    };
    for a in graph.keys() {
        for b in &graph[a] {
            if a < b && reach(b).contains(a) {
                bad.push(format!(
                    "top-level modules {a} and {b} import each other (directly or around a loop)"
                ));
            }
        }
    }
    bad
}

fn read_src() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = Vec::new();
    let mut todo = vec![root.clone()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                if p.file_name().is_some_and(|n| n != "bin") {
                    todo.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs")
                && p.file_name().is_some_and(|n| n != "tests.rs")
            {
                // A file's unit tests (`x/tests.rs`) may use anything, like its `mod tests` may.
                let rel = p.strip_prefix(&root).unwrap();
                out.push(Source {
                    module: module_of(rel),
                    text: std::fs::read_to_string(&p).unwrap(),
                });
            }
        }
    }
    out.sort_by(|a, b| a.module.cmp(&b.module));
    out
}

#[test]
fn every_import_in_src_follows_the_layers_and_no_top_level_modules_form_a_cycle() {
    let sources = read_src();
    assert!(sources.len() > 40, "read {} files", sources.len());
    assert!(
        edges(&sources).len() > 100,
        "the import reader found almost nothing"
    );
    let bad = violations(&sources);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn a_wrong_edge_is_caught() {
    // The same tree, with one core file importing the pipeline, and one pair of modules importing
    // each other: both must be reported.
    let mut sources = read_src();
    sources.push(Source {
        module: "codec/evil".into(),
        text: "use crate::pipeline::run;\nuse crate::{clock, summary::RunReport};\n".into(),
    });
    let bad = violations(&sources);
    assert!(
        bad.iter()
            .any(|b| b.contains("src/codec/evil line 1: imports pipeline (pipeline)")),
        "{bad:?}"
    );
    assert!(
        bad.iter()
            .any(|b| b.contains("src/codec/evil line 2: imports summary")),
        "{bad:?}"
    );
    assert!(
        bad.iter()
            .any(|b| b.contains("codec and pipeline import each other")
                || b.contains("codec and summary import each other")),
        "{bad:?}"
    );
}
