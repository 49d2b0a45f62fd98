//! `doca image prune`: removes dangling images (no tag), or with `all` every image no container
//! uses, then reports the bytes freed on disk.

use super::filter::ImageFilter;
use super::{ListImages, RemoveEvent};
use crate::{Engine, EngineError};

#[derive(Debug, Clone, Default)]
pub struct PruneImages {
    pub all: bool,
    pub filters: crate::prune::PruneFilters,
}

#[derive(Debug, Clone, Default)]
pub struct PruneReport {
    pub events: Vec<RemoveEvent>,
    pub reclaimed: u64,
}

impl Engine {
    pub fn prune_images(&mut self, req: &PruneImages) -> Result<PruneReport, EngineError> {
        let filters = if req.all { Vec::new() } else { vec![ImageFilter::Dangling(true)] };
        // Images containers use stay (delete_image checks); the build cache's intermediate
        // images are left to `builder prune`.
        let mut victims = self.list_images(&ListImages { all: false, filters })?;
        victims.retain(|i| {
            let labels = i.labels.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect();
            req.filters.allows(&i.created, &labels)
        });
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
