//! `doca commit`: a container's changes become one more layer on its image. The layer is
//! written by the caller (the engine walks the container's writable layer) straight into a blob
//! writer, stored uncompressed so that its digest is its DiffID, as `import` stores layers.

use crate::archive::ArchiveError;
use crate::config::{rfc3339_nano, ContainerConfig, History, ImageConfig};
use crate::ingest::{Committed, IngestSession, LayerBlob, NewImage};
use crate::media;
use crate::reference::Reference;
use crate::unpack::UnpackOptions;
use doca_store::Store;
use std::io::{self, Write};

pub struct CommitRequest<'a> {
    /// The container, for messages.
    pub container: String,
    /// The image the container was made from, and its layers as its manifest names them.
    pub parent: ImageConfig,
    pub parent_layers: Vec<LayerBlob>,
    /// The new image's config (the container's, with `--change` applied).
    pub config: ContainerConfig,
    pub author: Option<String>,
    pub comment: Option<String>,
    /// The container's command, for the history entry.
    pub created_by: String,
    pub tag: Option<Reference>,
    pub now: time::OffsetDateTime,
    pub unpack: UnpackOptions,
    /// Writes the layer (a tar stream) into the blob.
    pub write_layer: &'a mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
}

pub fn commit(store: &mut Store, req: CommitRequest) -> Result<Committed, ArchiveError> {
    let name = req.container.clone();
    let (opts, now) = (req.unpack, req.now.unix_timestamp());
    let wrap = |source| ArchiveError::Ingest { archive: name.clone(), source };
    let mut done = crate::ingest::ingest(store, opts, now, wrap, |store, session| Ok(vec![prepare(store, session, req)?]))?;
    Ok(done.remove(0))
}

fn prepare(store: &Store, session: &mut IngestSession, req: CommitRequest) -> Result<NewImage, ArchiveError> {
    let mut w = store.blobs.writer()?;
    (req.write_layer)(&mut w).map_err(|e| ArchiveError::Io { archive: req.container.clone(), source: e })?;
    let layer = w.commit(None)?;
    session.record(&layer);
    let created = rfc3339_nano(req.now);
    let mut config = req.parent.clone();
    config.created = Some(created.clone());
    config.author = req.author.clone().filter(|a| !a.is_empty());
    config.comment = req.comment.clone().filter(|c| !c.is_empty());
    config.config = Some(req.config);
    config.rootfs.diff_ids.push(layer.digest.clone());
    config.history.push(History {
        created: Some(created),
        created_by: Some(req.created_by),
        author: config.author.clone(),
        comment: config.comment.clone(),
        empty_layer: false,
    });
    let mut layers = req.parent_layers;
    layers.push(LayerBlob { digest: layer.digest, media_type: media::OCI_LAYER.into() });
    crate::import::store_image(store, session, config, layers, req.tag.into_iter().collect())
}
