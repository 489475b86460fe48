//! The machine's filesystem, through `std`: each call is the one syscall its name says, so the sink's
//! counters are what `strace` sees.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{OpenMode, Vfs, VfsFile};
use crate::error::SysError;

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsVfs;

/// A real file open for appending.
#[derive(Debug)]
pub struct OsFile(File);

impl VfsFile for OsFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        // std's sync_data is fdatasync(2) on Linux.
        self.0.sync_data()
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.0.set_len(len)
    }

    fn size(&self) -> io::Result<u64> {
        Ok(self.0.metadata()?.len())
    }
}

impl Vfs for OsVfs {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.path()))
            .collect()
    }

    fn len(&self, path: &Path) -> io::Result<u64> {
        Ok(std::fs::metadata(path)?.len())
    }

    fn read_at(&self, path: &Path, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        File::open(path)?.read_at(buf, offset)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn VfsFile>> {
        let mut o = OpenOptions::new();
        match mode {
            OpenMode::CreateNew => o.append(true).create_new(true),
            OpenMode::AppendOrCreate => o.append(true).create(true),
            OpenMode::Truncate => o.write(true).create(true).truncate(true),
        };
        // std opens with O_CLOEXEC.
        Ok(Box::new(OsFile(o.open(path)?)))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        // fsync(2) on the directory's fd makes its entries durable.
        File::open(dir)?.sync_all()
    }

    fn lock(&self, dir: &Path) -> Result<Option<Arc<crate::storage::DirLock>>, SysError> {
        crate::storage::DirLock::acquire(dir).map(Some)
    }
}
