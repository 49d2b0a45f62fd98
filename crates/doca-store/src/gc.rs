//! Garbage collection: removes every blob and snapshot that no image references, and the
//! leftovers of processes that died mid-write. Runs under the exclusive store lock, so no
//! ingest is between writing content and recording it.

use crate::snapshots::{remove_tree, Entry};
use crate::{LockMode, Store, StoreError};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct GcReport {
    pub blobs_removed: usize,
    pub snapshots_removed: usize,
    pub leftovers_removed: usize,
    /// Bytes freed on disk.
    pub reclaimed: u64,
    /// Chain ids of the snapshots removed (docker prints them as deleted layers).
    pub removed_snapshots: Vec<crate::Digest>,
}

impl Store {
    pub fn gc(&mut self) -> Result<GcReport, StoreError> {
        let _lock = self.lock(LockMode::Exclusive)?;
        self.gc_locked()
    }

    /// GC for a caller that already holds the exclusive lock.
    pub fn gc_locked(&mut self) -> Result<GcReport, StoreError> {
        let (blobs, snaps) = self.db.read(|tx| Ok((tx.referenced_blobs()?, tx.referenced_snapshots()?)))?;
        let mut r = GcReport::default();
        let listing = self.blobs.list()?;
        for (d, size) in listing.blobs {
            if !blobs.contains(&d) {
                self.blobs.remove(&d)?;
                r.blobs_removed += 1;
                r.reclaimed += size;
            }
        }
        for p in listing.junk.into_iter().chain(self.blobs.list_ingest()?) {
            r.reclaimed += crate::snapshots::disk_usage(&p);
            let _ = std::fs::remove_file(&p);
            r.leftovers_removed += 1;
        }
        let mut gone = Vec::new();
        for e in self.snapshots.list()? {
            match e {
                Entry::Snapshot(id) if !snaps.contains(&id) => {
                    r.reclaimed += self.snapshots.disk_usage(&id);
                    self.snapshots.remove(&id)?;
                    r.snapshots_removed += 1;
                    gone.push(id);
                }
                Entry::Snapshot(_) => {}
                Entry::Leftover(p) => {
                    r.reclaimed += crate::snapshots::disk_usage(&p);
                    if p.is_dir() {
                        remove_tree(&p)?;
                    } else {
                        let _ = std::fs::remove_file(&p);
                    }
                    r.leftovers_removed += 1;
                }
            }
        }
        // Rows for snapshots nobody references (the directory may already be gone).
        self.db.write(|tx| {
            for s in tx.snapshots()? {
                if !snaps.contains(&s.chain_id) {
                    tx.delete_snapshot_row(&s.chain_id)?;
                }
            }
            Ok(())
        })?;
        r.removed_snapshots = gone;
        Ok(r)
    }
}

impl Store {
    /// Removes those of `blobs` and `snapshots` that no image references any more (after an
    /// image was deleted): a targeted GC that does not list the whole store.
    pub fn release(&mut self, blobs: &[crate::Digest], snapshots: &[crate::Digest]) -> Result<GcReport, StoreError> {
        let _lock = self.lock(LockMode::Exclusive)?;
        let (ref_blobs, ref_snaps) = self.db.read(|tx| Ok((tx.referenced_blobs()?, tx.referenced_snapshots()?)))?;
        let mut r = GcReport::default();
        for d in blobs {
            if !ref_blobs.contains(d) {
                if let Ok(size) = self.blobs.size(d) {
                    self.blobs.remove(d)?;
                    r.blobs_removed += 1;
                    r.reclaimed += size;
                }
            }
        }
        let mut gone = Vec::new();
        for c in snapshots {
            if !ref_snaps.contains(c) && !gone.contains(c) {
                let size = self.db.read(|tx| tx.snapshot(c))?.map(|s| s.size as u64).unwrap_or(0);
                self.snapshots.remove(c)?;
                r.snapshots_removed += 1;
                r.reclaimed += size;
                gone.push(c.clone());
            }
        }
        self.db.write(|tx| {
            for c in &gone {
                tx.delete_snapshot_row(c)?;
            }
            Ok(())
        })?;
        r.removed_snapshots = gone;
        Ok(r)
    }
}
