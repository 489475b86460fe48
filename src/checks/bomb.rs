//! `check bomb`: decompression bombs are rejected by the cap on *decompressed* bytes, streaming, with
//! memory bounded, and legitimate compressed input passes untouched. Built in-process: 1 GiB of zeros as
//! zstd and as gzip; headers that lie about the size (a zstd frame content size, a gzip ISIZE); gzip
//! inside gzip; many zstd frames each under the cap but together over it. Each is decoded in a child
//! process (`ingest-lab-child bomb`) whose peak RSS is measured; the representative bombs are also fed
//! to an *uncapped* decoder that reads everything into memory, in a child under `RLIMIT_AS`.

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::Serialize;
use serde_json::{json, Value};

use super::common::{
    clean_and_settle, judge_recorded, last_words, rounded, write_csv_rows, CheckOptions,
    CheckResult, Criterion,
};
use super::error::CheckError;
use crate::error::SysError;

/// The cap the check decodes with.
pub const CAP: u64 = 64 << 20;
/// Peak RSS the capped decoder must stay under.
pub const MAX_CAPPED_RSS: u64 = 64 << 20;
/// Address-space limit of the uncapped child.
pub const UNCAPPED_AS_LIMIT: u64 = 512 << 20;
const GIB: u64 = 1 << 30;

/// One input's outcome, as a row of `bomb.csv`. The texts (`what`, `error`, `uncapped`) are written
/// whole: the csv crate quotes a cell holding commas, quotes or newlines.
#[derive(Debug, Serialize)]
struct BombRow {
    input: &'static str,
    what: &'static str,
    compressed_bytes: usize,
    result: String,
    // Empty when the child's JSON did not say.
    seen_bytes: Option<u64>,
    peak_rss_mb: f64,
    error: String,
    /// How the uncapped contrast ended; empty for an input it was not run on.
    uncapped: Option<String>,
}

/// The `uncapped` cell of `bomb.csv` from the contrast's (survived, signal, last words).
fn uncapped_cell(u: &Option<(bool, Option<i32>, String)>) -> Option<String> {
    u.as_ref().map(|(survived, s, w)| {
        if *survived {
            "survived".to_string()
        } else {
            format!("died (signal {s:?}: {w})")
        }
    })
}

struct Zeros(u64);

impl std::io::Read for Zeros {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = (buf.len() as u64).min(self.0) as usize;
        buf[..n].fill(0);
        self.0 -= n as u64;
        Ok(n)
    }
}

fn zstd_of_zeros(n: u64, pledged: Option<u64>) -> Result<Vec<u8>, CheckError> {
    let io = |e| CheckError::io("zstd-compress zeros", e);
    let mut e = zstd::stream::Encoder::new(Vec::new(), 1).map_err(io)?;
    if let Some(p) = pledged {
        e.include_contentsize(true).map_err(io)?;
        e.set_pledged_src_size(Some(p)).map_err(io)?;
    }
    std::io::copy(&mut Zeros(n), &mut e).map_err(io)?;
    e.finish().map_err(io)
}

fn gzip(mut r: impl std::io::Read) -> Result<Vec<u8>, CheckError> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let io = |e| CheckError::io("gzip", e);
    std::io::copy(&mut r, &mut e).map_err(io)?;
    e.finish().map_err(io)
}

/// Rewrite a zstd frame's Frame_Content_Size to `claim` (same field width), so the header lies.
fn lie_zstd_content_size(frame: &mut [u8], claim: u64) -> Result<(), CheckError> {
    let fhd = frame[4];
    let (fcs_flag, single, did_flag) = (fhd >> 6, (fhd >> 5) & 1, fhd & 3);
    let at = 5 + usize::from(single == 0) + [0, 1, 2, 4][did_flag as usize];
    let width = [usize::from(single), 2, 4, 8][fcs_flag as usize];
    if width == 0 {
        return Err(CheckError::invalid("zstd frame", "no content size field"));
    }
    let v = if width == 2 { claim - 256 } else { claim };
    frame[at..at + width].copy_from_slice(&v.to_le_bytes()[..width]);
    Ok(())
}

struct Bomb {
    name: &'static str,
    what: &'static str,
    bytes: Vec<u8>,
    /// Expected to be rejected (false for legitimate input).
    bomb: bool,
    /// What the rejection must say besides the input's name: the cap for a bomb that expands past
    /// it; a lie the decoder itself catches (a zstd frame larger than its header says) is invalid data.
    expect: &'static str,
    /// Also run the uncapped contrast on it.
    contrast: bool,
}

fn build(opts: &CheckOptions) -> Result<(Vec<Bomb>, Vec<u8>), CheckError> {
    let one_gib = if opts.quick { GIB / 4 } else { GIB };
    opts.progress(format!(
        "bomb: building bombs from {} MiB of zeros",
        one_gib >> 20
    ));
    let zst = zstd_of_zeros(one_gib, None)?;
    let gz = gzip(Zeros(one_gib))?;
    let mut lying_zst = zstd_of_zeros(one_gib, Some(one_gib))?;
    lie_zstd_content_size(&mut lying_zst, 4096)?;
    let mut lying_gz = gz.clone();
    let n = lying_gz.len();
    lying_gz[n - 4..].copy_from_slice(&4096u32.to_le_bytes()); // ISIZE says 4 KiB
    let nested = gzip(&gz[..])?;
    let frame = zstd_of_zeros(CAP / 8, None)?;
    let many: Vec<u8> = frame
        .iter()
        .copied()
        .cycle()
        .take(frame.len() * 40)
        .collect();
    let mut logs = Vec::new();
    let mut rng = crate::rng::SplitMix64::new(11);
    let mut i = 0;
    while logs.len() < (16 << 20) {
        logs.extend_from_slice(crate::payload::log_line(&mut rng, i).as_bytes());
        logs.push(b'\n');
        i += 1;
    }
    let legit_zst =
        zstd::encode_all(&logs[..], 3).map_err(|e| CheckError::io("zstd-compress the logs", e))?;
    let legit_gz = gzip(&logs[..])?;
    let bombs = vec![
        Bomb {
            name: "zeros.zst",
            what: "zeros, zstd",
            bytes: zst,
            bomb: true,
            expect: "passed the cap of",
            contrast: true,
        },
        Bomb {
            name: "zeros.gz",
            what: "zeros, gzip",
            bytes: gz,
            bomb: true,
            expect: "passed the cap of",
            contrast: false,
        },
        Bomb {
            name: "lying-size.zst",
            what: "frame content size says 4 KiB",
            bytes: lying_zst,
            bomb: true,
            expect: "invalid zstd data",
            contrast: false,
        },
        Bomb {
            name: "lying-isize.gz",
            what: "gzip ISIZE says 4 KiB",
            bytes: lying_gz,
            bomb: true,
            expect: "passed the cap of",
            contrast: false,
        },
        Bomb {
            name: "nested.gz.gz",
            what: "gzip inside gzip",
            bytes: nested,
            bomb: true,
            expect: "passed the cap of",
            contrast: true,
        },
        Bomb {
            name: "many-frames.zst",
            what: "40 frames of 8 MiB, each under the cap",
            bytes: many,
            bomb: true,
            expect: "passed the cap of",
            contrast: false,
        },
        Bomb {
            name: "logs.zst",
            what: "16 MiB of log lines, zstd",
            bytes: legit_zst,
            bomb: false,
            expect: "",
            contrast: false,
        },
        Bomb {
            name: "logs.gz",
            what: "16 MiB of log lines, gzip",
            bytes: legit_gz,
            bomb: false,
            expect: "",
            contrast: false,
        },
    ];
    Ok((bombs, logs))
}

fn child(exe: &Path, args: &[String]) -> Result<(Option<Value>, Option<i32>, String), CheckError> {
    let out = Command::new(exe)
        .arg("bomb")
        .args(args)
        .output()
        .map_err(|e| SysError::new("spawn", exe, e))?;
    let v = serde_json::from_slice(&out.stdout).ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let words = last_words(&stderr);
    Ok((v, out.status.signal(), words))
}

/// A capped decoder's rejection in our own words: naming the input, saying what was wrong (`expect`),
/// and for a bomb that expands past the cap, the cap. Not any error the decoding library returns.
fn names_the_rejection(err: &str, input: &str, expect: &str) -> bool {
    err.contains(input)
        && err.contains(expect)
        && (expect != "passed the cap of" || err.contains(&CAP.to_string()))
}

/// Run the check.
pub fn bomb(opts: &CheckOptions) -> Result<CheckResult, CheckError> {
    let exe = opts.child_binary("bomb")?;
    let dir = opts.dir.join("bomb");
    std::fs::create_dir_all(&dir).map_err(|e| SysError::new("mkdir", &dir, e))?;
    let (bombs, logs) = build(opts)?;
    let logs_crc = crc32fast::hash(&logs);
    let (mut criteria, mut rows, mut table) = (Vec::new(), Vec::new(), Vec::new());
    for b in &bombs {
        let path: PathBuf = dir.join(b.name);
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(&b.bytes))
            .map_err(|e| SysError::new("write", &path, e))?;
        opts.progress(format!(
            "bomb: {} ({} bytes compressed)",
            b.name,
            b.bytes.len()
        ));
        let (v, sig, words) = child(
            &exe,
            &[
                "--input".into(),
                path.display().to_string(),
                "--cap".into(),
                CAP.to_string(),
            ],
        )?;
        let v = v.ok_or_else(|| {
            CheckError::invalid(
                format!("ingest-lab-child bomb on {}", b.name),
                format!("printed no JSON (signal {sig:?}: {words})"),
            )
        })?;
        let rss = v["peak_rss_bytes"].as_u64().unwrap_or(u64::MAX);
        let rejected = v["result"] == "rejected";
        let err = v["error"].as_str().unwrap_or("").to_string();
        let uncapped = if b.contrast {
            let (uv, usig, uwords) = child(
                &exe,
                &[
                    "--input".into(),
                    path.display().to_string(),
                    "--uncapped".into(),
                    "--rlimit-as-bytes".into(),
                    UNCAPPED_AS_LIMIT.to_string(),
                ],
            )?;
            let survived = uv.as_ref().is_some_and(|v| v["result"] == "ok");
            let said = uv
                .as_ref()
                .and_then(|v| v["error"].as_str().map(str::to_string))
                .filter(|s| !s.is_empty())
                .unwrap_or(uwords);
            Some((survived, usig, said))
        } else {
            None
        };
        if b.bomb {
            // Our own wording, naming the input and (for the cap) the cap: not any error the
            // decoding library happens to return.
            let names = names_the_rejection(&err, b.name, b.expect);
            criteria.push(Criterion::exact(
                rejected && names && rss <= MAX_CAPPED_RSS,
                format!(
                    "{} ({}): rejected after {} bytes of output, peak RSS {:.1} MiB ≤ {} MiB; error: {err}",
                    b.name,
                    b.what,
                    v["seen"],
                    rss as f64 / 1048576.0,
                    MAX_CAPPED_RSS >> 20
                ),
            ));
        } else {
            let intact = v["result"] == "ok"
                && v["crc32"].as_u64() == Some(logs_crc as u64)
                && v["seen"].as_u64() == Some(logs.len() as u64);
            criteria.push(Criterion::exact(
                intact,
                format!(
                    "{} ({}): passes untouched ({} bytes, CRC {})",
                    b.name,
                    b.what,
                    v["seen"],
                    if intact { "matches" } else { "differs" }
                ),
            ));
        }
        if let Some((survived, usig, uwords)) = &uncapped {
            // It must fail for lack of memory, not for any reason at all.
            let of_memory = uwords.contains("memory") || *usig == Some(libc::SIGKILL);
            criteria.push(Criterion::exact(
                !survived && of_memory,
                format!(
                    "{}: an uncapped read-it-all decoder under a {} MiB address-space limit {} ({})",
                    b.name,
                    UNCAPPED_AS_LIMIT >> 20,
                    match usig {
                        Some(s) => format!("was killed by signal {s}"),
                        None if *survived => "survived".into(),
                        None => "failed".into(),
                    },
                    uwords
                ),
            ));
        }
        table.push(BombRow {
            input: b.name,
            what: b.what,
            compressed_bytes: b.bytes.len(),
            result: v["result"].as_str().unwrap_or("?").to_string(),
            seen_bytes: v["seen"].as_u64(),
            peak_rss_mb: rounded(rss as f64 / 1048576.0, 1),
            error: err,
            uncapped: uncapped_cell(&uncapped),
        });
        rows.push(json!({ "input": b.name, "what": b.what, "compressed_bytes": b.bytes.len(), "child": v,
                          "uncapped": uncapped.map(|(s, sig, w)| json!({"survived": s, "signal": sig, "stderr": w})) }));
        let _ = std::fs::remove_file(&path);
    }
    clean_and_settle(&dir);
    let figures =
        json!({ "cap_bytes": CAP, "max_capped_rss_bytes": MAX_CAPPED_RSS, "inputs": rows });
    let evidence = vec![write_csv_rows(&opts.out, "bomb.csv", &table)?];
    judge_recorded(&opts.out, "bomb", criteria, figures, evidence)
}

#[cfg(test)]
mod tests;
