//! The build cache: step keys → the images they made (`build_cache`), the stat cache of context
//! files (`build_files`), and the directories of `RUN --mount=type=cache`. `doca builder
//! prune` removes them; an intermediate image goes with its last cache entry unless it is
//! tagged or a container uses it.

use crate::{Engine, EngineError};

#[derive(Debug, Clone, Default)]
pub struct BuilderPrune {
    /// `-a`: also the `RUN --mount=type=cache` directories.
    pub all: bool,
    /// `--filter until=`: only entries not used since this time (unix seconds).
    pub until: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct BuilderPruneReport {
    pub deleted: Vec<doca_store::Digest>,
    pub reclaimed: u64,
}

impl Engine {
    pub fn prune_build_cache(&mut self, req: &BuilderPrune) -> Result<BuilderPruneReport, EngineError> {
        let entries = self.store.db.read(|tx| tx.build_cache_images())?;
        let mut report = BuilderPruneReport::default();
        for (image, used) in entries {
            if req.until.is_some_and(|until| used >= until) {
                continue;
            }
            let tagged = self.store.db.write(|tx| {
                tx.build_cache_forget(&image)?;
                Ok(!tx.tags_of(&image)?.is_empty())
            })?;
            if !tagged {
                let (events, bytes) = self.delete_image(&image)?;
                if !events.is_empty() {
                    report.deleted.push(image);
                }
                report.reclaimed += bytes;
            }
        }
        if req.until.is_none() {
            self.store.db.write(|tx| tx.clear_build_files())?;
        }
        if req.all {
            let dir = super::cache_mounts_dir(&self.config().root);
            report.reclaimed += crate::containers::list::dir_size(&dir);
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok(report)
    }

    /// What the build cache holds: (intermediate images, bytes of the cache mounts).
    pub fn build_cache_usage(&mut self) -> Result<(usize, u64), EngineError> {
        let entries = self.store.db.read(|tx| tx.build_cache_images())?;
        let dir = super::cache_mounts_dir(&self.config().root);
        Ok((entries.len(), crate::containers::list::dir_size(&dir)))
    }

    /// The unpacked size of the layers that only untagged intermediate images add (each
    /// image's last layer, counted once).
    pub(crate) fn build_cache_layers_size(&mut self) -> Result<u64, EngineError> {
        Ok(self.store.db.read(|tx| {
            let mut chains = std::collections::HashSet::new();
            let mut total = 0u64;
            for (id, _) in tx.build_cache_images()? {
                if !tx.tags_of(&id)?.is_empty() {
                    continue;
                }
                if let Some(top) = tx.layers(&id)?.pop() {
                    if chains.insert(top.chain_id.clone()) {
                        total += tx.snapshot(&top.chain_id)?.map(|s| s.size.max(0) as u64).unwrap_or(0);
                    }
                }
            }
            Ok(total)
        })?)
    }
}
