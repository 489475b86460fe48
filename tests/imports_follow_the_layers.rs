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
//! - **observation**: the run report, the counter table and its expositions (Prometheus, the progress
//!   line);
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
            "stats",
            "error",
            "host",
            "signals",
            "metrics",
            "flush",
            "item",
            "codec",
            "batch",
            "load",
            "payload",
            "testutil",
            "retry/split",
            "ingest/field",
            "ingest/json",
            "ingest/schema",
            "ingest/testdata",
        ],
    ),
    (
        "storage",
        &["storage", "sink", "queue", "retry", "ingest/checkpoint"],
    ),
    (
        "observation",
        &["summary", "counters", "prometheus", "progress"],
    ),
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

/// The file's code, without comments (doc links are not imports), string and char literals'
/// contents, or its test module (`#[cfg(test)] mod ...` and what follows: a file's tests may use
/// anything); newlines kept, so a byte offset still gives its line.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let (mut in_str, mut in_line_comment, mut block_depth) = (false, false, 0usize);
    while let Some(c) = chars.next() {
        if in_line_comment {
            if c == '\n' {
                in_line_comment = false;
                out.push('\n');
            }
            continue;
        }
        if block_depth > 0 {
            if c == '*' && chars.peek() == Some(&'/') {
                chars.next();
                block_depth -= 1;
            } else if c == '\n' {
                out.push('\n');
            }
            continue;
        }
        if in_str {
            match c {
                '\\' => {
                    chars.next();
                }
                '"' => in_str = false,
                '\n' => out.push('\n'),
                _ => {}
            }
            continue;
        }
        match c {
            '/' if chars.peek() == Some(&'/') => in_line_comment = true,
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                block_depth = 1;
            }
            '"' => in_str = true,
            // A char literal ('"', '\'', 'x'), not a lifetime ('a): skip what it holds.
            '\'' => {
                let mut ahead = chars.clone();
                let lit = match (ahead.next(), ahead.next(), ahead.next()) {
                    (Some('\\'), Some(_), Some('\'')) => 3,
                    (Some(_), Some('\''), _) => 2,
                    _ => 0,
                };
                for _ in 0..lit {
                    chars.next();
                }
                out.push(' ');
            }
            _ => out.push(c),
        }
    }
    let mut cut = out.len();
    let mut from = 0;
    while let Some(at) = out[from..].find("#[cfg(test)]") {
        let at = from + at;
        let rest = out[at + "#[cfg(test)]".len()..].trim_start();
        // An inline test module (`mod tests {`), not a declaration (`mod testutil;`).
        let inline = rest
            .find(['{', ';'])
            .is_some_and(|i| rest.as_bytes()[i] == b'{');
        if (rest.starts_with("mod ") || rest.starts_with("pub mod ")) && inline {
            cut = at;
            break;
        }
        from = at + 1;
    }
    out.truncate(cut);
    out
}

/// The paths a `use` tree or path names, from just after its `crate::`/`super::` anchor:
/// `a::b::C`, `a::{b, c::{D, E}}`, `{a::B, c}` (braces nested to any depth).
fn paths_at(text: &str) -> Vec<Vec<String>> {
    fn tree(t: &str, prefix: &[String], out: &mut Vec<Vec<String>>) -> usize {
        let t_trim = t.trim_start();
        let lead = t.len() - t_trim.len();
        let head: String = t_trim
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let mut p = prefix.to_vec();
        p.extend(
            head.split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string),
        );
        let rest = &t_trim[head.len()..];
        if let Some(inner) = rest.strip_prefix('{') {
            let mut used = 1;
            let mut cur = inner;
            loop {
                let n = tree(cur, &p, out);
                used += n;
                cur = &cur[n..];
                let c = cur.trim_start();
                used += cur.len() - c.len();
                if let Some(r) = c.strip_prefix(',') {
                    used += 1;
                    cur = r;
                } else if c.starts_with('}') {
                    used += 1;
                    break;
                } else {
                    break;
                }
            }
            lead + head.len() + used
        } else {
            if !p.is_empty() {
                out.push(p);
            }
            lead + head.len()
        }
    }
    let mut out = Vec::new();
    tree(text, &[], &mut out);
    out
}

/// `pub use child::{A, B}` / `pub(crate) use child::A` in a folder's `mod.rs`: name -> child
/// module.
fn re_exports(sources: &[Source]) -> BTreeMap<(String, String), String> {
    let mut map = BTreeMap::new();
    for s in sources {
        let code = code_of(&s.text);
        for stmt in code.split(';') {
            let stmt = stmt.trim();
            let Some(rest) = stmt
                .strip_prefix("pub use ")
                .or_else(|| stmt.strip_prefix("pub(crate) use "))
            else {
                continue;
            };
            for path in paths_at(rest) {
                let (Some(child), Some(name)) = (path.first(), path.last()) else {
                    continue;
                };
                if child == "crate" || child == "super" || path.len() < 2 {
                    continue;
                }
                let module = if s.module == "lib" {
                    child.clone()
                } else {
                    format!("{}/{child}", s.module)
                };
                let module = path[1..path.len() - 1]
                    .iter()
                    .fold(module, |m, seg| format!("{m}/{seg}"));
                map.insert((s.module.clone(), name.clone()), module);
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
        // The crate root has no names of its own (`the_crate_root_re_exports_no_names_flat`).
        None
    };
    let mut out = Vec::new();
    for s in sources {
        let code = code_of(&s.text);
        let mut at = 0;
        while at < code.len() {
            let rest = &code[at..];
            let (anchor_len, base): (usize, Vec<String>) = if rest.starts_with("crate::")
                && !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$')
            {
                (7, Vec::new())
            } else if rest.starts_with("super::")
                && !code[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
            {
                // `super::` (repeated): this module's parent, and up.
                let mut base: Vec<String> = s.module.split('/').map(str::to_string).collect();
                let mut len = 0;
                while code[at + len..].starts_with("super::") {
                    base.pop();
                    len += 7;
                }
                (len, base)
            } else {
                at += rest.chars().next().map_or(1, char::len_utf8);
                continue;
            };
            let line = code[..at].matches('\n').count() + 1;
            for p in paths_at(&code[at + anchor_len..]) {
                let mut full = base.clone();
                full.extend(p);
                let refs: Vec<&str> = full.iter().map(String::as_str).collect();
                if let Some(to) = resolve(&refs) {
                    if to != s.module {
                        out.push((s.module.clone(), line, to));
                    }
                }
            }
            at += anchor_len;
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

#[test]
fn the_reader_sees_through_the_forms_imports_take() {
    // rustfmt's multi-line `use`, nested braces, a module's path, `super::super::`, a path
    // without `use`, and a `#[cfg(test)] fn` (which must not hide the code after it); a test
    // module's imports are the tests' own.
    let mut sources = read_src();
    sources.push(Source {
        module: "codec/forms".into(),
        text: "use crate::{\n    clock::Nanos,\n    summary::{RunReport, Rejections},\n};\n\
               #[cfg(test)]\nfn helper() {}\n\
               use crate::config::RunConfig;\n\
               fn f() { let _ = super::super::pipeline::run; }\n\
               fn g() -> crate::checks::CheckResult { todo!() }\n\
               #[cfg(test)]\nmod tests { use crate::report::Csv; }\n"
            .into(),
    });
    let bad = violations(&sources);
    let hit = |line: usize, to: &str| {
        bad.iter()
            .any(|b| b.starts_with(&format!("src/codec/forms line {line}: imports {to} ")))
    };
    assert!(hit(1, "summary"), "multi-line, nested: {bad:?}");
    assert!(hit(7, "config"), "a module's path: {bad:?}");
    assert!(hit(8, "pipeline"), "super::super:: {bad:?}");
    assert!(hit(9, "checks/common"), "a path in a signature: {bad:?}");
    assert!(
        !bad.iter()
            .any(|b| b.contains("codec/forms") && b.contains("report")),
        "a test module's imports are not the layer's: {bad:?}"
    );
}

#[test]
fn the_crate_root_re_exports_no_names_flat() {
    // Every public name has one path, its module's (`ingest_lab::queue::BoundedQueue`), as tokio's
    // `sync::mpsc`: a flat list at the root hid which layer a name belongs to, and gave one concept
    // two names (`ingest_lab::WindowConfig` and `ingest_lab::config::WindowConfig`).
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let flat: Vec<&str> = lib
        .lines()
        .filter(|l| l.trim_start().starts_with("pub use"))
        .collect();
    assert!(
        flat.is_empty(),
        "src/lib.rs re-exports names flat: {flat:?}"
    );
}
