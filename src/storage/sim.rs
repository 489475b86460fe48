//! A simulated filesystem that knows what a crash would keep.
//!
//! Every file is an inode with the bytes a reader sees now (`current`) and the bytes a crash keeps
//! (`durable`: what the last successful `sync_data` covered). Every directory maps names to inodes
//! twice: as they are now, and as a crash keeps them (as of the last `sync_dir`). Directories
//! themselves are taken as durable once created.
//!
//! Each mutating call — `write`, `sync_data`, `set_len`, `open` that creates, `rename`, `remove`,
//! `sync_dir` — is one numbered **operation**. A [`SimFault`] names an operation and what happens
//! there: the process dies ([`FaultKind::Crash`]: that call and every later one fail, and
//! [`SimStorage::crash`] then computes what survives), or the call fails with EIO or ENOSPC, or a
//! write is short. After a crash, [`CrashMode`] says what happens to unsynced data: all of it is lost,
//! a random prefix of it survives (appends reach the disk in order), or random 512-byte sectors of it
//! survive and the rest reads as zeros (the file's size was persisted, its data was not).

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::{OpenMode, Vfs, VfsFile};
use crate::error::SysError;
use crate::rng::SplitMix64;

/// What a simulated fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The process dies at this operation: it is not performed, and every later call fails.
    Crash,
    /// The call fails with EIO (the process goes on: the code must stop itself).
    Eio,
    /// A write fails with ENOSPC (other calls: EIO).
    Enospc,
    /// A write accepts only half its bytes (other calls: performed normally).
    ShortWrite,
}

/// A fault at one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimFault {
    /// The operation number (1-based, counted from the last [`SimStorage::crash`]).
    pub at_op: u64,
    /// What happens there.
    pub kind: FaultKind,
}

/// What a crash does to data written but not synced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashMode {
    /// Lost, all of it.
    DropUnsynced,
    /// A random prefix of each file's unsynced appends survives.
    KeepPrefix,
    /// Random 512-byte sectors of each file's unsynced appends survive; the others read as zeros.
    TornSectors,
}

#[derive(Debug, Default, Clone)]
struct Inode {
    current: Vec<u8>,
    durable: Vec<u8>,
}

#[derive(Debug, Default, Clone)]
struct Dir {
    current: BTreeMap<String, u64>,
    durable: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
struct State {
    inodes: HashMap<u64, Inode>,
    dirs: BTreeMap<PathBuf, Dir>,
    /// Directories created since their parent was last fsynced: a crash removes them, and all
    /// they hold.
    volatile_dirs: std::collections::BTreeSet<PathBuf>,
    next_ino: u64,
    ops: u64,
    fault: Option<SimFault>,
    dead: bool,
}

/// The simulated filesystem (clone the [`Arc`] to share it; wrap it in a [`super::Storage`]).
#[derive(Debug, Default)]
pub struct SimStorage {
    state: Mutex<State>,
}

fn err(kind: FaultKind) -> io::Error {
    match kind {
        FaultKind::Enospc => io::Error::from_raw_os_error(libc::ENOSPC),
        _ => io::Error::from_raw_os_error(libc::EIO),
    }
}

fn dead() -> io::Error {
    io::Error::other("simulated crash: the process is dead")
}

fn split(path: &Path) -> (PathBuf, String) {
    let dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (dir, name)
}

/// The outcome of counting one operation.
enum Op {
    Go,
    Fail(io::Error),
    Short,
}

impl State {
    /// Count operation `what` on `path` and say whether it goes ahead. With `CRASHSIM_TRACE` set in
    /// the environment, each is printed to stderr (how a replayed violation is read).
    fn op(&mut self, what: &str, path: &dyn std::fmt::Debug) -> Op {
        if self.dead {
            return Op::Fail(dead());
        }
        self.ops += 1;
        static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if *TRACE.get_or_init(|| std::env::var_os("CRASHSIM_TRACE").is_some()) {
            let f = self.fault.filter(|f| f.at_op == self.ops).map(|f| f.kind);
            eprintln!(
                "sim op {} {what} {path:?}{}",
                self.ops,
                f.map_or(String::new(), |k| format!(" <- {k:?}"))
            );
        }
        match self.fault {
            Some(f) if f.at_op == self.ops => match f.kind {
                FaultKind::Crash => {
                    self.dead = true;
                    Op::Fail(dead())
                }
                FaultKind::ShortWrite => Op::Short,
                k => Op::Fail(err(k)),
            },
            _ => Op::Go,
        }
    }

    fn alive(&self) -> io::Result<()> {
        if self.dead {
            Err(dead())
        } else {
            Ok(())
        }
    }

    fn lookup(&self, path: &Path) -> io::Result<u64> {
        let (dir, name) = split(path);
        self.dirs
            .get(&dir)
            .and_then(|d| d.current.get(&name))
            .copied()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn dir_mut(&mut self, dir: &Path) -> io::Result<&mut Dir> {
        self.dirs
            .get_mut(dir)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
}

impl SimStorage {
    /// An empty filesystem.
    pub fn new() -> Arc<SimStorage> {
        Arc::new(SimStorage::default())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arrange a fault (or none), counted from the next operation on.
    pub fn set_fault(&self, fault: Option<SimFault>) {
        let mut s = self.lock();
        s.fault = fault.map(|f| SimFault {
            at_op: s.ops + f.at_op,
            ..f
        });
    }

    /// Operations counted so far.
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// True once a [`FaultKind::Crash`] has struck (until [`SimStorage::crash`]).
    pub fn is_dead(&self) -> bool {
        self.lock().dead
    }

    /// What survives a crash now: every file and name back to what was durable, with unsynced appends
    /// treated as `mode` says. The process may then start again on what is left.
    pub fn crash(&self, mode: CrashMode, rng: &mut SplitMix64) {
        let mut s = self.lock();
        for ino in s.inodes.values_mut() {
            let extra =
                ino.current.len() > ino.durable.len() && ino.current.starts_with(&ino.durable);
            let mut kept = ino.durable.clone();
            if extra {
                let unsynced = &ino.current[ino.durable.len()..];
                match mode {
                    CrashMode::DropUnsynced => {}
                    CrashMode::KeepPrefix => {
                        let n = rng.below(unsynced.len() as u64 + 1) as usize;
                        kept.extend_from_slice(&unsynced[..n]);
                    }
                    CrashMode::TornSectors => {
                        let start = kept.len();
                        kept.extend_from_slice(unsynced);
                        // Sectors are aligned to the file, not to the write.
                        let mut at = start;
                        while at < kept.len() {
                            let end = ((at / 512 + 1) * 512).min(kept.len());
                            if rng.below(2) == 0 {
                                kept[at..end].fill(0);
                            }
                            at = end;
                        }
                    }
                }
            }
            ino.current = kept.clone();
            ino.durable = kept;
        }
        for d in s.dirs.values_mut() {
            d.current = d.durable.clone();
        }
        // A directory whose own name was never made durable is gone, with everything under it.
        let gone: Vec<PathBuf> = s.volatile_dirs.iter().cloned().collect();
        s.dirs.retain(|p, _| !gone.iter().any(|g| p.starts_with(g)));
        s.volatile_dirs.clear();
        s.dead = false;
        s.fault = None;
    }

    /// Every file now, by path, with its bytes (for tests and the oracle's error messages).
    pub fn files(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let s = self.lock();
        let mut out = BTreeMap::new();
        for (dir, d) in &s.dirs {
            for (name, ino) in &d.current {
                out.insert(dir.join(name), s.inodes[ino].current.clone());
            }
        }
        out
    }
}

/// A file of the simulation, open for appending.
#[derive(Debug)]
struct SimFile {
    fs: Arc<SimStorage>,
    ino: u64,
}

impl VfsFile for SimFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut s = self.fs.lock();
        let n = match s.op("write", &self.ino) {
            Op::Go => buf.len(),
            Op::Short => buf.len().div_ceil(2),
            Op::Fail(e) => return Err(e),
        };
        let ino = s.inodes.get_mut(&self.ino).expect("open inode");
        ino.current.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        let mut s = self.fs.lock();
        if let Op::Fail(e) = s.op("sync_data", &self.ino) {
            return Err(e);
        }
        let ino = s.inodes.get_mut(&self.ino).expect("open inode");
        ino.durable = ino.current.clone();
        Ok(())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        let mut s = self.fs.lock();
        if let Op::Fail(e) = s.op("set_len", &(self.ino, len)) {
            return Err(e);
        }
        let ino = s.inodes.get_mut(&self.ino).expect("open inode");
        ino.current.resize(len as usize, 0);
        Ok(())
    }

    fn size(&self) -> io::Result<u64> {
        let s = self.fs.lock();
        s.alive()?;
        Ok(s.inodes[&self.ino].current.len() as u64)
    }
}

/// The simulation as a [`Vfs`] (a handle on a shared [`SimStorage`]).
#[derive(Debug, Clone)]
pub struct SimVfs(pub Arc<SimStorage>);

impl Vfs for SimVfs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.0.lock();
        s.alive()?;
        // Top down: a new directory is volatile (its entry in its parent needs an fsync) — except
        // the root's children, which stand for the filesystem the simulation runs in.
        let ancestors: Vec<PathBuf> = dir.ancestors().map(Path::to_path_buf).collect();
        for d in ancestors.into_iter().rev() {
            if d.as_os_str().is_empty() || s.dirs.contains_key(&d) {
                continue;
            }
            let parent_known = d
                .parent()
                .is_some_and(|p| s.dirs.contains_key(p) && p.parent().is_some());
            s.dirs.insert(d.clone(), Dir::default());
            if parent_known {
                s.volatile_dirs.insert(d);
            }
        }
        Ok(())
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let s = self.0.lock();
        s.alive()?;
        let d = s
            .dirs
            .get(dir)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))?;
        let mut out: Vec<PathBuf> = d.current.keys().map(|n| dir.join(n)).collect();
        out.extend(s.dirs.keys().filter(|p| p.parent() == Some(dir)).cloned());
        Ok(out)
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        let s = self.0.lock();
        s.alive()?;
        let ino = s.lookup(path)?;
        Ok(s.inodes[&ino].current.len() as u64)
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let s = self.0.lock();
        s.alive()?;
        let ino = s.lookup(path)?;
        let data = &s.inodes[&ino].current;
        let start = (offset as usize).min(data.len());
        let n = buf.len().min(data.len() - start);
        buf[..n].copy_from_slice(&data[start..start + n]);
        Ok(n)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VfsFile>> {
        let mut s = self.0.lock();
        s.alive()?;
        let existing = s.lookup(path).ok();
        let ino = match (mode, existing) {
            (OpenMode::CreateNew, Some(_)) => {
                return Err(io::Error::from(io::ErrorKind::AlreadyExists))
            }
            (OpenMode::AppendOrCreate, Some(ino)) => ino,
            (OpenMode::Truncate, Some(ino)) => {
                if let Op::Fail(e) = s.op("truncate", &path) {
                    return Err(e);
                }
                s.inodes.get_mut(&ino).expect("inode").current.clear();
                ino
            }
            (_, None) => {
                if let Op::Fail(e) = s.op("create", &path) {
                    return Err(e);
                }
                let (dir, name) = split(path);
                s.next_ino += 1;
                let ino = s.next_ino;
                s.dir_mut(&dir)?.current.insert(name, ino);
                s.inodes.insert(ino, Inode::default());
                ino
            }
        };
        Ok(Box::new(SimFile {
            fs: Arc::clone(&self.0),
            ino,
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        let mut s = self.0.lock();
        let ino = s.lookup(from)?;
        if let Op::Fail(e) = s.op("rename", &(from, to)) {
            return Err(e);
        }
        let (fd, fname) = split(from);
        let (td, tname) = split(to);
        s.dir_mut(&fd)?.current.remove(&fname);
        s.dir_mut(&td)?.current.insert(tname, ino);
        Ok(())
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        let mut s = self.0.lock();
        s.lookup(path)?;
        if let Op::Fail(e) = s.op("remove", &path) {
            return Err(e);
        }
        let (dir, name) = split(path);
        s.dir_mut(&dir)?.current.remove(&name);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        let mut s = self.0.lock();
        if let Op::Fail(e) = s.op("sync_dir", &dir) {
            return Err(e);
        }
        let d = s.dir_mut(dir)?;
        d.durable = d.current.clone();
        let children: Vec<PathBuf> = s
            .volatile_dirs
            .iter()
            .filter(|c| c.parent() == Some(dir))
            .cloned()
            .collect();
        for c in children {
            s.volatile_dirs.remove(&c);
        }
        Ok(())
    }

    fn lock(&self, _dir: &Path) -> Result<Option<Arc<crate::storage::DirLock>>, SysError> {
        Ok(None)
    }

    fn simulated(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests;
