//! `doca rmi`: untag or delete, as docker decides (daemon/images/image_delete.go):
//! by tag, untag that tag and delete the image when it was the last; by id, delete the image
//! and all its tags, refusing without `force` when the tags span several repositories.

use crate::{Engine, EngineError};
use doca_image::Reference;
use doca_store::Digest;

#[derive(Debug, Clone, Default)]
pub struct RemoveImage {
    pub name: String,
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveEvent {
    Untagged(String),
    Deleted(Digest),
}

impl Engine {
    pub fn remove_image(&mut self, req: &RemoveImage) -> Result<Vec<RemoveEvent>, EngineError> {
        let resolved = self.resolve_image(&req.name)?;
        let id = resolved.image.id.clone();
        let mut events = Vec::new();
        if let Some(tag) = resolved.by_tag {
            let left = self.store.db.write(|tx| {
                tx.remove_tag(&tag.to_string())?;
                Ok(tx.tags_of(&id)?.len())
            })?;
            events.push(RemoveEvent::Untagged(tag.familiar()));
            if left > 0 {
                return Ok(events);
            }
        } else {
            let tags: Vec<Reference> = self.store.db.read(|tx| tx.tags_of(&id))?.iter().filter_map(|t| Reference::parse(t).ok()).collect();
            let mut repos: Vec<String> = tags.iter().map(|t| t.name()).collect();
            repos.dedup();
            repos.sort();
            repos.dedup();
            if repos.len() > 1 && !req.force {
                return Err(EngineError::MultipleRepositories { short: id.short().to_string() });
            }
            events.extend(tags.iter().map(|t| RemoveEvent::Untagged(t.familiar())));
        }
        events.extend(self.delete_image(&id)?.0);
        Ok(events)
    }

    /// Deletes an image record and its tags in one transaction, then releases its content.
    /// Returns the events and the bytes freed on disk.
    pub(crate) fn delete_image(&mut self, id: &Digest) -> Result<(Vec<RemoveEvent>, u64), EngineError> {
        let (row, layers) = self.store.db.read(|tx| Ok((tx.image(id)?, tx.layers(id)?)))?;
        let Some(row) = row else { return Ok((Vec::new(), 0)) };
        self.store.db.write(|tx| tx.delete_image(id))?;
        let mut blobs = vec![row.id.clone(), row.manifest.clone()];
        blobs.extend(layers.iter().map(|l| l.blob.clone()));
        let chains: Vec<Digest> = layers.iter().rev().map(|l| l.chain_id.clone()).collect();
        let released = self.store.release(&blobs, &chains)?;
        let mut events = vec![RemoveEvent::Deleted(id.clone())];
        events.extend(released.removed_snapshots.into_iter().map(RemoveEvent::Deleted));
        Ok((events, released.reclaimed))
    }
}
