//! What the store must hold: every input line exactly once — committed if valid, dead-lettered if
//! not, never both — in order per input, and nothing else.

use std::collections::HashMap;
use std::path::Path;

use super::error::SimError;
use super::workload::Inputs;
use crate::error::SysError;
use crate::retry::{DeadLetter, DlqLimit, DlqPolicy, PENDING_FILE};
use crate::storage::Storage;

/// The id written into a line (`#id#`), if any.
fn id_of(bytes: &[u8]) -> Option<String> {
    let s = std::str::from_utf8(bytes).ok()?;
    let start = s.find('#')? + 1;
    let end = start + s[start..].find('#')?;
    Some(s[start..end].to_string())
}

/// Committed data records (CRC-checked by the scan), in commit order.
pub fn committed(storage: &Storage, sink: &Path) -> Result<Vec<Vec<u8>>, SimError> {
    let mut out = Vec::new();
    crate::ingest::scan_in(storage, sink, false, &mut |r| out.push(r.to_vec()))
        .map_err(SimError::Scan)?;
    Ok(out)
}

/// Entries of the dead-letter file (whole lines only).
pub fn dead_letters(storage: &Storage, dlq: &Path) -> Result<Vec<DeadLetter>, SimError> {
    let path = dlq.join(PENDING_FILE);
    let bytes = match storage.read_all(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(SysError::new("read", path, e).into()),
    };
    let text = String::from_utf8_lossy(&bytes);
    let whole = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
    whole
        .lines()
        .map(|l| {
            serde_json::from_str(l).map_err(|source| SimError::DeadLetter {
                line: l.to_string(),
                source,
            })
        })
        .collect()
}

/// Dead-letter entries that parse whole (right after a crash, a torn tail may follow them).
pub fn intact_dead_letters(storage: &Storage, dlq: &Path) -> Result<u64, SimError> {
    let path = dlq.join(PENDING_FILE);
    let bytes = match storage.read_all(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(SysError::new("read", path, e).into()),
    };
    Ok(bytes
        .split(|&b| b == b'\n')
        .filter(|l| serde_json::from_slice::<DeadLetter>(l).is_ok())
        .count() as u64)
}

/// The DLQ file is within its bound: under drop-newer, at most the limit; under drop-older, at most
/// the limit, or else nothing but one batch's entries (at most `batch_items`). A compaction evicts
/// only entries already in the file, so the dead letters of the batch being synced stay even past
/// the limit, and the next sync compacts again before anything is added.
pub fn check_dlq_bound(
    storage: &Storage,
    dlq: &Path,
    limit: Option<DlqLimit>,
    batch_items: usize,
) -> Result<(), SimError> {
    let Some(l) = limit else { return Ok(()) };
    let path = dlq.join(PENDING_FILE);
    let bytes = match storage.read_all(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(SysError::new("read", path, e).into()),
    };
    let len = bytes.len() as u64;
    let entries = bytes.iter().filter(|&&b| b == b'\n').count();
    let ok = match l.policy {
        DlqPolicy::DropNewer => len <= l.max_bytes,
        DlqPolicy::DropOlder => len <= l.max_bytes || entries <= batch_items,
    };
    if !ok {
        return Err(SimError::broken(format!(
            "the DLQ holds {len} bytes in {entries} entries, past its limit of {} ({:?}; a batch holds at most {batch_items})",
            l.max_bytes, l.policy
        )));
    }
    Ok(())
}

/// Check the final store against every line the inputs ever held. `redriven`: the dead letters were
/// re-driven with schema v2 at the end, so every line within the cap must be committed. `limited`:
/// the DLQ was bounded, so invalid lines may be missing (refused or evicted by policy; never a valid
/// one) — exactly as many as the runs reported, when that is known (`Some(Some(n))`: no faults, every
/// run completed).
pub fn check_final(
    storage: &Storage,
    sink: &Path,
    dlq: &Path,
    inputs: &Inputs,
    redriven: bool,
    limited: Option<Option<u64>>,
) -> Result<(), SimError> {
    let records = committed(storage, sink)?;
    let dead = dead_letters(storage, dlq)?;
    // id -> (input index, line index, to be committed, too long, committed by ingest itself)
    let mut want: HashMap<&str, (usize, usize, bool, bool, bool)> = HashMap::new();
    for (f, (_, lines)) in inputs.lines.iter().enumerate() {
        for (k, l) in lines.iter().enumerate() {
            want.insert(
                &l.id,
                (
                    f,
                    k,
                    l.valid || (redriven && !l.too_long),
                    l.too_long,
                    l.valid,
                ),
            );
        }
    }
    let mut seen: HashMap<String, &'static str> = HashMap::new();
    let mut last_line: HashMap<usize, usize> = HashMap::new();
    for r in &records {
        let id = id_of(r).ok_or_else(|| {
            SimError::broken(format!(
                "a committed record that no input wrote: {:?}",
                String::from_utf8_lossy(r)
            ))
        })?;
        let &(f, k, valid, _, by_ingest) = want.get(id.as_str()).ok_or_else(|| {
            SimError::broken(format!("committed record #{id}# was never written"))
        })?;
        if !valid {
            return Err(SimError::broken(format!(
                "invalid record #{id}# was committed"
            )));
        }
        if let Some(prev) = seen.insert(id.clone(), "committed") {
            return Err(SimError::broken(format!(
                "#{id}# committed, and already {prev}"
            )));
        }
        // In order per input — what ingest commits (a re-drive commits dead letters later).
        if !by_ingest {
            continue;
        }
        if let Some(&p) = last_line.get(&f) {
            if k < p {
                return Err(SimError::broken(format!(
                    "#{id}# committed after line {p} of its input: out of order"
                )));
            }
        }
        last_line.insert(f, k);
    }
    let mut too_long_entries = 0usize;
    for d in &dead {
        if d.truncated {
            too_long_entries += 1;
            continue;
        }
        let bytes = d.bytes().unwrap_or_default();
        let id = id_of(&bytes)
            .ok_or_else(|| SimError::broken(format!("a dead letter no input wrote: {d:?}")))?;
        let &(_, _, valid, _, _) = want
            .get(id.as_str())
            .ok_or_else(|| SimError::broken(format!("dead letter #{id}# was never written")))?;
        if valid {
            return Err(SimError::broken(format!(
                "valid record #{id}# was dead-lettered"
            )));
        }
        if let Some(prev) = seen.insert(id.clone(), "dead-lettered") {
            return Err(SimError::broken(format!(
                "#{id}# dead-lettered, and already {prev}"
            )));
        }
    }
    let too_long = want.values().filter(|w| w.3).count();
    let unseen = |valid_by_ingest: bool| -> Vec<&str> {
        let mut v: Vec<&str> = want
            .iter()
            .filter(|(id, w)| !w.3 && w.4 == valid_by_ingest && !seen.contains_key(**id))
            .map(|(id, _)| *id)
            .collect();
        v.sort_unstable();
        v
    };
    // Valid records never go near the DLQ: none may be missing, bounded DLQ or not.
    let lost_valid = unseen(true);
    let lost_invalid = unseen(false);
    let Some(reported) = limited else {
        if too_long_entries != too_long {
            return Err(SimError::broken(format!(
                "{too_long_entries} dead letters for over-long lines, {too_long} such lines written"
            )));
        }
        if !lost_valid.is_empty() || !lost_invalid.is_empty() {
            return Err(SimError::broken(format!(
                "{} lines neither committed nor dead-lettered, e.g. {:?}",
                lost_valid.len() + lost_invalid.len(),
                lost_valid
                    .iter()
                    .chain(&lost_invalid)
                    .take(5)
                    .collect::<Vec<_>>()
            )));
        }
        return Ok(());
    };
    if !lost_valid.is_empty() {
        return Err(SimError::broken(format!(
            "{} valid lines neither committed nor dead-lettered (a bounded DLQ only gives up invalid ones), e.g. {:?}",
            lost_valid.len(),
            &lost_valid[..lost_valid.len().min(5)]
        )));
    }
    if too_long_entries > too_long {
        return Err(SimError::broken(format!(
            "{too_long_entries} dead letters for over-long lines, only {too_long} such lines written"
        )));
    }
    let given_up = (lost_invalid.len() + too_long - too_long_entries) as u64;
    if let Some(n) = reported {
        if given_up != n {
            return Err(SimError::broken(format!(
                "{given_up} invalid lines are neither committed nor dead-lettered, and the runs reported {n} refused or evicted by the DLQ's bound"
            )));
        }
    }
    Ok(())
}
