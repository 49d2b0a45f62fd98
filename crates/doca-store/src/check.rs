//! `doca system check`: verifies that every image's content is present and intact, and finds
//! what is dangling. Problems are referenced content that is missing or corrupt (the store is
//! inconsistent); dangling content is garbage a killed process left (the store is consistent,
//! `--repair` reclaims it).

use crate::digest::{Digest, Hashing};
use crate::snapshots::Entry;
use crate::{LockMode, Store, StoreError};
use std::collections::HashSet;
use std::io;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub images: usize,
    pub blobs: usize,
    pub snapshots: usize,
    /// Referenced content that is missing or corrupt.
    pub problems: Vec<String>,
    /// Unreferenced content and leftovers.
    pub dangling: Vec<String>,
    /// Filled in by `--repair`.
    pub repaired: Option<crate::gc::GcReport>,
}

impl Store {
    pub fn check(&mut self, repair: bool) -> Result<CheckReport, StoreError> {
        // Exclusive: a concurrent ingest would look dangling mid-flight.
        let _lock = self.lock(LockMode::Exclusive)?;
        let mut r = CheckReport::default();
        let (images, layers, snap_rows, blobs_ref, snaps_ref) = self.db.read(|tx| {
            let images = tx.images()?;
            let mut layers = Vec::new();
            for i in &images {
                layers.push(tx.layers(&i.id)?);
            }
            Ok((images, layers, tx.snapshots()?, tx.referenced_blobs()?, tx.referenced_snapshots()?))
        })?;
        r.images = images.len();
        let snap_known: HashSet<Digest> = snap_rows.iter().map(|s| s.chain_id.clone()).collect();

        let listing = self.blobs.list()?;
        let (on_disk, junk) = (listing.blobs, listing.junk);
        r.blobs = on_disk.len();
        let present: HashSet<Digest> = on_disk.iter().map(|(d, _)| d.clone()).collect();
        let mut corrupt = HashSet::new();
        for (d, _) in &on_disk {
            match self.verify_blob(d) {
                Ok(actual) if actual == *d => {}
                Ok(actual) => {
                    corrupt.insert(d.clone());
                    let msg = format!("blob {d}: content hashes to {actual}");
                    if blobs_ref.contains(d) {
                        r.problems.push(msg);
                    } else {
                        r.dangling.push(msg);
                    }
                }
                Err(e) => r.problems.push(format!("blob {d}: {e}")),
            }
        }
        for p in junk.iter().chain(self.blobs.list_ingest()?.iter()) {
            r.dangling.push(format!("leftover {}", p.display()));
        }
        for (img, ls) in images.iter().zip(&layers) {
            for (what, d) in [("config", &img.id), ("manifest", &img.manifest)] {
                if !present.contains(d) {
                    r.problems.push(format!("image {}: {what} blob {d} is missing", img.id));
                }
            }
            for l in ls {
                if !present.contains(&l.blob) {
                    r.problems.push(format!("image {}: layer blob {} is missing", img.id, l.blob));
                }
                if !self.snapshots.exists(&l.chain_id) {
                    r.problems.push(format!("image {}: snapshot {} is missing", img.id, l.chain_id));
                } else if !snap_known.contains(&l.chain_id) {
                    r.problems.push(format!("image {}: snapshot {} has no metadata", img.id, l.chain_id));
                }
            }
        }
        for e in self.snapshots.list()? {
            match e {
                Entry::Snapshot(id) => {
                    r.snapshots += 1;
                    if !snaps_ref.contains(&id) {
                        r.dangling.push(format!("snapshot {id} is not used by any image"));
                    }
                }
                Entry::Leftover(p) => r.dangling.push(format!("leftover {}", p.display())),
            }
        }
        for (d, _) in &on_disk {
            if !blobs_ref.contains(d) && !corrupt.contains(d) {
                r.dangling.push(format!("blob {d} is not used by any image"));
            }
        }
        for s in &snap_rows {
            if !snaps_ref.contains(&s.chain_id) {
                r.dangling.push(format!("snapshot record {} is not used by any image", s.chain_id));
            }
        }
        if repair {
            r.repaired = Some(self.gc_locked()?);
        }
        Ok(r)
    }

    fn verify_blob(&self, d: &Digest) -> io::Result<Digest> {
        let f = self.blobs.open_blob(d).map_err(io::Error::other)?;
        let mut h = Hashing::new(f);
        io::copy(&mut h, &mut io::sink())?;
        Ok(h.finish().1)
    }
}
