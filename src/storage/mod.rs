//! The durable-file layer: every byte the lab promises to keep — segments, the dead-letter queue, the
//! start-up scan that reads them back — goes through a [`Storage`], so that one place owns `write`,
//! `fdatasync`, directory `fsync` and their failure modes, and so that a simulated implementation can
//! stand in for the disk.
//!
//! [`Storage::os`] is the machine's filesystem through `std` (one `write(2)` per [`VfsFile::write`],
//! `fdatasync(2)` for [`VfsFile::sync_data`], `fsync(2)` on the directory for [`Vfs::sync_dir`]).
//! [`sim::SimStorage`] keeps, per file, what is durable and what was only written, and per directory
//! which names are durable, and can crash at any chosen operation — dropping unsynced data, keeping a
//! random prefix of it, or tearing it at sector boundaries — or fail it with EIO, ENOSPC or a short
//! write. The crash simulation (`crash-sim`) drives the real ingest path on it, as SQLite's crash VFS,
//! RocksDB's fault-injection filesystem and TigerBeetle's simulated storage do for theirs.
//!
//! What a caller must do to be durable is what POSIX requires, and the simulation enforces exactly
//! that: data is durable after `sync_data` on its file; a new, renamed or removed name is durable only
//! after `sync_dir` on its directory.

mod lock;
pub mod os;
pub mod sim;

pub use lock::{DirLock, LOCK_FILE};

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::SysError;

/// How to open a file for appending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create it; fail if it exists (segments).
    CreateNew,
    /// Open it, creating it if missing (the DLQ file).
    AppendOrCreate,
    /// Create it, or empty it if it exists (a temporary file about to be renamed over another).
    Truncate,
}

/// A file open for appending.
pub trait VfsFile: Send + fmt::Debug {
    /// One `write(2)`: the bytes accepted (possibly fewer than `buf.len()`).
    fn write(&mut self, buf: &[u8]) -> io::Result<usize>;
    /// `fdatasync(2)`: the file's data and size are durable when this returns `Ok`.
    fn sync_data(&mut self) -> io::Result<()>;
    /// Cut or extend the file to `len` bytes (durable only after the next `sync_data`).
    fn set_len(&mut self, len: u64) -> io::Result<()>;
    /// The file's length now.
    fn size(&self) -> io::Result<u64>;
}

/// A filesystem as the durable path sees it.
pub trait Vfs: Send + Sync + fmt::Debug {
    /// Create `dir` and its parents.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// The entries of `dir` (full paths), in no order.
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    /// The length of the file at `path`.
    fn len(&self, path: &Path) -> io::Result<u64>;
    /// Read at `offset` into `buf`; the bytes read (0 at the end).
    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize>;
    /// Open `path` for appending.
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VfsFile>>;
    /// Rename `from` to `to` (durable after `sync_dir` on the directory).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Remove the file at `path` (durable after `sync_dir`).
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// `fsync(2)` the directory: its names are durable when this returns `Ok`.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// One process per directory (see [`crate::storage::DirLock`]); `None` where there are no other
    /// processes (the simulation).
    fn lock(&self, dir: &Path) -> Result<Option<Arc<crate::storage::DirLock>>, SysError>;
    /// True for the simulation (no `statfs`, no free-space check: there is no disk).
    fn simulated(&self) -> bool {
        false
    }
}

/// A cheap, clonable handle on the filesystem the durable path uses (the machine's by default).
#[derive(Clone)]
pub struct Storage(Arc<dyn Vfs>);

impl Storage {
    /// The machine's filesystem.
    pub fn os() -> Storage {
        Storage(Arc::new(os::OsVfs))
    }

    /// A handle on `vfs`.
    pub fn new(vfs: Arc<dyn Vfs>) -> Storage {
        Storage(vfs)
    }

    /// The whole file at `path`.
    pub fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let len = self.len(path)?;
        let mut buf = vec![0u8; len as usize];
        let n = read_at_most(self, path, &mut buf, 0)?;
        buf.truncate(n);
        Ok(buf)
    }

    /// The entries of `dir`, or none if it does not exist.
    pub fn list_or_empty(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        match self.list(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            r => r,
        }
    }

    /// Create `dir` if missing and make its name durable in its parent (a new directory's entry is
    /// as volatile as a new file's until its parent is fsynced) — every time, not only when this call
    /// created it: an earlier call may have created it and failed its parent's fsync (found by the
    /// crash simulation, seed 1260: the next open skipped the fsync, and a crash took the whole sink
    /// directory, acknowledged blocks and all). `Ok(true)` when it was created.
    pub fn create_dir_durable(&self, dir: &Path) -> io::Result<bool> {
        // Every level this creates needs its own name made durable, top down (review finding: only
        // the last level's parent was fsynced, so a new `/data/new/sink` could vanish with `new`).
        let missing: Vec<&Path> = dir
            .ancestors()
            .take_while(|a| !a.as_os_str().is_empty() && self.list(a).is_err())
            .collect();
        let created = !missing.is_empty();
        if created {
            self.create_dir_all(dir)?;
        }
        let mut levels: Vec<&Path> = missing;
        if levels.is_empty() {
            levels.push(dir);
        }
        for level in levels.into_iter().rev() {
            if let Some(parent) = level.parent().filter(|p| !p.as_os_str().is_empty()) {
                self.sync_dir(parent)?;
            }
        }
        Ok(created)
    }

    /// Rename `from` to `to` and make the change durable in `to`'s directory (a rename is as
    /// volatile as a new name until the directory is fsynced).
    pub fn rename_durable(&self, from: &Path, to: &Path) -> Result<(), SysError> {
        self.rename(from, to)
            .map_err(|e| SysError::new("rename", from, e))?;
        let dir = to.parent().unwrap_or(Path::new("."));
        self.sync_dir(dir)
            .map_err(|e| SysError::new("fsync dir", dir, e))
    }

    /// A sequential reader of the file at `path` from `offset`.
    pub fn reader(&self, path: &Path, offset: u64) -> StorageReader {
        StorageReader {
            storage: self.clone(),
            path: path.to_path_buf(),
            pos: offset,
        }
    }
}

impl std::ops::Deref for Storage {
    type Target = dyn Vfs;
    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl Default for Storage {
    fn default() -> Self {
        Storage::os()
    }
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for Storage {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Storage {}

/// `read_at` until `buf` is full or the file ends; the bytes read.
pub fn read_at_most(storage: &Storage, path: &Path, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match storage.read_at(path, at + got as u64, &mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// `read_at` all of `buf`, or an `UnexpectedEof` error naming the file and offset.
pub fn read_exact_at(storage: &Storage, path: &Path, buf: &mut [u8], at: u64) -> io::Result<()> {
    let got = read_at_most(storage, path, buf, at)?;
    if got < buf.len() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "{}: {} bytes at byte {at}, the file ends after {got}",
                path.display(),
                buf.len()
            ),
        ));
    }
    Ok(())
}

/// Write all of `buf` (a write may be short).
pub fn write_all(file: &mut dyn VfsFile, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match file.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads a file of a [`Storage`] front to back (wrap it in a `BufReader`).
pub struct StorageReader {
    storage: Storage,
    path: PathBuf,
    pos: u64,
}

impl io::Read for StorageReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.storage.read_at(&self.path, self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}
