//! The dead-letter queue: records that cannot be committed, each with why, where it came from and how
//! many attempts it took, appended as JSON lines to `dead-letter.jsonl` and made durable (`fdatasync`)
//! before the batch they came from is reported done. A record is never both committed and dead-lettered.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::SysError;

/// One dead-lettered record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The record's id (its sequence number in the source).
    pub id: u64,
    /// Why it was refused.
    pub reason: String,
    /// Where it came from (e.g. `generator seq 123`, `file.ndjson:17`).
    pub source: String,
    /// Attempts that included it.
    pub attempts: u32,
    /// The record bytes as UTF-8 (lossily when they are not UTF-8: then `payload_hex` has them exactly).
    pub payload: String,
    /// The exact record bytes in hex, when they are not valid UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_hex: Option<String>,
    /// True when only a prefix of the record was kept (it broke the record-size cap): such an entry
    /// can be inspected but never re-driven.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Earlier failures of this record (reasons of previous attempts, oldest first): a re-drive that
    /// fails again keeps them, so a record's whole story travels with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<String>,
}

/// A crash mid-append can leave an unterminated last line; appending after it would glue the next entry
/// onto it. Cut it (it was never synced, so nothing relied on it).
fn cut_torn_line(file: &File) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, len - 1)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    // Walk back to the previous newline in 64 KiB steps.
    let mut end = len;
    let mut buf = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            file.set_len(start + i as u64 + 1)?;
            return file.sync_data();
        }
        end = start;
    }
    file.set_len(0)?;
    file.sync_data()
}

impl DeadLetter {
    /// `payload` (and `payload_hex`, `truncated`) for these record bytes, keeping at most `keep` bytes.
    pub fn with_payload(mut self, bytes: &[u8], keep: usize) -> Self {
        let kept = &bytes[..bytes.len().min(keep)];
        self.truncated |= kept.len() < bytes.len();
        match std::str::from_utf8(kept) {
            Ok(s) => self.payload = s.to_string(),
            Err(_) => {
                self.payload = String::from_utf8_lossy(kept).into_owned();
                self.payload_hex = Some(kept.iter().map(|b| format!("{b:02x}")).collect());
            }
        }
        self
    }

    /// The exact record bytes, or `None` when the entry kept only a prefix.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        if self.truncated {
            return None;
        }
        match &self.payload_hex {
            None => Some(self.payload.as_bytes().to_vec()),
            Some(h) => (0..h.len() / 2)
                .map(|i| u8::from_str_radix(h.get(2 * i..2 * i + 2)?, 16).ok())
                .collect(),
        }
    }
}

/// An append-only, durable dead-letter file.
pub struct DeadLetterQueue {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    count: u64,
    /// With de-duplication: the `source` of every entry in the file (a re-run after a crash re-reads
    /// records whose dead letters are already durable; they must not appear twice).
    seen: Option<HashSet<String>>,
}

impl DeadLetterQueue {
    /// Open (or create) `dir/dead-letter.jsonl`.
    pub fn open(dir: &Path) -> Result<Self, SysError> {
        std::fs::create_dir_all(dir).map_err(|e| SysError::new("mkdir", dir, e))?;
        let path = dir.join("dead-letter.jsonl");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)
            .map_err(|e| SysError::new("open", &path, e))?;
        cut_torn_line(&file).map_err(|e| SysError::new("truncate torn line", &path, e))?;
        Ok(DeadLetterQueue {
            path,
            file,
            buf: Vec::new(),
            count: 0,
            seen: None,
        })
    }

    /// Open like [`DeadLetterQueue::open`], skipping later pushes whose `source` is already in the file.
    pub fn open_dedup(dir: &Path) -> Result<Self, SysError> {
        let mut q = Self::open(dir)?;
        let text =
            std::fs::read_to_string(&q.path).map_err(|e| SysError::new("read", &q.path, e))?;
        // A torn last line (crash mid-append) is not an entry: it was never synced before its record's
        // position was committed, so the record is read again and dead-lettered again.
        let seen = text
            .lines()
            .filter_map(|l| serde_json::from_str::<DeadLetter>(l).ok())
            .map(|d| d.source)
            .collect();
        q.seen = Some(seen);
        Ok(q)
    }

    /// Queue an entry; it is durable after the next [`DeadLetterQueue::sync`]. Returns false when
    /// de-duplicating and an entry from the same source is already there.
    pub fn push(&mut self, d: &DeadLetter) -> bool {
        if let Some(seen) = self.seen.as_mut() {
            if !seen.insert(d.source.clone()) {
                return false;
            }
        }
        serde_json::to_writer(&mut self.buf, d).expect("serializable");
        self.buf.push(b'\n');
        self.count += 1;
        true
    }

    /// Write and fdatasync what was pushed.
    pub fn sync(&mut self) -> Result<(), SysError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&self.buf)
            .map_err(|e| SysError::new("write", &self.path, e))?;
        // SAFETY: valid open fd.
        if unsafe { libc::fdatasync(self.file.as_raw_fd()) } != 0 {
            return Err(SysError::new(
                "fdatasync",
                &self.path,
                std::io::Error::last_os_error(),
            ));
        }
        self.buf.clear();
        Ok(())
    }

    /// Entries pushed through this handle.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Read every entry of a dead-letter file.
    pub fn read_all(path: &Path) -> Result<Vec<DeadLetter>, String> {
        let text =
            std::fs::read_to_string(path).map_err(|e| format!("read {}: {e}", path.display()))?;
        // An unterminated last line is a torn append (never synced): not an entry.
        let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
        whole
            .lines()
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))
            })
            .collect()
    }
}
