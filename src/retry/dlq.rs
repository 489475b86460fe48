//! The dead-letter queue: records that cannot be committed, each with why, where it came from and how
//! many attempts it took, appended as JSON lines to `dead-letter.jsonl` and made durable (`fdatasync`)
//! before the batch they came from is reported done. A record is never both committed and dead-lettered.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::SysError;
use crate::storage::{read_at_most, write_all, OpenMode, Storage, VfsFile};

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
    /// Sequence number in the DLQ (1, 2, ... across runs; 0: untracked). A block's control record
    /// names the highest one it acknowledges, so a start-up knows exactly which entries a crash
    /// left unacknowledged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub seq: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

/// A crash mid-append can leave an unterminated last line; appending after it would glue the next entry
/// onto it. Cut it (it was never synced, so nothing relied on it).
fn cut_torn_line(storage: &Storage, path: &Path, file: &mut dyn VfsFile) -> std::io::Result<()> {
    let len = file.size()?;
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    read_at_most(storage, path, &mut last, len - 1)?;
    if last[0] == b'\n' {
        return Ok(());
    }
    // Walk back to the previous newline in 64 KiB steps.
    let mut end = len;
    let mut buf = vec![0u8; 64 << 10];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        read_at_most(storage, path, chunk, start)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            file.set_len(start + i as u64 + 1)?;
            return file.sync_data();
        }
        end = start;
    }
    file.set_len(0)?;
    file.sync_data()
}

/// Cut the dead letters at the end of `dir/dead-letter.jsonl` that were never acknowledged, and say
/// how many lines went: everything after the last entry whose sequence number is at most
/// `committed_seq`, the highest one a committed block of the main log acknowledges (entries from before
/// sequence numbers, 0, count as acknowledged). The batcher makes a batch's dead letters durable
/// *before* the block that commits their positions; a crash between the two leaves such entries behind,
/// and a crash mid-append can leave torn or zero-filled lines. The lines of the former are read again
/// by the next run, which dead-letters them again — or commits them, if the schema was changed in
/// between: keeping them would make a record both committed and dead-lettered, or dead-lettered twice.
/// Entries are appended in sequence order, so the acknowledged ones are a prefix: the cut is exact
/// whatever the inputs' names, and it is made durable before anything is appended. A line that does
/// not parse ends the prefix too (it can only be a torn append; a flipped byte in synced entries
/// would also cut what follows — the DLQ's lines carry no checksum).
pub fn cut_unacknowledged(
    storage: &Storage,
    dir: &Path,
    committed_seq: u64,
) -> Result<u64, SysError> {
    use std::io::BufRead;
    let path = dir.join(PENDING_FILE);
    let len = match storage.len(&path) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(SysError::new("stat", &path, e)),
    };
    let mut r = std::io::BufReader::with_capacity(1 << 20, storage.reader(&path, 0));
    let (mut offset, mut keep, mut after) = (0u64, 0u64, 0u64);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = r
            .read_until(b'\n', &mut line)
            .map_err(|e| SysError::new("read", &path, e))?;
        if n == 0 {
            break;
        }
        offset += n as u64;
        let parsed = line
            .ends_with(b"\n")
            .then(|| serde_json::from_slice::<DeadLetter>(&line).ok())
            .flatten();
        match parsed {
            Some(d) if d.seq <= committed_seq => (keep, after) = (offset, 0),
            Some(_) => after += 1,
            None => {
                // A line that does not parse is torn (a crash kept some sectors of an unsynced
                // append and zeros for others): synced data holds none, so the unsynced tail
                // starts here, whatever intact lines follow it (found by the crash simulation,
                // seed 2068: a torn line before intact put-back entries of a re-drive).
                after += 1;
                let mut rest = Vec::new();
                while r
                    .read_until(b'\n', &mut rest)
                    .map_err(|e| SysError::new("read", &path, e))?
                    > 0
                {
                    after += 1;
                    rest.clear();
                }
                break;
            }
        }
    }
    if keep < len {
        storage
            .open(&path, OpenMode::AppendOrCreate)
            .and_then(|mut f| {
                f.set_len(keep)?;
                f.sync_data()
            })
            .map_err(|e| SysError::new("truncate unacknowledged dead letters", &path, e))?;
    }
    Ok(after)
}

/// [`cut_unacknowledged`] at a start-up (after the recovery scan of the main log), saying on stderr
/// what was cut.
pub fn cut_unacknowledged_dead_letters(
    storage: &Storage,
    dir: &Path,
    committed_seq: u64,
    who: &str,
) -> Result<(), SysError> {
    let n = cut_unacknowledged(storage, dir, committed_seq)?;
    if n > 0 {
        eprintln!(
            "{who}: cut {n} dead letters from {} whose positions were never committed: their lines are read again",
            dir.join(PENDING_FILE).display()
        );
    }
    Ok(())
}

impl DeadLetter {
    /// What makes an entry the same entry again (a re-drive re-run after a crash pushes its put-back
    /// entries again): its source and sequence number. The source alone is not enough: a file
    /// replaced at the same path yields a different record with the same `path:line` (review finding:
    /// the second such entry was taken for a duplicate and silently not written).
    pub fn dedup_key(&self) -> String {
        if self.seq == 0 {
            self.source.clone()
        } else {
            format!("{}#{}", self.source, self.seq)
        }
    }

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
