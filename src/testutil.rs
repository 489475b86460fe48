//! Test helpers. Temporary directories go under `target/` (a real disk), not `/tmp`, which is tmpfs on
//! many systems and would make fdatasync free.

/// A fresh temporary directory under `target/test-tmp`.
pub fn tempdir() -> tempfile::TempDir {
    let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-tmp");
    std::fs::create_dir_all(&base).expect("create target/test-tmp");
    tempfile::tempdir_in(base).expect("create temp dir")
}

/// A fresh temporary directory holding `files`, each `(name, text)`: a run folder for a test.
pub fn folder_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let d = tempdir();
    for (name, text) in files {
        std::fs::write(d.path().join(name), text).expect("write a test file");
    }
    d
}

/// Recompute a block's CRC after a test edited its header or payload: a whole, "valid" block of
/// whatever the edit made it.
pub fn recompute_block_crc(block: &mut [u8]) {
    let mut h = crc32fast::Hasher::new();
    h.update(&block[0..16]);
    h.update(&block[crate::codec::BLOCK_HEADER_BYTES..]);
    let crc = h.finalize();
    block[16..20].copy_from_slice(&crc.to_le_bytes());
}

/// One sealed block (header, framed records, CRC) holding `records`, as the sink writes it.
pub fn sealed_block(records: &[&[u8]]) -> Vec<u8> {
    let mut b = crate::codec::BlockBuilder::with_capacity(1024);
    for r in records {
        b.push(r);
    }
    b.seal().to_vec()
}
