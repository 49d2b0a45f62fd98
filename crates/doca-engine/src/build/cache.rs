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
            let dir = self.config().root.join("build").join("cache");
            report.reclaimed += crate::containers::list::dir_size(&dir);
            let _ = std::fs::remove_dir_all(&dir);
        }
        Ok(report)
    }

    /// What the build cache holds: (entries, bytes of their images' own layers on disk).
    pub fn build_cache_usage(&mut self) -> Result<(usize, u64), EngineError> {
        let entries = self.store.db.read(|tx| tx.build_cache_images())?;
        let dir = self.config().root.join("build").join("cache");
        Ok((entries.len(), crate::containers::list::dir_size(&dir)))
    }
}
