//! The `Spill` overflow policy's disk-backed FIFO. When the in-memory queue is full, items are appended to
//! `spill.log`; while anything is spilled, *every* new item goes to the spill too, so order is kept: the
//! consumer drains memory first (older), then the spill in chunks (bounded memory), then memory again.
//!
//! Durability: spilled items are written with `write(2)` (the page cache survives a process crash or
//! `kill -9`, not a power loss). The read position is saved in `spill.pos` (a temporary file renamed
//! over it, so it is whole or old) only when the batcher acknowledges that the items taken up to it
//! are committed ([`SpillFile::ack`]): a crash between take and commit reads them again — spilled
//! items are delivered at least once, in order, never lost. When the spill is drained and
//! acknowledged, the file is truncated, so the disk it uses is bounded by the backlog, not by history.
//!
//! Record: `intended u64 | len u32 | crc32 u32 | payload` (little-endian), the CRC over `intended`,
//! `len` and the payload — so a zero-filled tail (what a power loss can leave) is not a run of empty
//! records. Opening checks every record's CRC and cuts the file at the first bad one.
//!
//! Every byte goes through the storage layer ([`crate::storage`]), like the segments' and the DLQ's.

use std::io;
use std::path::{Path, PathBuf};

use crate::item::Item;
use crate::storage::{read_exact_at, write_all, OpenMode, Storage, VfsFile};

const HEADER: usize = 16;
/// Bytes read from the spill per take (bounds the memory a drain uses).
const READ_CHUNK: usize = 1 << 20;

/// A disk-backed FIFO of items.
pub struct SpillFile {
    storage: Storage,
    path: PathBuf,
    pos_path: PathBuf,
    file: Box<dyn VfsFile>,
    /// A failed append could not be cut back off the file: refuse appends from then on (what is
    /// already spilled still drains).
    broken: bool,
    /// Where the next take reads (past what was taken, acknowledged or not).
    read_at: u64,
    /// The last acknowledged position (what `spill.pos` says).
    acked_at: u64,
    write_at: u64,
    items: u64,
    max_bytes: u64,
    buf: Vec<u8>,
}

impl SpillFile {
    /// Open `dir/spill.log`, recovering items left by an earlier run after the saved read position.
    /// At most `max_bytes` are held on disk; past that `append` refuses.
    pub fn open(dir: &Path, max_bytes: u64) -> io::Result<SpillFile> {
        SpillFile::open_on(&Storage::os(), dir, max_bytes)
    }

    /// [`SpillFile::open`] on `storage`.
    pub fn open_on(storage: &Storage, dir: &Path, max_bytes: u64) -> io::Result<SpillFile> {
        storage.create_dir_all(dir)?;
        let path = dir.join("spill.log");
        let pos_path = dir.join("spill.pos");
        let file = storage.open(&path, OpenMode::AppendOrCreate)?;
        let write_at = file.size()?;
        let read_at = storage
            .read_all(&pos_path)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0u64)
            .min(write_at);
        let mut s = SpillFile {
            storage: storage.clone(),
            path,
            pos_path,
            file,
            broken: false,
            read_at,
            acked_at: read_at,
            write_at,
            items: 0,
            max_bytes,
            buf: Vec::new(),
        };
        s.items = s.count_from(read_at)?;
        Ok(s)
    }

    /// Count whole, CRC-valid records from `at` to the end; the file is cut at the first torn or bad
    /// one (a crash mid-append, or a zero-filled tail).
    fn count_from(&mut self, mut at: u64) -> io::Result<u64> {
        let mut n = 0;
        let mut rec = Vec::new();
        while at + HEADER as u64 <= self.write_at {
            let mut hdr = [0u8; HEADER];
            read_exact_at(&self.storage, &self.path, &mut hdr, at)?;
            let len = u32::from_le_bytes(hdr[8..12].try_into().unwrap()) as u64;
            if at + HEADER as u64 + len > self.write_at {
                break;
            }
            rec.resize(len as usize, 0);
            read_exact_at(&self.storage, &self.path, &mut rec, at + HEADER as u64)?;
            if record_crc(&hdr, &rec) != u32::from_le_bytes(hdr[12..16].try_into().unwrap()) {
                break;
            }
            at += HEADER as u64 + len;
            n += 1;
        }
        if at < self.write_at {
            self.file.set_len(at)?;
            self.write_at = at;
        }
        Ok(n)
    }

    /// Everything taken up to `pos` is committed: save it as the position a restart resumes from
    /// (atomically: a temporary file renamed over `spill.pos`), and reclaim the file once drained.
    pub fn ack(&mut self, pos: u64) -> io::Result<()> {
        let mut pos = pos.min(self.read_at);
        if pos == self.acked_at {
            return Ok(());
        }
        if self.items == 0 && pos == self.write_at {
            // Drained and acknowledged: reclaim the disk and start over.
            self.file.set_len(0)?;
            (self.read_at, self.write_at, pos) = (0, 0, 0);
        }
        let tmp = self.pos_path.with_extension("pos.tmp");
        let mut f = self.storage.open(&tmp, OpenMode::Truncate)?;
        write_all(&mut *f, pos.to_string().as_bytes())?;
        drop(f);
        self.storage.rename(&tmp, &self.pos_path)?;
        self.acked_at = pos;
        Ok(())
    }

    /// Items waiting in the spill.
    pub fn len(&self) -> u64 {
        self.items
    }

    /// True when nothing is spilled.
    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// Bytes on disk not yet taken.
    pub fn bytes(&self) -> u64 {
        self.write_at - self.read_at
    }

    /// Append an item; hands it back if the spill is at `max_bytes` or the write fails.
    pub fn append(&mut self, item: Item) -> Result<(), (Item, io::Error)> {
        let need = (HEADER + item.payload.len()) as u64;
        if self.broken {
            return Err((
                item,
                io::Error::other("an earlier spill write failed and could not be cut off"),
            ));
        }
        if self.bytes() + need > self.max_bytes {
            return Err((
                item,
                io::Error::new(io::ErrorKind::StorageFull, "spill is at its byte limit"),
            ));
        }
        self.buf.clear();
        self.buf.extend_from_slice(&item.intended.to_le_bytes());
        self.buf
            .extend_from_slice(&(item.payload.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(&[0; 4]);
        let crc = record_crc(&self.buf[..HEADER], &item.payload);
        self.buf[12..16].copy_from_slice(&crc.to_le_bytes());
        self.buf.extend_from_slice(&item.payload);
        // The file is opened for appending, so a failed write's partial bytes are cut off again:
        // the next record must start where this one did.
        if let Err(e) = write_all(&mut *self.file, &self.buf) {
            self.broken = self.file.set_len(self.write_at).is_err();
            return Err((item, e));
        }
        self.write_at += need;
        self.items += 1;
        Ok(())
    }

    /// Move up to `max` of the oldest spilled items into `out`, reading at most ~1 MiB. A record whose
    /// CRC does not match is an error naming the file and offset.
    pub fn take(&mut self, out: &mut Vec<Item>, max: usize) -> io::Result<usize> {
        if self.is_empty() {
            return Ok(0);
        }
        // Read ~1 MiB, but never less than the first whole record (an item may be larger than a chunk).
        let mut hdr = [0u8; HEADER];
        read_exact_at(&self.storage, &self.path, &mut hdr, self.read_at)?;
        let first = HEADER + u32::from_le_bytes(hdr[8..12].try_into().unwrap()) as usize;
        let want = (self.bytes() as usize).min(READ_CHUNK.max(first));
        self.buf.resize(want, 0);
        read_exact_at(&self.storage, &self.path, &mut self.buf, self.read_at)?;
        let (mut off, mut n, start) = (0usize, 0, out.len());
        while n < max && off + HEADER <= want {
            let h = &self.buf[off..off + HEADER];
            let intended = u64::from_le_bytes(h[0..8].try_into().unwrap());
            let len = u32::from_le_bytes(h[8..12].try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(h[12..16].try_into().unwrap());
            if off + HEADER + len > want {
                break;
            }
            let payload = self.buf[off + HEADER..off + HEADER + len].to_vec();
            if record_crc(h, &payload) != crc {
                // The good records before it stay in the spill, not in `out` too: the caller counts
                // what is still spilled as lost, and an item in both places would be counted twice.
                out.truncate(start);
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}: CRC mismatch in spilled record at byte {}",
                        self.path.display(),
                        self.read_at + off as u64
                    ),
                ));
            }
            // Spilled items carry no input position: ingest (which needs them) always uses Block.
            out.push(Item {
                intended,
                payload,
                source: None,
                dead: None,
            });
            off += HEADER + len;
            n += 1;
        }
        self.read_at += off as u64;
        self.items -= n as u64;
        Ok(n)
    }

    /// Read everything still spilled, and acknowledge it (for tests and recovery tools).
    pub fn read_remaining(&mut self) -> io::Result<Vec<Item>> {
        let mut out = Vec::new();
        while !self.is_empty() {
            self.take(&mut out, usize::MAX)?;
        }
        self.ack(self.read_at)?;
        Ok(out)
    }

    /// The spill file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// CRC32 of a record's `intended` and `len` (its header less the CRC field) and its payload.
fn record_crc(header: &[u8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&header[..12]);
    h.update(payload);
    h.finalize()
}

impl super::SpillStore<Item> for SpillFile {
    fn len(&self) -> u64 {
        SpillFile::len(self)
    }
    fn append(&mut self, item: Item) -> Result<(), (Item, io::Error)> {
        SpillFile::append(self, item)
    }
    fn take(&mut self, out: &mut Vec<Item>, max: usize) -> io::Result<usize> {
        SpillFile::take(self, out, max)
    }
    fn read_pos(&self) -> u64 {
        self.read_at
    }
    fn ack(&mut self, pos: u64) -> io::Result<()> {
        SpillFile::ack(self, pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;
    use std::os::unix::fs::FileExt;

    /// The intended times of everything still spilled, read and acknowledged.
    fn remaining_ids(s: &mut SpillFile) -> Vec<u64> {
        s.read_remaining()
            .unwrap()
            .iter()
            .map(|i| i.intended)
            .collect()
    }

    /// The spill file in `dir` (no byte limit to speak of), with `ids` appended to it.
    fn spill_in(dir: &Path, ids: std::ops::Range<u64>) -> SpillFile {
        let mut s = SpillFile::open(dir, 1 << 30).unwrap();
        for i in ids {
            s.append(item(i)).unwrap();
        }
        s
    }

    /// Take `n` items, as the batcher does (not yet acknowledged).
    fn taken(s: &mut SpillFile, n: usize) -> Vec<Item> {
        let mut out = Vec::new();
        s.take(&mut out, n).unwrap();
        out
    }

    fn file_len(s: &SpillFile) -> u64 {
        std::fs::metadata(s.path()).unwrap().len()
    }

    fn item(i: u64) -> Item {
        Item {
            intended: i,
            payload: format!("item-{i}").into_bytes(),
            source: None,
            dead: None,
        }
    }

    #[test]
    fn spilled_items_come_back_in_order_in_bounded_chunks() {
        let d = crate::testutil::tempdir();
        let mut s = spill_in(d.path(), 0..1000);
        assert_eq!(s.len(), 1000);
        let mut out = Vec::new();
        assert_eq!(s.take(&mut out, 300).unwrap(), 300);
        assert_eq!(s.len(), 700);
        out.extend(s.read_remaining().unwrap());
        let ids: Vec<u64> = out.iter().map(|x| x.intended).collect();
        assert_eq!(ids, (0..1000).collect::<Vec<_>>());
        assert_eq!(file_len(&s), 0, "drained spill is truncated");
    }

    #[test]
    fn an_item_larger_than_the_read_chunk_comes_back_whole() {
        let d = crate::testutil::tempdir();
        let mut s = spill_in(d.path(), 0..0);
        let big = Item {
            intended: 7,
            payload: vec![3u8; READ_CHUNK * 2],
            source: None,
            dead: None,
        };
        s.append(big).unwrap();
        s.append(item(8)).unwrap();
        let got = s.read_remaining().unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].payload.len(), READ_CHUNK * 2);
        assert_eq!(got[1].intended, 8);
    }

    #[test]
    fn a_restart_resumes_with_the_items_not_yet_taken() {
        let d = crate::testutil::tempdir();
        {
            let mut s = spill_in(d.path(), 0..10);
            taken(&mut s, 4);
            let after_four = s.read_at;
            taken(&mut s, 2);
            // Four committed downstream; the other two taken but not: a crash here.
            s.ack(after_four).unwrap();
        }
        let mut s = spill_in(d.path(), 0..0);
        assert_eq!(s.len(), 6, "taken but unacknowledged items are read again");
        assert_eq!(remaining_ids(&mut s), (4..10).collect::<Vec<_>>());
    }

    #[test]
    fn a_corrupt_spilled_record_leaves_the_good_ones_before_it_in_the_spill_and_not_in_out() {
        // Before: the records read ahead of the bad CRC stayed in `out` while the spill still held
        // them, so a fail-stop counted them lost twice (in the batcher and in the spill).
        let d = crate::testutil::tempdir();
        let mut s = spill_in(d.path(), 0..5);
        let record = (HEADER + item(0).payload.len()) as u64;
        let f = OpenOptions::new().write(true).open(s.path()).unwrap();
        f.write_all_at(b"X", 3 * record + HEADER as u64).unwrap();
        let mut out = vec![item(99)];
        let e = s.take(&mut out, 10).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        assert!(
            e.to_string().contains(&format!("byte {}", 3 * record)),
            "{e}"
        );
        assert_eq!(out.len(), 1, "only what was in out before");
        assert_eq!(s.len(), 5, "every record is still in the spill");
    }

    #[test]
    fn a_torn_tail_is_cut_and_the_byte_limit_refuses() {
        let d = crate::testutil::tempdir();
        drop(spill_in(d.path(), 1..3));
        let p = d.path().join("spill.log");
        let len = std::fs::metadata(&p).unwrap().len();
        OpenOptions::new()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(len - 3)
            .unwrap();
        let mut s = SpillFile::open(d.path(), 40).unwrap();
        assert_eq!(s.len(), 1);
        let (back, e) = s.append(item(3)).unwrap_err();
        assert_eq!(back.intended, 3);
        assert_eq!(e.kind(), io::ErrorKind::StorageFull);
    }

    #[test]
    fn items_taken_but_never_acknowledged_survive_a_crash() {
        // Before: the read position was saved at take, before commit: a crash lost what the batcher
        // held (at-most-once), and draining truncated the file before anything was committed.
        let d = crate::testutil::tempdir();
        {
            let mut s = spill_in(d.path(), 0..5);
            taken(&mut s, 5);
            assert!(s.is_empty());
        }
        let mut s = spill_in(d.path(), 0..0);
        assert_eq!(remaining_ids(&mut s), (0..5).collect::<Vec<_>>());
        assert_eq!(file_len(&s), 0, "drained and acked: truncated");
    }

    #[test]
    fn a_spill_write_that_fails_hands_its_item_back_and_the_next_ones_keep_their_order() {
        use crate::storage::sim::{FaultKind, SimFault, SimStorage, SimVfs};
        let fs = SimStorage::new();
        let storage = Storage::new(std::sync::Arc::new(SimVfs(std::sync::Arc::clone(&fs))));
        let dir = Path::new("/spill");
        let mut s = SpillFile::open_on(&storage, dir, 1 << 30).unwrap();
        s.append(item(0)).unwrap();
        fs.set_fault(Some(SimFault {
            at_op: 1,
            kind: FaultKind::Eio,
        }));
        let (back, e) = s.append(item(1)).unwrap_err();
        assert_eq!(back.intended, 1);
        assert_eq!(e.raw_os_error(), Some(libc::EIO), "{e}");
        s.append(item(2)).unwrap();
        assert_eq!(remaining_ids(&mut s), vec![0, 2]);
        // And a reopen (a restart) reads the same file the same way.
        let mut s = SpillFile::open_on(&storage, dir, 1 << 30).unwrap();
        assert_eq!(s.len(), 0, "drained and acknowledged");
        s.append(item(3)).unwrap();
        drop(s);
        let mut s = SpillFile::open_on(&storage, dir, 1 << 30).unwrap();
        assert_eq!(remaining_ids(&mut s), vec![3]);
    }

    #[test]
    fn a_zero_filled_tail_is_not_read_as_empty_records() {
        // Before: the CRC covered only the payload, so 16 zero bytes were a valid empty record.
        let d = crate::testutil::tempdir();
        drop(spill_in(d.path(), 1..2));
        let p = d.path().join("spill.log");
        let mut f = OpenOptions::new().append(true).open(&p).unwrap();
        std::io::Write::write_all(&mut f, &[0u8; 64]).unwrap();
        drop(f);
        let mut s = spill_in(d.path(), 0..0);
        assert_eq!(s.len(), 1);
        assert_eq!(s.read_remaining().unwrap().len(), 1);
    }

    #[test]
    fn the_position_file_is_replaced_whole() {
        let d = crate::testutil::tempdir();
        let mut s = spill_in(d.path(), 0..3);
        taken(&mut s, 1);
        s.ack(s.read_at).unwrap();
        assert!(!d.path().join("spill.pos.tmp").exists());
        let saved: u64 = std::fs::read_to_string(d.path().join("spill.pos"))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(saved, s.read_at);
    }
}
