//! `doca system df` and `doca system check`.

use crate::{Engine, EngineError};
pub use doca_store::check::CheckReport;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiskUsage {
    pub images: usize,
    pub images_active: usize,
    /// Bytes on disk for images: blobs (as stored) plus unpacked snapshots.
    pub images_size: u64,
    pub images_reclaimable: u64,
}

impl Engine {
    pub fn disk_usage(&mut self) -> Result<DiskUsage, EngineError> {
        let (images, snaps) = self.store.db.read(|tx| Ok((tx.images()?.len(), tx.snapshots()?)))?;
        let blobs = self.store.blobs.list()?.blobs;
        let size = blobs.iter().map(|(_, s)| *s).sum::<u64>() + snaps.iter().map(|s| s.size as u64).sum::<u64>();
        // No container uses an image yet (containers come with the runtime): all is reclaimable.
        Ok(DiskUsage { images, images_active: 0, images_size: size, images_reclaimable: size })
    }

    pub fn check_store(&mut self, repair: bool) -> Result<CheckReport, EngineError> {
        Ok(self.store.check(repair)?)
    }
}
