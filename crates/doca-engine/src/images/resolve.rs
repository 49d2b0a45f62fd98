//! Finding an image by what a user typed, in docker's order: a full `sha256:` id, a tag
//! (`busybox` means `busybox:latest`), a `name@digest`, then a short id prefix.

use crate::{Engine, EngineError};
use doca_image::Reference;
use doca_store::{Digest, ImageRow};

#[derive(Debug, Clone)]
pub struct Resolved {
    pub image: ImageRow,
    /// The tag the user named, when the image was found by tag (rmi untags just that).
    pub by_tag: Option<Reference>,
    /// The `repository@digest` reference the user named (its key in the store), when the
    /// image was found by one.
    pub by_digest: Option<String>,
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Engine {
    pub fn resolve_image(&mut self, input: &str) -> Result<Resolved, EngineError> {
        let not_found = || EngineError::NoSuchImage(input.to_string());
        if let Some(hex) = input.strip_prefix("sha256:") {
            if !is_hex(hex) || hex.len() > 64 {
                return Err(not_found());
            }
            return self.by_prefix(input, hex).map(|image| Resolved { image, by_tag: None, by_digest: None });
        }
        if let Ok(r) = Reference::parse(input) {
            if let Some(digest) = r.digest() {
                let key = format!("{}@{digest}", r.name());
                if let Some(id) = self.store.db.read(|tx| tx.repo_digest_target(&key))? {
                    let image = self.store.db.read(|tx| tx.image(&id))?.ok_or_else(not_found)?;
                    return Ok(Resolved { image, by_tag: None, by_digest: Some(key) });
                }
            } else {
                let tagged = r.with_tag(r.tag().unwrap_or("latest"));
                if let Some(id) = self.store.db.read(|tx| tx.tag_target(&tagged.to_string()))? {
                    let image = self.store.db.read(|tx| tx.image(&id))?.ok_or_else(not_found)?;
                    return Ok(Resolved { image, by_tag: Some(tagged), by_digest: None });
                }
            }
        }
        if is_hex(input) && input.len() <= 64 {
            return self.by_prefix(input, input).map(|image| Resolved { image, by_tag: None, by_digest: None });
        }
        Err(not_found())
    }

    fn by_prefix(&mut self, input: &str, hex: &str) -> Result<ImageRow, EngineError> {
        let mut found = self.store.db.read(|tx| tx.images_by_prefix(hex))?;
        match found.len() {
            0 => Err(EngineError::NoSuchImage(input.to_string())),
            1 => Ok(found.remove(0)),
            _ => Err(EngineError::AmbiguousPrefix(hex.to_string())),
        }
    }

    /// Familiar tags (`busybox:latest`) of an image, sorted.
    pub(crate) fn familiar_tags(&mut self, id: &Digest) -> Result<Vec<String>, EngineError> {
        let tags = self.store.db.read(|tx| tx.tags_of(id))?;
        Ok(tags.iter().filter_map(|t| Reference::parse(t).ok()).map(|r| r.familiar()).collect())
    }
}

/// `docker.io/library/busybox@sha256:...` → `busybox@sha256:...`, as docker prints RepoDigests.
pub(crate) fn familiar_repo_digest(d: &str) -> String {
    d.split_once('@')
        .and_then(|(n, dg)| Reference::parse(n).ok().map(|r| format!("{}@{dg}", r.familiar_name())))
        .unwrap_or_else(|| d.to_string())
}
