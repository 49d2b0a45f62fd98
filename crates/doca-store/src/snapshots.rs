//! Unpacked layers under `snapshots/<chain id hex>/`, shared read-only as overlay lower dirs.
//!
//! A snapshot is filled in a temp directory (`snapshots/.tmp-*`) and renamed into place once
//! complete; removal renames it to `.trash-*` first. So a directory named by a chain id is always
//! complete, whatever moment a process dies at, and leftovers are recognisable by their prefix.

use crate::digest::Digest;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{op} snapshot {path}: {source}")]
    Io { op: &'static str, path: PathBuf, source: io::Error },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> SnapshotError + 'a {
    move |source| SnapshotError::Io { op, path: path.to_path_buf(), source }
}

#[derive(Debug, Clone)]
pub struct Snapshots {
    dir: PathBuf,
}

/// A snapshot being filled; dropped without `commit`, it is removed.
pub struct TempSnapshot {
    path: PathBuf,
    done: bool,
}

impl TempSnapshot {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempSnapshot {
    fn drop(&mut self) {
        if !self.done {
            let _ = remove_tree(&self.path);
        }
    }
}

/// What a directory under `snapshots/` is.
#[derive(Debug, PartialEq, Eq)]
pub enum Entry {
    Snapshot(Digest),
    /// A temp or trash directory, or a name that is not a chain id.
    Leftover(PathBuf),
}

impl Snapshots {
    pub fn open(root: &Path) -> Result<Self, SnapshotError> {
        let dir = root.join("snapshots");
        fs::create_dir_all(&dir).map_err(io_err("create", &dir))?;
        Ok(Snapshots { dir })
    }

    pub fn path(&self, chain_id: &Digest) -> PathBuf {
        self.dir.join(chain_id.hex())
    }

    pub fn exists(&self, chain_id: &Digest) -> bool {
        self.path(chain_id).is_dir()
    }

    pub fn prepare(&self) -> Result<TempSnapshot, SnapshotError> {
        let base = format!(".tmp-{}-", std::process::id());
        let mut n = 0u32;
        loop {
            let path = self.dir.join(format!("{base}{n}-{:x}", nanos()));
            match fs::create_dir(&path) {
                Ok(()) => return Ok(TempSnapshot { path, done: false }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(io_err("create", &path)(e)),
            }
        }
    }

    /// Renames the temp dir into place. Returns false (and discards ours) when another process
    /// committed the same chain id first: same chain id means same content.
    pub fn commit(&self, mut tmp: TempSnapshot, chain_id: &Digest) -> Result<bool, SnapshotError> {
        let target = self.path(chain_id);
        match fs::rename(&tmp.path, &target) {
            Ok(()) => {
                tmp.done = true;
                Ok(true)
            }
            // rename(2) onto a non-empty directory fails with ENOTEMPTY or EEXIST.
            Err(e) if target.is_dir() && matches!(e.raw_os_error(), Some(libc::ENOTEMPTY) | Some(libc::EEXIST)) => Ok(false),
            Err(e) => Err(io_err("commit", &target)(e)),
        }
    }

    pub fn remove(&self, chain_id: &Digest) -> Result<(), SnapshotError> {
        let path = self.path(chain_id);
        let trash = self.dir.join(format!(".trash-{}-{}-{:x}", std::process::id(), chain_id.short(), nanos()));
        match fs::rename(&path, &trash) {
            Ok(()) => remove_tree(&trash),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("remove", &path)(e)),
        }
    }

    pub fn list(&self) -> Result<Vec<Entry>, SnapshotError> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.dir).map_err(io_err("read", &self.dir))? {
            let e = e.map_err(io_err("read", &self.dir))?;
            match e.file_name().to_str().map(Digest::from_hex) {
                Some(Ok(d)) => out.push(Entry::Snapshot(d)),
                _ => out.push(Entry::Leftover(e.path())),
            }
        }
        Ok(out)
    }

    /// Bytes a snapshot occupies on disk (allocated blocks, hardlinks counted once).
    pub fn disk_usage(&self, chain_id: &Digest) -> u64 {
        disk_usage(&self.path(chain_id))
    }
}

pub fn remove_tree(path: &Path) -> Result<(), SnapshotError> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", path)(e)),
        _ => Ok(()),
    }
}

fn nanos() -> u32 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
}

/// `du`-style usage of a tree: st_blocks × 512, each inode once, without following symlinks.
pub fn disk_usage(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(m) = fs::symlink_metadata(&p) else { continue };
        if m.nlink() > 1 && !m.is_dir() && !seen.insert((m.dev(), m.ino())) {
            continue;
        }
        total += m.blocks() * 512;
        if m.is_dir() {
            if let Ok(rd) = fs::read_dir(&p) {
                stack.extend(rd.filter_map(|e| e.ok().map(|e| e.path())));
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_is_atomic_and_first_wins() {
        let t = tempfile::tempdir().unwrap();
        let s = Snapshots::open(t.path()).unwrap();
        let id = Digest::of(b"layer");
        let a = s.prepare().unwrap();
        fs::write(a.path().join("f"), "1").unwrap();
        let b = s.prepare().unwrap();
        fs::write(b.path().join("f"), "1").unwrap();
        assert!(s.commit(a, &id).unwrap());
        assert!(!s.commit(b, &id).unwrap());
        assert_eq!(s.list().unwrap(), vec![Entry::Snapshot(id.clone())]);
        s.remove(&id).unwrap();
        assert!(s.list().unwrap().is_empty());
    }

    #[test]
    fn dropped_temp_is_removed() {
        let t = tempfile::tempdir().unwrap();
        let s = Snapshots::open(t.path()).unwrap();
        let a = s.prepare().unwrap();
        fs::create_dir(a.path().join("d")).unwrap();
        drop(a);
        assert!(s.list().unwrap().is_empty());
    }
}
