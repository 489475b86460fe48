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
    let mut notable: Vec<_> = c
        .figures
        .iter()
        .filter(|f| {
            f.change
                .is_some_and(|x| x.abs() > ingest_lab::report::NOTABLE)
        })
        .collect();
    notable.sort_by(|x, y| {
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
    for f in notable.iter().take(15) {
        eprintln!(
            "{:+7.1} %  {}  ({} -> {})",
            f.change.unwrap_or(0.0) * 100.0,
            f.figure,
            f.a,
            f.b
        );
    }
    eprintln!(
        "{} figures compared, {} changed by more than {:.0} %; wrote {}",
        c.figures.len(),
        notable.len(),
        ingest_lab::report::NOTABLE * 100.0,
        out.display()
    );
    if a.json {
        print_json(&c);
    }
    ExitCode::SUCCESS
}
