//! New images on top of stored ones, without an archive: `doca commit` (a container's changes
//! become one more layer) and `doca build` (a layer per RUN/COPY step, and the final image's
//! config). A layer is written by the caller straight into a blob writer, stored uncompressed
//! so that its digest is its DiffID, as `import` stores layers.

use crate::archive::ArchiveError;
use crate::config::{rfc3339_nano, ContainerConfig, History, ImageConfig};
use crate::ingest::{Committed, IngestSession, LayerBlob, NewImage};
use crate::media;
use crate::reference::Reference;
use crate::unpack::UnpackOptions;
use doca_store::Store;
use std::io::{self, Write};

/// Writes a layer (a tar stream) into a blob.
pub type WriteLayer<'a> = &'a mut dyn FnMut(&mut dyn Write) -> io::Result<()>;

pub struct ImageRequest<'a> {
    /// What is being made, for messages: a container's name, "build step 3".
    pub name: String,
    /// The image this one extends (its rootfs, platform and fields doca does not know), or the
    /// default for an image from scratch; and its layers as its manifest names them.
    pub base: ImageConfig,
    pub base_layers: Vec<LayerBlob>,
    pub config: ContainerConfig,
    /// The new image's whole history (one entry per layer, plus empty ones).
    pub history: Vec<History>,
    pub author: Option<String>,
    pub comment: Option<String>,
    /// RFC 3339.
    pub created: String,
    pub tags: Vec<Reference>,
    pub now: i64,
    pub unpack: UnpackOptions,
    /// The new layer, if any.
    pub write_layer: Option<WriteLayer<'a>>,
}

/// Stores an image: the base's layers, perhaps one more, and a new config. Content-addressed:
/// the same request gives the same image id and manifest digest, whichever store it runs in.
pub fn new_image(store: &mut Store, req: ImageRequest) -> Result<Committed, ArchiveError> {
    let name = req.name.clone();
    let (opts, now) = (req.unpack, req.now);
    let wrap = |source| ArchiveError::Ingest { archive: name.clone(), source };
    let mut done = crate::ingest::ingest(store, opts, now, wrap, |store, session| Ok(vec![prepare(store, session, req)?]))?;
    Ok(done.remove(0))
}

fn prepare(store: &Store, session: &mut IngestSession, req: ImageRequest) -> Result<NewImage, ArchiveError> {
    let mut config = req.base;
    let mut layers = req.base_layers;
    if let Some(write) = req.write_layer {
        let mut w = store.blobs.writer()?;
        write(&mut w).map_err(|e| ArchiveError::Io { archive: req.name.clone(), source: e })?;
        let layer = w.commit(None)?;
        session.record(&layer);
        config.rootfs.diff_ids.push(layer.digest.clone());
        layers.push(LayerBlob { digest: layer.digest, media_type: media::OCI_LAYER.into() });
    }
    if config.rootfs.kind.is_empty() {
        config.rootfs.kind = "layers".into();
    }
    if config.architecture.is_empty() {
        config.architecture = crate::manifest::host_arch().into();
    }
    if config.os.is_empty() {
        config.os = "linux".into();
    }
    config.created = Some(req.created);
    config.author = req.author.filter(|a| !a.is_empty());
    config.comment = req.comment.filter(|c| !c.is_empty());
    config.config = Some(req.config);
    config.history = req.history;
    crate::import::store_image(store, session, config, layers, req.tags)
}

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
    pub write_layer: WriteLayer<'a>,
}

pub fn commit(store: &mut Store, req: CommitRequest) -> Result<Committed, ArchiveError> {
    let created = rfc3339_nano(req.now);
    let author = req.author.filter(|a| !a.is_empty());
    let comment = req.comment.filter(|c| !c.is_empty());
    let mut history = req.parent.history.clone();
    history.push(History {
        created: Some(created.clone()),
        created_by: Some(req.created_by),
        author: author.clone(),
        comment: comment.clone(),
        empty_layer: false,
    });
    new_image(
        store,
        ImageRequest {
            name: req.container,
            base: req.parent,
            base_layers: req.parent_layers,
            config: req.config,
            history,
            author,
            comment,
            created,
            tags: req.tag.into_iter().collect(),
            now: req.now.unix_timestamp(),
            unpack: req.unpack,
            write_layer: Some(req.write_layer),
        },
    )
}
