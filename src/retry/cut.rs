//! The start-up cut of the DLQ: dead letters a crash left behind without a committed position (or
//! torn), cut so that their lines are read again.

use std::path::Path;

use crate::error::SysError;
use crate::storage::{read_at_most, OpenMode, Storage, VfsFile};

use super::dead_letter::DeadLetter;
use super::dlq::PENDING_FILE;

/// A crash mid-append can leave an unterminated last line; appending after it would glue the next entry
/// onto it. Cut it (it was never synced, so nothing relied on it).
pub(super) fn cut_torn_line(
    storage: &Storage,
    path: &Path,
    file: &mut dyn VfsFile,
) -> std::io::Result<()> {
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

/// `cut_unacknowledged` at a start-up (after the recovery scan of the main log), saying on stderr
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
