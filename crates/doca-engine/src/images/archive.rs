//! `doca load`, `doca save` and `doca import`: the engine's side (resolving names, docker's
//! rules for which tags a save records); the formats live in doca-image.

use super::tag::parse_target;
use crate::{Engine, EngineError};
use doca_image::import::ImportRequest;
use doca_image::ingest::Committed;
use doca_image::load::LoadRequest;
use doca_image::save::SaveImage;
use doca_image::unpack::UnpackOptions;
use doca_image::Reference;
use std::io::{Read, Write};

pub struct LoadImages<'a> {
    /// How messages name the input: a path, or "stdin".
    pub archive: String,
    pub input: Box<dyn Read + 'a>,
}

pub struct SaveImages<'a> {
    pub names: Vec<String>,
    pub output: Box<dyn Write + 'a>,
    pub archive: String,
}

pub struct ImportImage<'a> {
    pub source: String,
    pub input: Box<dyn Read + 'a>,
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub reference: Option<String>,
}

impl Engine {
    pub fn load_images(&mut self, req: LoadImages) -> Result<Vec<Committed>, EngineError> {
        let report = doca_image::load::load(
            &mut self.store,
            LoadRequest { archive: req.archive, input: req.input, unpack: UnpackOptions::default(), now: crate::now().unix_timestamp() },
        )?;
        for i in &report.images {
            let name = i.tags.first().map(|t| t.familiar()).unwrap_or_else(|| i.id.to_string());
            self.emit("image", "load", i.id.as_str(), &[("name", &name)]);
        }
        Ok(report.images)
    }

    pub fn import_image(&mut self, req: ImportImage) -> Result<Committed, EngineError> {
        let tag = req.reference.as_deref().map(parse_target).transpose()?;
        let done = doca_image::import::import(
            &mut self.store,
            ImportRequest {
                source: req.source,
                input: req.input,
                changes: req.changes,
                message: req.message,
                tag,
                now: crate::now(),
                unpack: UnpackOptions::default(),
            },
        )?;
        let name = done.tags.first().map(|t| t.familiar()).unwrap_or_else(|| done.id.to_string());
        self.emit("image", "import", done.id.as_str(), &[("name", &name)]);
        Ok(done)
    }

    /// Docker's rules: `name:tag` records that tag; a bare repository name records every tag
    /// of that repository; an id records none.
    pub fn save_images(&mut self, req: SaveImages) -> Result<(), EngineError> {
        let mut images: Vec<SaveImage> = Vec::new();
        let mut add = |id: doca_store::Digest, tag: Option<Reference>| {
            let i = match images.iter().position(|s| s.id == id) {
                Some(i) => i,
                None => {
                    images.push(SaveImage { id, tags: Vec::new() });
                    images.len() - 1
                }
            };
            if let Some(t) = tag {
                if !images[i].tags.contains(&t) {
                    images[i].tags.push(t);
                }
            }
        };
        for name in &req.names {
            if let Ok(r) = Reference::parse(name) {
                if r.tag().is_none() && r.digest().is_none() {
                    let prefix = format!("{}:", r.name());
                    let tags = self.store.db.read(|tx| tx.tags())?;
                    let mut hits: Vec<_> = tags.into_iter().filter(|(n, _, _)| n.starts_with(&prefix)).collect();
                    hits.sort();
                    if !hits.is_empty() {
                        for (n, id, _) in hits {
                            add(id, Reference::parse(&n).ok());
                        }
                        continue;
                    }
                }
            }
            let resolved = self.resolve_image(name)?;
            add(resolved.image.id, resolved.by_tag);
        }
        let mut out = req.output;
        doca_image::save::save(&mut self.store, &images, &mut out, &req.archive)?;
        Ok(())
    }
}
