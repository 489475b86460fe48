//! The dead-letter queue: records that cannot be committed, each with why, where it came from and how
//! many attempts it took, appended as JSON lines to `dead-letter.jsonl` and made durable (`fdatasync`)
//! before the batch they came from is reported done. A record is never both committed and dead-lettered.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::SysError;

/// One dead-lettered record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The record's id (its sequence number in the source).
    pub id: u64,
    /// Why it was refused.
    pub reason: String,
    /// Where it came from (e.g. `generator seq 123`, `file.ndjson:17`).
    pub source: String,
    /// Attempts that included it.
    pub attempts: u32,
    /// The record bytes, lossily as UTF-8 (for a human; ids are what tools use).
    pub payload: String,
}

/// An append-only, durable dead-letter file.
pub struct DeadLetterQueue {
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
    count: u64,
}

impl DeadLetterQueue {
    /// Open (or create) `dir/dead-letter.jsonl`.
    pub fn open(dir: &Path) -> Result<Self, SysError> {
        std::fs::create_dir_all(dir).map_err(|e| SysError::new("mkdir", dir, e))?;
        let path = dir.join("dead-letter.jsonl");
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| SysError::new("open", &path, e))?;
        Ok(DeadLetterQueue {
            path,
            file,
            buf: Vec::new(),
            count: 0,
        })
    }

    /// Queue an entry; it is durable after the next [`DeadLetterQueue::sync`].
    pub fn push(&mut self, d: &DeadLetter) {
        serde_json::to_writer(&mut self.buf, d).expect("serializable");
        self.buf.push(b'\n');
        self.count += 1;
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
        text.lines()
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str(l).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))
            })
            .collect()
    }
}
