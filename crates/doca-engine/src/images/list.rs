//! `doca images`: summaries straight from the metadata database (no blob is read), so listing
//! stays fast with thousands of images.

use super::filter::{glob_match, ImageFilter};
use crate::{Engine, EngineError};
use doca_image::Reference;
use doca_store::Digest;
use std::collections::HashMap;

#[derive(Debug, Clone, Default)]
pub struct ListImages {
    /// `-a`: also intermediate images (untagged images a build made for its steps, which the
    /// build cache holds; `builder prune` removes them).
    pub all: bool,
    pub filters: Vec<ImageFilter>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ImageSummary {
    pub id: Digest,
    /// Familiar `name:tag` forms, sorted.
    pub repo_tags: Vec<String>,
    /// Familiar `name@digest` forms.
    pub repo_digests: Vec<String>,
    pub created_unix: i64,
    pub created: String,
    pub size: i64,
    pub labels: serde_json::Map<String, serde_json::Value>,
}

impl Engine {
    pub fn list_images(&mut self, req: &ListImages) -> Result<Vec<ImageSummary>, EngineError> {
        let (rows, tags, mut digests, intermediate) = self.store.db.read(|tx| {
            let rows = tx.images()?;
            let intermediate: std::collections::HashSet<Digest> =
                if req.all { Default::default() } else { tx.build_cache_images()?.into_iter().map(|(id, _)| id).collect() };
            let tags = tx.tags()?;
            let mut digests: HashMap<Digest, Vec<String>> = HashMap::new();
            for (name, id) in tx.repo_digests()? {
                digests.entry(id).or_default().push(name);
            }
            Ok((rows, tags, digests, intermediate))
        })?;
        let mut by_image: HashMap<Digest, Vec<Reference>> = HashMap::new();
        for (name, id, _) in tags {
            if let Ok(r) = Reference::parse(&name) {
                by_image.entry(id).or_default().push(r);
            }
        }
        // before= and since= compare creation times with a named image.
        let mut bounds = Vec::new();
        for f in &req.filters {
            match f {
                ImageFilter::Before(n) | ImageFilter::Since(n) => bounds.push(self.resolve_image(n)?.image.created_unix),
                _ => bounds.push(0),
            }
        }
        let mut out = Vec::new();
        'images: for row in rows {
            let mut refs = by_image.remove(&row.id).unwrap_or_default();
            let mut repo_digests: Vec<String> =
                digests.remove(&row.id).unwrap_or_default().iter().map(|d| super::resolve::familiar_repo_digest(d)).collect();
            if refs.is_empty() && intermediate.contains(&row.id) {
                continue;
            }
            refs.sort_by_key(|r| r.familiar());
            for (f, bound) in req.filters.iter().zip(&bounds) {
                let keep = match f {
                    ImageFilter::Dangling(d) => refs.is_empty() == *d,
                    ImageFilter::Label { key, value } => match (row.labels.get(key), value) {
                        (Some(v), Some(want)) => v.as_str() == Some(want.as_str()),
                        (Some(_), None) => true,
                        (None, _) => false,
                    },
                    // docker matches every name, tags and digests alike (reference.FamiliarMatch):
                    // a digest of another repository is not listed under this one's filter.
                    ImageFilter::Reference(pat) => {
                        refs.retain(|r| glob_match(pat, &r.familiar_name()) || glob_match(pat, &r.familiar()));
                        repo_digests.retain(|d| glob_match(pat, d.split_once('@').map_or(d.as_str(), |(n, _)| n)) || glob_match(pat, d));
                        !refs.is_empty() || !repo_digests.is_empty()
                    }
                    ImageFilter::Before(_) => row.created_unix < *bound,
                    ImageFilter::Since(_) => row.created_unix > *bound,
                };
                if !keep {
                    continue 'images;
                }
            }
            out.push(ImageSummary {
                id: row.id,
                repo_tags: refs.iter().map(|r| r.familiar()).collect(),
                repo_digests,
                created_unix: row.created_unix,
                created: row.created,
                size: row.size,
                labels: row.labels,
            });
        }
        // Newest first, as docker lists them; ties by id for a stable order.
        out.sort_by(|a, b| b.created_unix.cmp(&a.created_unix).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }
}
