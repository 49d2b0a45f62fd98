//! Blobs by digest under `blobs/sha256/<hex>`.
//!
//! Ingest writes a temp file in `blobs/ingest/` (same filesystem), hashes while writing, fsyncs,
//! verifies the digest and only then renames into place, so a crash never leaves a partial blob
//! under a digest name (rename(2) is atomic within a filesystem).

use crate::digest::{Digest, Hashing};
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0}: digest mismatch: content hashes to {1}")]
    DigestMismatch(Digest, Digest),
    #[error("blob {digest}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch { digest: Digest, expected: u64, actual: u64 },
    #[error("blob {0}: not found")]
    NotFound(Digest),
    #[error("{op} {path}: {source}")]
    Io { op: &'static str, path: PathBuf, source: io::Error },
}

fn io_err<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> BlobError + 'a {
    move |source| BlobError::Io { op, path: path.to_path_buf(), source }
}

#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
    ingest: PathBuf,
}

/// The blob directory's contents.
#[derive(Debug, Default)]
pub struct BlobListing {
    /// Blobs and their sizes.
    pub blobs: Vec<(Digest, u64)>,
    /// Files whose names are not digests.
    pub junk: Vec<PathBuf>,
}

/// What an ingest produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingested {
    pub digest: Digest,
    pub size: u64,
    /// false when the store already held these bytes.
    pub created: bool,
}

impl BlobStore {
    pub fn open(root: &Path) -> Result<Self, BlobError> {
        let dir = root.join("blobs/sha256");
        let ingest = root.join("blobs/ingest");
        for d in [&dir, &ingest] {
            fs::create_dir_all(d).map_err(io_err("create", d))?;
        }
        Ok(BlobStore { dir, ingest })
    }

    pub fn path(&self, d: &Digest) -> PathBuf {
        self.dir.join(d.hex())
    }

    pub fn exists(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    pub fn size(&self, d: &Digest) -> Result<u64, BlobError> {
        let p = self.path(d);
        match fs::metadata(&p) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(BlobError::NotFound(d.clone())),
            Err(e) => Err(io_err("stat", &p)(e)),
        }
    }

    pub fn open_blob(&self, d: &Digest) -> Result<File, BlobError> {
        let p = self.path(d);
        File::open(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => BlobError::NotFound(d.clone()),
            _ => io_err("open", &p)(e),
        })
    }

    pub fn read(&self, d: &Digest) -> Result<Vec<u8>, BlobError> {
        let p = self.path(d);
        fs::read(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => BlobError::NotFound(d.clone()),
            _ => io_err("read", &p)(e),
        })
    }

    pub fn writer(&self) -> Result<BlobWriter, BlobError> {
        let tmp = tempfile_in(&self.ingest)?;
        Ok(BlobWriter { store: self.clone(), inner: Some(Hashing::new(BufWriter::with_capacity(256 << 10, tmp.1))), tmp_path: tmp.0 })
    }

    /// Stores `bytes`, returning their digest.
    pub fn put(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Ingested, BlobError> {
        let digest = Digest::of(bytes);
        if let Some(e) = expected {
            if *e != digest {
                return Err(BlobError::DigestMismatch(e.clone(), digest));
            }
        }
        if self.exists(&digest) {
            return Ok(Ingested { digest, size: bytes.len() as u64, created: false });
        }
        let mut w = self.writer()?;
        w.write_all(bytes).map_err(io_err("write", &self.ingest))?;
        w.commit(Some(&digest))
    }

    /// Removes a blob; a missing blob is not an error (GC may race with a repair).
    pub fn remove(&self, d: &Digest) -> Result<(), BlobError> {
        let p = self.path(d);
        match fs::remove_file(&p) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", &p)(e)),
            _ => Ok(()),
        }
    }

    /// Every blob on disk, with files whose names are not digests reported separately.
    pub fn list(&self) -> Result<BlobListing, BlobError> {
        let mut good = Vec::new();
        let mut junk = Vec::new();
        for e in fs::read_dir(&self.dir).map_err(io_err("read", &self.dir))? {
            let e = e.map_err(io_err("read", &self.dir))?;
            let name = e.file_name();
            match name.to_str().map(Digest::from_hex) {
                Some(Ok(d)) => good.push((d, e.metadata().map(|m| m.len()).unwrap_or(0))),
                _ => junk.push(e.path()),
            }
        }
        Ok(BlobListing { blobs: good, junk })
    }

    /// Leftover ingest files (a process died mid-write).
    pub fn list_ingest(&self) -> Result<Vec<PathBuf>, BlobError> {
        let rd = fs::read_dir(&self.ingest).map_err(io_err("read", &self.ingest))?;
        Ok(rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
    }
}

/// Creates an exclusive temp file; the name carries the pid so `system check` can tell a live
/// ingest from a dead one.
fn tempfile_in(dir: &Path) -> Result<(PathBuf, File), BlobError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let p = dir.join(format!("{}-{n}-{nanos:x}", std::process::id()));
        match fs::OpenOptions::new().write(true).create_new(true).open(&p) {
            Ok(f) => return Ok((p, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(io_err("create", &p)(e)),
        }
    }
}

/// A blob being written. Dropping it without `commit` removes the temp file.
pub struct BlobWriter {
    store: BlobStore,
    inner: Option<Hashing<BufWriter<File>>>,
    tmp_path: PathBuf,
}

impl BlobWriter {
    /// Where the blob is being written (for messages).
    pub fn path(&self) -> &Path {
        &self.tmp_path
    }

    pub fn written(&self) -> u64 {
        self.inner.as_ref().map(|h| h.count()).unwrap_or(0)
    }

    /// Verifies, fsyncs and renames into place.
    pub fn commit(mut self, expected: Option<&Digest>) -> Result<Ingested, BlobError> {
        let h = self.inner.take().expect("commit once");
        let (buf, digest, size) = h.finish();
        if let Some(e) = expected {
            if *e != digest {
                return Err(BlobError::DigestMismatch(e.clone(), digest));
            }
        }
        let target = self.store.path(&digest);
        if target.exists() {
            return Ok(Ingested { digest, size, created: false });
        }
        let file = buf.into_inner().map_err(|e| io_err("write", &self.tmp_path)(e.into_error()))?;
        file.sync_all().map_err(io_err("fsync", &self.tmp_path))?;
        drop(file);
        fs::rename(&self.tmp_path, &target).map_err(io_err("rename", &target))?;
        Ok(Ingested { digest, size, created: true })
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.as_mut().expect("not committed").write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.as_mut().expect("not committed").flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        // After a successful rename the temp path is gone; otherwise clean up.
        let _ = fs::remove_file(&self.tmp_path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingest_verifies_and_is_idempotent() {
        let t = tempfile::tempdir().unwrap();
        let s = BlobStore::open(t.path()).unwrap();
        let a = s.put(b"abc", None).unwrap();
        assert!(a.created);
        assert_eq!(s.read(&a.digest).unwrap(), b"abc");
        assert!(!s.put(b"abc", None).unwrap().created);
        let wrong = Digest::of(b"x");
        assert!(matches!(s.put(b"abc2", Some(&wrong)), Err(BlobError::DigestMismatch(..))));
        assert!(s.list_ingest().unwrap().is_empty(), "failed ingest left a temp file");
        assert_eq!(s.list().unwrap().blobs.len(), 1);
    }

    #[test]
    fn dropped_writer_leaves_nothing() {
        let t = tempfile::tempdir().unwrap();
        let s = BlobStore::open(t.path()).unwrap();
        let mut w = s.writer().unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        assert!(s.list_ingest().unwrap().is_empty());
        assert!(s.list().unwrap().blobs.is_empty());
    }
}
