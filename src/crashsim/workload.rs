//! A seeded ingest workload: input files that change between runs (appended to, rotated by rename and
//! replaced by a new file), record lengths over the whole range up to the record cap and past it, a
//! valid/invalid mix, every codec and a random window — and what the final store must hold.

use std::path::{Path, PathBuf};

use crate::codec::Codec;
use crate::retry::{DlqLimit, DlqPolicy};
use crate::rng::SplitMix64;

/// The record cap the simulation ingests with (small, so that its edges are cheap to reach).
pub const RECORD_CAP: usize = 4096;

/// One input line the workload wrote, and where it must end up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Unique id, written into the line as `#id#`.
    pub id: String,
    /// Committed (valid under schema v1 and within the cap), else dead-lettered.
    pub valid: bool,
    /// Longer than the record cap (dead-lettered without its bytes).
    pub too_long: bool,
}

/// What happens to the inputs before one run.
#[derive(Debug, Clone)]
pub enum Change {
    /// Append `n` lines to input `file`.
    Append { file: usize, n: usize },
    /// Rename input `file` to `<name>.<k>` and start a new file of `n` lines under its name.
    Rotate { file: usize, n: usize },
}

/// The whole workload of one seed.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The seed it was made from.
    pub seed: u64,
    /// Input files at the start.
    pub files: usize,
    /// Lines of each at the start.
    pub initial: Vec<usize>,
    /// Changes before runs 2, 3, ...
    pub changes: Vec<Change>,
    /// Window size in records (the linger is long: batches are cut by size and at the end).
    pub max_items: usize,
    /// Block codec.
    pub codec: Codec,
    /// How the input files are compressed (an append adds a gzip member or a zstd frame).
    pub input_codec: Codec,
    /// After the last ingest, re-drive the dead letters with schema v2 (under which every record but
    /// the over-long ones is valid).
    pub redrive: bool,
    /// A byte bound on the dead-letter file, in a quarter of the workloads: small enough (a few
    /// entries) that it fills.
    pub dlq_limit: Option<DlqLimit>,
    /// Validate on a thread of its own (reader, validator, batcher).
    pub validator_thread: bool,
}

impl Workload {
    /// The workload of `seed`.
    pub fn new(seed: u64) -> Workload {
        let mut r = SplitMix64::new(seed ^ 0x5eed_c0de);
        let files = 1 + r.below(3) as usize;
        let initial = (0..files).map(|_| r.below(40) as usize).collect();
        let runs = 1 + r.below(3) as usize;
        let changes = (1..runs)
            .map(|_| {
                let file = r.below(files as u64) as usize;
                let n = 1 + r.below(30) as usize;
                if r.below(3) == 0 {
                    Change::Rotate { file, n }
                } else {
                    Change::Append { file, n }
                }
            })
            .collect();
        let max_items = [1, 2, 3, 7, 16, 64][r.below(6) as usize];
        let codec = [Codec::None, Codec::Zstd, Codec::Gzip][r.below(3) as usize];
        let input_codec = [Codec::None, Codec::None, Codec::Zstd, Codec::Gzip][r.below(4) as usize];
        let redrive = r.below(2) == 0;
        // Drawn last, so the fields above stay what they were for every seed.
        let dlq_limit = (r.below(4) == 0).then(|| DlqLimit {
            max_bytes: 2000 + r.below(8000),
            policy: [DlqPolicy::DropNewer, DlqPolicy::DropOlder][r.below(2) as usize],
        });
        let validator_thread = r.below(4) == 0;
        Workload {
            seed,
            files,
            initial,
            changes,
            max_items,
            codec,
            input_codec,
            redrive,
            dlq_limit,
            validator_thread,
        }
    }

    /// Runs of ingest: one per state of the inputs.
    pub fn runs(&self) -> usize {
        self.changes.len() + 1
    }
}

/// The inputs of a workload on disk, rebuilt from the seed for each crash point.
#[derive(Debug)]
pub struct Inputs {
    dir: PathBuf,
    rng: SplitMix64,
    /// Current path of each logical input file (rotation renames the old one aside).
    paths: Vec<PathBuf>,
    /// Every path ingested so far, in the order given to ingest.
    pub given: Vec<PathBuf>,
    /// Lines written so far, per path, in order.
    pub lines: Vec<(PathBuf, Vec<Line>)>,
    rotations: usize,
    input_codec: Codec,
}

impl Inputs {
    /// Write the initial inputs of `w` into `dir` (emptied first).
    pub fn create(w: &Workload, dir: &Path) -> std::io::Result<Inputs> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir)?;
        let mut inputs = Inputs {
            dir: dir.to_path_buf(),
            rng: SplitMix64::new(w.seed ^ 0x11e5),
            paths: Vec::new(),
            given: Vec::new(),
            lines: Vec::new(),
            rotations: 0,
            input_codec: w.input_codec,
        };
        for f in 0..w.files {
            let path = dir.join(format!("in-{f}.ndjson"));
            std::fs::write(&path, b"")?;
            inputs.paths.push(path.clone());
            inputs.given.push(path.clone());
            inputs.lines.push((path, Vec::new()));
            inputs.append(f, w.initial[f])?;
        }
        Ok(inputs)
    }

    /// Apply one change.
    pub fn apply(&mut self, c: &Change) -> std::io::Result<()> {
        match *c {
            Change::Append { file, n } => self.append(file, n),
            Change::Rotate { file, n } => {
                self.rotations += 1;
                let old = self.paths[file].clone();
                let aside = self
                    .dir
                    .join(format!("in-{file}.ndjson.{}", self.rotations));
                std::fs::rename(&old, &aside)?;
                for (p, _) in self.lines.iter_mut() {
                    if *p == old {
                        *p = aside.clone();
                    }
                }
                for p in self.given.iter_mut() {
                    if *p == old {
                        *p = aside.clone();
                    }
                }
                std::fs::write(&old, b"")?;
                self.given.push(old.clone());
                self.lines.push((old, Vec::new()));
                self.append(file, n)
            }
        }
    }

    fn append(&mut self, file: usize, n: usize) -> std::io::Result<()> {
        use std::io::Write;
        let path = self.paths[file].clone();
        let slot = self
            .lines
            .iter()
            .position(|(p, _)| *p == path)
            .expect("a current input has a slot");
        let mut text = Vec::new();
        for _ in 0..n {
            let k = self.lines[slot].1.len();
            let id = format!(
                "{}.{}.{k}",
                path.file_name().unwrap().to_string_lossy(),
                self.rotations
            );
            let (line, meta) = make_line(&mut self.rng, id);
            // Sometimes a blank line before it (skipped, not a record), sometimes a CRLF ending (the
            // `\r` belongs to the line ending, not to the record or its length).
            match self.rng.below(20) {
                0 => text.extend_from_slice(b"\n"),
                1 => text.extend_from_slice(b"\r\n"),
                _ => {}
            }
            text.extend_from_slice(&line);
            if self.rng.below(10) == 0 {
                text.push(b'\r');
            }
            text.push(b'\n');
            self.lines[slot].1.push(meta);
        }
        if n == 0 {
            return Ok(());
        }
        let bytes = match self.input_codec {
            Codec::None => text,
            Codec::Zstd => zstd::encode_all(&text[..], 3)?,
            Codec::Gzip => {
                let mut e =
                    flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(&text)?;
                e.finish()?
            }
        };
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)?
            .write_all(&bytes)
    }
}

/// One line: valid or one of the invalid kinds, of a length drawn over the whole range to the cap.
fn make_line(r: &mut SplitMix64, id: String) -> (Vec<u8>, Line) {
    let head_valid = format!("{{\"ts\":{},\"msg\":\"#{id}# ", r.below(1 << 40));
    let head_rfc = format!("{{\"ts\":\"2026-11-01T10:00:00Z\",\"msg\":\"#{id}# ");
    let kind = r.below(10);
    let head = if kind < 8 { head_valid } else { head_rfc };
    // Lengths: mostly short, sometimes at the cap's edges or past it.
    let total = match r.below(20) {
        0 => RECORD_CAP - 1,
        1 => RECORD_CAP,
        2 => RECORD_CAP + 1 + r.below(3000) as usize,
        3..=5 => r.below(RECORD_CAP as u64) as usize,
        _ => 20 + r.below(200) as usize,
    };
    let tail = "\"}";
    let pad = total.saturating_sub(head.len() + tail.len());
    let mut line = head.into_bytes();
    for i in 0..pad {
        // Varied, not constant: compressible like log text is, not like zeros.
        line.push(b"abcdefghijklmnopqrstuvwxyz 0123456789"[(i * 7 + r.below(3) as usize) % 37]);
    }
    line.extend_from_slice(tail.as_bytes());
    let too_long = line.len() > RECORD_CAP;
    let meta = Line {
        id,
        valid: kind < 8 && !too_long,
        too_long,
    };
    (line, meta)
}
