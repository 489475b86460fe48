//! Provenance of a run: command, commit, host, kernel, filesystem, CPU and crate versions.

use std::path::Path;
use std::process::Command;

use serde::Serialize;

use crate::host::HostInfo;
use crate::sink::FsInfo;

const CARGO_LOCK: &str = include_str!("../../Cargo.lock");
/// Crates whose versions a report names (the ones whose behaviour the figures depend on).
const NAMED_CRATES: [&str; 14] = [
    "gungraun",
    "divan",
    "zstd",
    "flate2",
    "proptest",
    "memchr",
    "hdrhistogram",
    "crc32fast",
    "libc",
    "nix",
    "criterion",
    "serde_json",
    "clap",
    "tempfile",
];

/// `(name, version)` of the named crates, read from the Cargo.lock this binary was built with.
pub fn crate_versions() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut name: Option<&str> = None;
    for line in CARGO_LOCK.lines() {
        if let Some(v) = line.strip_prefix("name = ") {
            name = Some(v.trim_matches('"'));
        } else if let Some(v) = line.strip_prefix("version = ") {
            if let Some(n) = name.take() {
                if NAMED_CRATES.contains(&n) {
                    out.push((n.to_string(), v.trim_matches('"').to_string()));
                }
            }
        }
    }
    out
}

fn git(args: &[&str]) -> Option<String> {
    let o = Command::new("git").args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

/// Where and how a run was made.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// The command line that produced the run.
    pub command: String,
    /// `git rev-parse HEAD`, with `-dirty` if tracked files outside `reports/` had uncommitted changes.
    pub commit: String,
    /// UTC start time (RFC 3339).
    pub date: String,
    /// Host facts.
    pub host: HostInfo,
    /// Filesystem of the sink directory.
    pub filesystem: String,
    /// The sink directory.
    pub sink_dir: String,
    /// Compiler.
    pub rustc: String,
    /// Crate versions.
    pub crates: Vec<(String, String)>,
    /// ingest-lab's own version.
    pub version: String,
}

impl Provenance {
    /// Collect provenance now, for `command` writing into `sink_dir`.
    pub fn collect(command: &str, sink_dir: &Path) -> Provenance {
        let commit =
            git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown (not a git checkout)".into());
        // Run outputs under reports/ are being written by this very run; only source counts as dirty.
        let dirty = git(&[
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            ".",
            ":!reports",
        ])
        .is_some_and(|s| !s.is_empty());
        let _ = std::fs::create_dir_all(sink_dir);
        Provenance {
            command: command.to_string(),
            commit: if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            },
            date: Command::new("date")
                .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
                .output()
                .ok()
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
                .unwrap_or_default(),
            host: HostInfo::current(),
            filesystem: FsInfo::of(sink_dir)
                .map(|f| f.name)
                .unwrap_or_else(|e| format!("unknown ({e})")),
            sink_dir: sink_dir.display().to_string(),
            rustc: env!("INGEST_LAB_RUSTC").to_string(),
            crates: crate_versions(),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_versions_come_from_the_lock_file() {
        let v = crate_versions();
        assert!(
            v.iter()
                .any(|(n, ver)| n == "hdrhistogram" && ver.starts_with('7')),
            "{v:?}"
        );
        assert!(v.iter().any(|(n, _)| n == "nix"));
    }
}
