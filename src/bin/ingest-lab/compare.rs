//! `report --compare`: two run folders side by side.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::args::ReportArgs;

use crate::{fail, print_json};

pub(crate) fn cmd_compare(a: ReportArgs) -> ExitCode {
    let runs = a.compare.unwrap_or_default();
    let (ra, rb) = (&runs[0], &runs[1]);
    let c = match ingest_lab::report::compare(ra, rb) {
        Ok(c) => c,
        Err(e) => return fail(2, e),
    };
    let name = |p: &PathBuf| {
        std::fs::canonicalize(p)
            .unwrap_or_else(|_| p.clone())
            .file_name()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "run".into())
    };
    let out = a.out.unwrap_or_else(|| {
        PathBuf::from("reports/compare").join(format!("{}-vs-{}.html", name(ra), name(rb)))
    });
    if let Some(d) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Err(e) = std::fs::create_dir_all(d) {
            return fail(2, format!("mkdir {}: {e}", d.display()));
        }
    }
    if let Err(e) = std::fs::write(&out, ingest_lab::report::render_comparison(&c)) {
        return fail(2, format!("write {}: {e}", out.display()));
    }
    let mut changed: Vec<_> = c
        .figures
        .iter()
        .filter(|f| f.changed == Some(true))
        .collect();
    changed.sort_by(|x, y| {
        y.change
            .unwrap_or(0.0)
            .abs()
            .total_cmp(&x.change.unwrap_or(0.0).abs())
    });
    for (n, va, vb) in &c.verdicts {
        if va != vb {
            eprintln!("verdict changed: {n}: {va:?} -> {vb:?}");
        }
    }
    for f in changed.iter().take(15) {
        eprintln!(
            "{:+7.1} %  {}  ({} -> {})",
            f.change.unwrap_or(0.0) * 100.0,
            f.figure,
            f.a,
            f.b
        );
    }
    let judged = c.figures.iter().filter(|f| f.changed.is_some()).count();
    eprintln!(
        "{} figures compared; {judged} have intervals in both runs, of which {} changed (disjoint \
         intervals and at least {:.0} %); the rest were measured once and are not judged; wrote {}",
        c.figures.len(),
        changed.len(),
        ingest_lab::report::MIN_FACTOR * 100.0,
        out.display()
    );
    if a.json {
        print_json(&c);
    }
    ExitCode::SUCCESS
}
