//! `doca rmi`: untag or delete, as docker decides (daemon/images/image_delete.go): by a name
//! (a tag or a `repository@digest`), untag that name, and the repository's digest names with
//! its last tag, and delete the image when no name is left; by id, delete the image and all its
//! names, refusing without `force` when they span several repositories.

use crate::{Engine, EngineError};
use doca_image::Reference;
use doca_store::Digest;

#[derive(Debug, Clone, Default)]
pub struct RemoveImage {
    pub name: String,
    pub force: bool,
}

/// A name an image is known by: a tag or a `repository@digest`, by its key in the store.
#[derive(Debug, Clone)]
struct NamedRef {
    key: String,
    repo: String,
    digest: bool,
}

impl NamedRef {
    /// As docker prints it (`busybox:latest`, `busybox@sha256:...`).
    fn familiar(&self) -> String {
        if self.digest {
            super::resolve::familiar_repo_digest(&self.key)
        } else {
            Reference::parse(&self.key).map(|r| r.familiar()).unwrap_or_else(|_| self.key.clone())
        }
    }
}

/// docker's isSingleReference (image_delete.go): every name in one repository, with at most
/// one tag. False for no names at all.
fn is_single_reference(refs: &[NamedRef]) -> bool {
    let tags: Vec<&NamedRef> = refs.iter().filter(|r| !r.digest).collect();
    match (refs.len(), tags.as_slice()) {
        (0, _) => false,
        (1, _) => true,
        (_, [_, _, ..]) => false,
        (_, [tag]) => refs.iter().all(|r| r.repo == tag.repo),
        (_, []) => refs.iter().all(|r| r.repo == refs[0].repo),
    }
}

/// The container that keeps image `id` from being deleted: a running one always, a stopped one
/// unless forced (docker's hard and soft conflicts).
fn use_conflict(id: &Digest, users: &[(String, bool)], force: bool) -> Option<EngineError> {
    let (cid, running) = users.iter().find(|(_, running)| *running).or_else(|| users.first().filter(|_| !force))?;
    let (how, state) = if *running { ("cannot be forced", "running") } else { ("must be forced", "stopped") };
    Some(EngineError::Conflict(format!(
        "conflict: unable to delete {} ({how}) - image is being used by {state} container {}",
        id.short(),
        &cid[..12]
    )))
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
        let mut refs = self.refs_of(&id)?;
        let users = self.image_users(&id)?;
        let mut events = Vec::new();
        let named = match (&resolved.by_tag, &resolved.by_digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, Some(key)) => Some(key.clone()),
            (None, None) => None,
        };
        let mut untagged_last_name = false;
        if let Some(key) = named {
            // A name was given: it goes first, unless it is the image's last name and a
            // container uses the image (which would leave it dangling).
            if !req.force && is_single_reference(&refs) {
                if let Some((cid, _)) = users.first() {
                    return Err(EngineError::Conflict(format!(
                        "conflict: unable to remove repository reference \"{}\" (must force) - container {} is using its referenced image {}",
                        req.name,
                        &cid[..12],
                        id.short()
                    )));
                }
            }
            let pos = refs.iter().position(|r| r.key == key).ok_or_else(|| EngineError::NoSuchImage(req.name.clone()))?;
            let gone = refs.remove(pos);
            self.untag(&gone)?;
            events.push(RemoveEvent::Untagged(gone.familiar()));
            // A tag's repository keeps no digest references of its own once its last tag is
            // gone (they would list as REPO <none>).
            if !gone.digest && !refs.iter().any(|r| !r.digest && r.repo == gone.repo) {
                for r in refs.iter().filter(|r| r.digest && r.repo == gone.repo) {
                    self.untag(r)?;
                    events.push(RemoveEvent::Untagged(r.familiar()));
                }
                refs.retain(|r| !(r.digest && r.repo == gone.repo));
            }
            if !refs.is_empty() {
                return Ok(events);
            }
            untagged_last_name = true;
        } else if is_single_reference(&refs) {
            // By id, an image with one tag (and that repository's digests) loses them all,
            // once no container stands in the way.
            if let Some(e) = use_conflict(&id, &users, req.force) {
                return Err(e);
            }
            for r in refs.drain(..) {
                self.untag(&r)?;
                events.push(RemoveEvent::Untagged(r.familiar()));
            }
        }
        let running = users.iter().any(|(_, running)| *running);
        // Once its last name went, an image a container uses stays, dangling, without an
        // error (docker's "quiet" delete), unless forced with only stopped containers on it.
        if untagged_last_name && !users.is_empty() && (running || !req.force) {
            return Ok(events);
        }
        // docker's conflicts, in its order (checkImageDeleteConflict): a running container,
        // then (unless forced) names in other repositories, then a stopped container.
        if let Some(e) = use_conflict(&id, &users, true) {
            return Err(e);
        }
        if !req.force && !refs.is_empty() {
            return Err(EngineError::MultipleRepositories { short: id.short().to_string() });
        }
        if let Some(e) = use_conflict(&id, &users, req.force) {
            return Err(e);
        }
        for r in refs {
            self.untag(&r)?;
            events.push(RemoveEvent::Untagged(r.familiar()));
        }
        // Forced, with stopped containers on it: docker deletes the image and keeps its layers
        // under the containers. doca hides it from every name and listing and deletes it with
        // its last container (which still needs its config and layers to start).
        if !users.is_empty() {
            self.store.db.write(|tx| tx.mark_image_removed(&id))?;
            events.push(RemoveEvent::Deleted(id.clone()));
            return Ok(events);
        }
        events.extend(self.delete_image(&id)?.0);
        Ok(events)
    }

    /// Every name of image `id`: its tags, then its `repository@digest` references.
    fn refs_of(&mut self, id: &Digest) -> Result<Vec<NamedRef>, EngineError> {
        let (tags, digests) = self.store.db.read(|tx| Ok((tx.tags_of(id)?, tx.repo_digests_of(id)?)))?;
        let named = |key: String, digest: bool| {
            let repo = Reference::parse(&key).map(|r| r.name()).unwrap_or_else(|_| key.clone());
            NamedRef { key, repo, digest }
        };
        Ok(tags.into_iter().map(|t| named(t, false)).chain(digests.into_iter().map(|d| named(d, true))).collect())
    }

    fn untag(&mut self, r: &NamedRef) -> Result<(), EngineError> {
        self.store.db.write(|tx| if r.digest { tx.remove_repo_digest(&r.key) } else { tx.remove_tag(&r.key) })?;
        Ok(())
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
