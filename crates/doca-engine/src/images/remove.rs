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
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    pub fn remove_image(&mut self, req: &RemoveImage) -> Result<Vec<RemoveEvent>, EngineError> {
        let events = self.remove_image_inner(req)?;
        for ev in &events {
            match ev {
                RemoveEvent::Untagged(t) => self.emit("image", "untag", t, &[("name", t)]),
                RemoveEvent::Deleted(d) => self.emit("image", "delete", d.as_str(), &[("name", d.as_str())]),
            }
        }
        Ok(events)
    }

    fn remove_image_inner(&mut self, req: &RemoveImage) -> Result<Vec<RemoveEvent>, EngineError> {
        let resolved = self.resolve_image(&req.name)?;
        let id = resolved.image.id.clone();
        let mut events = Vec::new();
        // Containers keep their image: docker's conflicts (daemon/images/image_delete.go).
        let users = self.image_users(&id)?;
        if let Some((cid, running)) = users.first() {
            let last_tag = self.store.db.read(|tx| tx.tags_of(&id))?.len() <= 1;
            let what = if *running { "running" } else { "stopped" };
            match &resolved.by_tag {
                // docker names the reference as it was typed (image_delete.go).
                Some(_) if last_tag && !req.force => {
                    return Err(EngineError::Conflict(format!(
                    "conflict: unable to remove repository reference \"{}\" (must force) - container {} is using its referenced image {}",
                    req.name,
                    &cid[..12],
                    id.short()
                )))
                }
                None if *running => {
                    return Err(EngineError::Conflict(format!(
                        "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                        id.short(),
                        &cid[..12]
                    )))
                }
                None if !req.force => {
                    return Err(EngineError::Conflict(format!(
                        "conflict: unable to delete {} (must be forced) - image is being used by {what} container {}",
                        id.short(),
                        &cid[..12]
                    )))
                }
                _ => {}
            }
        }
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

    /// The containers made from `id`, with whether each is running.
    fn image_users(&mut self, id: &Digest) -> Result<Vec<(String, bool)>, EngineError> {
        let ids = self.store.db.read(|tx| tx.containers_of_image(id))?;
        let mut out = Vec::new();
        for cid in ids {
            if let Ok(c) = self.container(&cid) {
                out.push((cid, c.state.status.is_live()));
            }
        }
        Ok(out)
    }

    /// Deletes an image record and its tags in one transaction, then releases its content.
    /// Returns the events and the bytes freed on disk.
    pub(crate) fn delete_image(&mut self, id: &Digest) -> Result<(Vec<RemoveEvent>, u64), EngineError> {
        let (row, layers) = self.store.db.read(|tx| Ok((tx.image(id)?, tx.layers(id)?)))?;
        let Some(row) = row else { return Ok((Vec::new(), 0)) };
        // An image a container was made from stays (untagged, when forced) until the container goes.
        if !self.image_users(id)?.is_empty() {
            return Ok((Vec::new(), 0));
        }
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
