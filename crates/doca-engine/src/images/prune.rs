//! `doca image prune`: removes dangling images (no tag), or with `all` every image no container
//! uses, then reports the bytes freed on disk.

use super::filter::ImageFilter;
use super::{ListImages, RemoveEvent};
use crate::{Engine, EngineError};

#[derive(Debug, Clone, Default)]
pub struct PruneImages {
    pub all: bool,
    /// Only `label=` filters apply to prune.
    pub filters: Vec<ImageFilter>,
}

#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub events: Vec<RemoveEvent>,
    pub reclaimed: u64,
}

impl Engine {
    pub fn prune_images(&mut self, req: &PruneImages) -> Result<PruneReport, EngineError> {
        let mut filters = Vec::new();
        for f in &req.filters {
            match f {
                ImageFilter::Label { .. } => filters.push(f.clone()),
                _ => return Err(EngineError::InvalidArgument("image prune accepts only label= filters".into())),
            }
        }
        if !req.all {
            filters.push(ImageFilter::Dangling(true));
        }
        // Images containers use stay (delete_image checks); the build cache's intermediate
        // images are left to `builder prune`.
        let victims = self.list_images(&ListImages { all: false, filters })?;
        let mut r = PruneReport::default();
        for img in victims {
            r.events.extend(img.repo_tags.iter().map(|t| RemoveEvent::Untagged(t.clone())));
            let (events, bytes) = self.delete_image(&img.id)?;
            r.events.extend(events);
            r.reclaimed += bytes;
        }
        Ok(r)
    }
}
