//! doca's content store: blobs by digest, layer snapshots, SQLite metadata, locks and GC.
//! See ARCHITECTURE.md for the on-disk layout and the crash-safety argument.

#![forbid(unsafe_code)]

pub mod blobs;
pub mod check;
pub mod db;
pub mod digest;
pub mod gc;
pub mod lock;
pub mod snapshots;

pub use blobs::{BlobError, BlobListing, BlobStore, BlobWriter, Ingested};
pub use db::{ContainerRow, Db, DbError, EndpointRow, ImageRow, LayerRow, NetworkRow, SnapshotRow, Tx, VolumeRow};
pub use digest::{chain_ids, Digest, DigestError, Hashing};
pub use lock::{LockMode, StoreLock};
pub use snapshots::{SnapshotError, Snapshots, TempSnapshot};

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{op} {path}: {source}")]
    Io { op: &'static str, path: PathBuf, source: std::io::Error },
    #[error("the store's database {0} is missing or empty while the store still holds images, layers, containers or volumes: refusing to start an empty one (restore doca.db from a backup, or move the store away)")]
    LostDatabase(PathBuf),
}

/// One open store root. Cheap to open; every CLI call opens its own.
pub struct Store {
    root: PathBuf,
    pub blobs: BlobStore,
    pub snapshots: Snapshots,
    pub db: Db,
}

impl Store {
    pub fn open(root: &Path) -> Result<Self, StoreError> {
        private_root(root)?;
        refuse_lost_database(root)?;
        // Created private before SQLite opens it: SQLite gives its -wal and -shm files the
        // database's own mode.
        let db = root.join("doca.db");
        std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&db).map_err(|source| StoreError::Io {
            op: "create",
            path: db.clone(),
            source,
        })?;
        Ok(Store {
            root: root.to_path_buf(),
            blobs: BlobStore::open(root)?,
            snapshots: Snapshots::open(root)?,
            db: Db::open(&root.join("doca.db"))?,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Taken shared by anything that writes content before recording it, exclusive by GC.
    pub fn lock(&self, mode: LockMode) -> Result<StoreLock, StoreError> {
        let path = self.root.join("store.lock");
        StoreLock::acquire(&path, mode).map_err(|source| StoreError::Io { op: "lock", path, source })
    }
}

/// Makes `dir` (and its missing parents) private to its owner, 0700: a store holds other
/// containers' files, setuid binaries they made and `-e` secrets, none of them any local
/// user's to read, run or lock (the class of CVE-2021-41091). A directory made wider (by an
/// older doca, a restored backup) is made private again.
pub fn private_root(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let io = |op: &'static str| move |source| StoreError::Io { op, path: dir.to_path_buf(), source };
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io("create"))?;
    let m = std::fs::metadata(dir).map_err(io("stat"))?;
    // Execute-only for others (0711) is kept: the run root is made so for containers with a
    // user namespace, whose root (another uid on the host) must reach its own directory in it
    // (doca-engine containers/userns.rs); nobody may list or write it.
    if m.permissions().mode() & 0o066 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io("chmod"))?;
    }
    Ok(())
}

/// A store whose database is gone (missing or emptied) while its content is still there is
/// not a new store: opening it would start an empty database, after which every blob looks
/// dangling and `system check --repair` would delete all of it. Refused, loudly.
fn refuse_lost_database(root: &Path) -> Result<(), StoreError> {
    let db = root.join("doca.db");
    let lost = match std::fs::metadata(&db) {
        Ok(m) => m.len() == 0,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(source) => return Err(StoreError::Io { op: "stat", path: db, source }),
    };
    let has_entries = |d: &str| {
        std::fs::read_dir(root.join(d)).is_ok_and(|mut it| it.any(|e| e.is_ok_and(|e| !e.file_name().to_string_lossy().starts_with('.'))))
    };
    if lost && (has_entries("blobs/sha256") || has_entries("snapshots") || has_entries("containers") || has_entries("volumes")) {
        return Err(StoreError::LostDatabase(db));
    }
    Ok(())
}
