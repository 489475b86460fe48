//! One concept per file, and a file a newcomer can read through: no Rust source of the crate, its
//! tests or its benches passes 500 lines. `batch/aimd/tests.rs` had grown to 508 before this test
//! existed; its driver tests now live beside the driver.

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 500;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.expect("read a directory entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Files of `roots` (under the crate) longer than `max` lines, with their lengths.
fn too_long(roots: &[&Path], max: usize) -> Vec<(PathBuf, usize)> {
    let mut files = Vec::new();
    for r in roots {
        rust_files(r, &mut files);
    }
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let n = std::fs::read_to_string(&p)
                .expect("read a source")
                .lines()
                .count();
            (n > max).then_some((p, n))
        })
        .collect()
}

#[test]
fn no_source_file_passes_500_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dirs = [root.join("src"), root.join("tests"), root.join("benches")];
    let roots: Vec<&Path> = dirs.iter().map(PathBuf::as_path).collect();
    let long = too_long(&roots, MAX_LINES);
    assert!(long.is_empty(), "files over {MAX_LINES} lines: {long:?}");
}

#[test]
fn a_long_file_is_caught() {
    let dir = std::env::temp_dir().join(format!("ingest-lab-long-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("a")).unwrap();
    std::fs::write(dir.join("a/short.rs"), "fn f() {}\n".repeat(MAX_LINES)).unwrap();
    std::fs::write(dir.join("a/long.rs"), "fn f() {}\n".repeat(MAX_LINES + 1)).unwrap();
    let long = too_long(&[dir.as_path()], MAX_LINES);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(long, vec![(dir.join("a/long.rs"), MAX_LINES + 1)]);
}
