//! Test helpers. Temporary directories go under `target/` (a real disk), not `/tmp`, which is tmpfs on
//! many systems and would make fdatasync free.

/// A fresh temporary directory under `target/test-tmp`.
pub fn tempdir() -> tempfile::TempDir {
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tmp");
    std::fs::create_dir_all(&base).expect("create target/test-tmp");
    tempfile::tempdir_in(base).expect("create temp dir")
}
