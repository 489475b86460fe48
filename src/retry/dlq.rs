//! The dead-letter queue: records that cannot be committed, each with why, where it came from and how
//! many attempts it took, appended as JSON lines to `dead-letter.jsonl` and made durable (`fdatasync`)
//! before the batch they came from is reported done. A record is never both committed and dead-lettered.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::error::SysError;
use crate::storage::{write_all, OpenMode, Storage, VfsFile};

use super::cut::cut_torn_line;
use super::dead_letter::DeadLetter;

/// What a full dead-letter queue gives up (it is bounded in bytes like the main queue is in items).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DlqPolicy {
    /// Refuse the new entry. **Lost:** the newest bad records (counted `dropped{reason="dlq_full"}`);
    /// the oldest evidence is kept.
    DropNewer,
    /// Make room by removing the oldest entries (the file is compacted to 3/4 of the limit, so the
    /// rewrite is amortized). **Lost:** the oldest dead letters (counted as `dlq_evicted`); the newest
    /// evidence is kept.
    DropOlder,
}

/// A byte bound on the dead-letter file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DlqLimit {
    /// Most bytes in `dead-letter.jsonl`.
    pub max_bytes: u64,
    /// What to give up when full.
    pub policy: DlqPolicy,
}

/// What happened to a pushed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DlqPush {
    /// Queued; durable after the next sync.
    Written,
    /// De-duplicating, and an entry from the same source is already there: nothing written.
    Duplicate,
    /// Full under [`DlqPolicy::DropNewer`]: refused. The caller counts the record as dropped.
    Refused,
}

/// The file dead letters are appended to, in the DLQ directory.
pub const PENDING_FILE: &str = "dead-letter.jsonl";

/// An append-only, durable dead-letter file.
pub struct DeadLetterQueue {
    storage: Storage,
    path: PathBuf,
    file: Box<dyn VfsFile>,
    buf: Vec<u8>,
    count: u64,
    /// With de-duplication: the `source` of every entry in the file (a re-run after a crash re-reads
    /// records whose dead letters are already durable; they must not appear twice).
    seen: Option<HashSet<String>>,
    limit: Option<DlqLimit>,
    /// Bytes in the file plus the buffer.
    bytes: u64,
    evicted: u64,
    /// `fdatasync` calls made on the DLQ's files (the fixed cost dead letters add to a batch).
    syncs: u64,
    /// Set when a write or fdatasync failed: the file's state is unknown, so nothing more is written
    /// or promised through this handle (fail-stop, as for the sink; never retry an fdatasync).
    poisoned: Option<String>,
    /// The sequence number the next entry gets (`None`: untracked, entries get 0).
    next_seq: Option<u64>,
    /// One process per DLQ directory.
    _lock: Option<std::sync::Arc<crate::storage::DirLock>>,
}

impl DeadLetterQueue {
    /// Open (or create) `dir/dead-letter.jsonl` on the machine's filesystem.
    pub fn open(dir: &Path) -> Result<Self, SysError> {
        Self::open_in(&Storage::os(), dir)
    }

    /// Open (or create) `dir/dead-letter.jsonl` on `storage`. Its name is made durable in its
    /// directory before anything is written to it — at every open, not only when this open created
    /// it: an earlier open may have created it and failed its directory fsync (found by the crash
    /// simulation: the restart then skipped the fsync, and a crash took the whole file, acknowledged
    /// entries and all).
    pub fn open_in(storage: &Storage, dir: &Path) -> Result<Self, SysError> {
        storage
            .create_dir_durable(dir)
            .map_err(|e| SysError::new("mkdir", dir, e))?;
        let lock = storage.lock(dir)?;
        let path = dir.join(PENDING_FILE);
        let mut file = storage
            .open(&path, OpenMode::AppendOrCreate)
            .map_err(|e| SysError::new("open", &path, e))?;
        storage
            .sync_dir(dir)
            .map_err(|e| SysError::new("fsync dir", dir, e))?;
        cut_torn_line(storage, &path, &mut *file)
            .map_err(|e| SysError::new("truncate torn line", &path, e))?;
        // What a reader sees may be only in the page cache: an earlier process's fdatasync of it
        // can have failed (the bytes stay readable, not durable). Make it durable before anything
        // trusts it — or fail here (found by the crash simulation, seed 1741: a re-drive took an
        // entry whose sync had failed for already there, committed past it, and a crash lost it).
        file.sync_data()
            .map_err(|e| SysError::new("fdatasync", &path, e))?;
        let bytes = file.size().map_err(|e| SysError::new("stat", &path, e))?;
        Ok(DeadLetterQueue {
            storage: storage.clone(),
            path,
            file,
            buf: Vec::new(),
            count: 0,
            seen: None,
            limit: None,
            bytes,
            evicted: 0,
            syncs: 0,
            poisoned: None,
            next_seq: None,
            _lock: lock,
        })
    }

    /// Number entries from `after + 1` on (`after`: the highest sequence number already acknowledged,
    /// [`crate::ingest::Recovery::dlq_seq`]).
    pub fn track_seq(mut self, after: u64) -> Self {
        self.next_seq = Some(after + 1);
        self
    }

    /// The sequence number of the last entry pushed (0: none, or untracked).
    pub fn last_seq(&self) -> u64 {
        self.next_seq.map_or(0, |n| n - 1)
    }

    /// Bound the file in bytes with a policy (`None`: unbounded).
    pub fn with_limit(mut self, limit: Option<DlqLimit>) -> Self {
        self.limit = limit;
        self
    }

    /// Dead letters removed by [`DlqPolicy::DropOlder`] through this handle.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Open like [`DeadLetterQueue::open`], skipping later pushes whose `source` is already in the file.
    pub fn open_dedup(dir: &Path) -> Result<Self, SysError> {
        Self::open_dedup_in(&Storage::os(), dir)
    }

    /// [`DeadLetterQueue::open_dedup`] on `storage`.
    pub fn open_dedup_in(storage: &Storage, dir: &Path) -> Result<Self, SysError> {
        let mut q = Self::open_in(storage, dir)?;
        let bytes = q
            .storage
            .read_all(&q.path)
            .map_err(|e| SysError::new("read", &q.path, e))?;
        let text = String::from_utf8_lossy(&bytes);
        // A torn last line (crash mid-append) is not an entry: it was never synced before its record's
        // position was committed, so the record is read again and dead-lettered again.
        let seen = text
            .lines()
            .filter_map(|l| serde_json::from_str::<DeadLetter>(l).ok())
            .map(|d| d.dedup_key())
            .collect();
        q.seen = Some(seen);
        Ok(q)
    }

    /// Queue an entry; it is durable after the next [`DeadLetterQueue::sync`].
    pub fn push(&mut self, d: &DeadLetter) -> DlqPush {
        if self
            .seen
            .as_ref()
            .is_some_and(|s| s.contains(&d.dedup_key()))
        {
            return DlqPush::Duplicate;
        }
        let start = self.buf.len();
        let seq = self.next_seq.unwrap_or(0);
        if seq == 0 {
            serde_json::to_writer(&mut self.buf, d).expect("serializable");
        } else {
            let numbered = DeadLetter { seq, ..d.clone() };
            serde_json::to_writer(&mut self.buf, &numbered).expect("serializable");
        }
        self.buf.push(b'\n');
        let len = (self.buf.len() - start) as u64;
        if let Some(l) = self.limit {
            if self.bytes + len > l.max_bytes && l.policy == DlqPolicy::DropNewer {
                self.buf.truncate(start);
                return DlqPush::Refused;
            }
        }
        if let Some(seen) = self.seen.as_mut() {
            seen.insert(d.dedup_key());
        }
        self.bytes += len;
        self.count += 1;
        if let Some(n) = self.next_seq.as_mut() {
            *n += 1;
        }
        DlqPush::Written
    }

    /// DropOlder: rewrite the file with only the newest entries that fit in 3/4 of the limit
    /// (tmp file, fdatasync, rename, directory fsync: a crash leaves the old or the new file whole).
    fn compact(&mut self, max_bytes: u64) -> Result<(), SysError> {
        let io = |op: &'static str| {
            let p = self.path.clone();
            move |e: std::io::Error| SysError::new(op, p, e)
        };
        let mut all = self.storage.read_all(&self.path).map_err(io("read"))?;
        // Only entries already in the file are evicted: those being synced now belong to the batch
        // whose positions are about to be committed, and will be counted dead-lettered (review
        // finding: one large dead letter, or a batch of them past 3/4 of the limit, used to evict
        // itself and still be counted). They stay even past the limit; the next compaction makes room.
        let old_end = all.len();
        all.extend_from_slice(&self.buf);
        let keep = max_bytes * 3 / 4;
        let mut cut = 0usize;
        let mut dropped = 0u64;
        let mut rest = all.len() as u64;
        while rest > keep && cut < old_end {
            let nl = all[cut..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(all.len(), |i| cut + i + 1);
            rest -= (nl - cut) as u64;
            cut = nl;
            dropped += 1;
        }
        let tmp = self.path.with_extension("jsonl.tmp");
        {
            let mut f = self
                .storage
                .open(&tmp, OpenMode::Truncate)
                .map_err(io("create"))?;
            write_all(&mut *f, &all[cut..]).map_err(io("write"))?;
            f.sync_data().map_err(io("fdatasync"))?;
        }
        self.syncs += 1;
        self.storage
            .rename(&tmp, &self.path)
            .map_err(io("rename"))?;
        // Gone from the file from here on, whatever fails next (a failed directory fsync poisons the
        // queue, but the evicted entries are still not in the current file): count them now.
        self.evicted += dropped;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        self.storage
            .sync_dir(dir)
            .map_err(|e| SysError::new("fsync dir", dir, e))?;
        self.file = self
            .storage
            .open(&self.path, OpenMode::AppendOrCreate)
            .map_err(io("open"))?;
        self.buf.clear();
        self.bytes = rest;
        Ok(())
    }

    /// Write and fdatasync what was pushed. A failure poisons the queue: every later sync fails too,
    /// naming the first error, and nothing pushed since is written.
    pub fn sync(&mut self) -> Result<(), SysError> {
        if let Some(first) = &self.poisoned {
            return Err(SysError::new(
                "sync",
                &self.path,
                std::io::Error::other(format!(
                    "dead-letter queue failed earlier ({first}): fail-stop"
                )),
            ));
        }
        if self.buf.is_empty() {
            return Ok(());
        }
        let r = self.sync_buffered();
        if let Err(e) = &r {
            self.poisoned = Some(e.to_string());
        }
        r
    }

    fn sync_buffered(&mut self) -> Result<(), SysError> {
        if let Some(l) = self.limit {
            if l.policy == DlqPolicy::DropOlder && self.bytes > l.max_bytes {
                return self.compact(l.max_bytes);
            }
        }
        write_all(&mut *self.file, &self.buf).map_err(|e| SysError::new("write", &self.path, e))?;
        self.file
            .sync_data()
            .map_err(|e| SysError::new("fdatasync", &self.path, e))?;
        self.syncs += 1;
        self.buf.clear();
        Ok(())
    }

    /// `fdatasync` calls this handle has made on the DLQ's files.
    pub fn syncs(&self) -> u64 {
        self.syncs
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
        Self::read_all_in(&Storage::os(), path)
    }

    /// [`DeadLetterQueue::read_all`] on `storage`.
    pub fn read_all_in(storage: &Storage, path: &Path) -> Result<Vec<DeadLetter>, String> {
        let bytes = storage
            .read_all(path)
            .map_err(|e| format!("read {}: {e}", path.display()))?;
        let text = String::from_utf8(bytes).map_err(|e| format!("read {}: {e}", path.display()))?;
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

#[cfg(test)]
mod tests;
