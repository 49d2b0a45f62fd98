//! doca's content store: blobs by digest, layer snapshots, SQLite metadata, locks and GC.
//! See ARCHITECTURE.md for the on-disk layout and the crash-safety argument.

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
        std::fs::create_dir_all(root).map_err(|source| StoreError::Io { op: "create store root", path: root.to_path_buf(), source })?;
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
