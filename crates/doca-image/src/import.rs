//! `doca import`: a root filesystem tarball (plain, gzip, zstd or xz) becomes a one-layer image,
//! as `docker import` makes it. The layer is stored uncompressed, so its digest is its DiffID.

use crate::archive::ArchiveError;
use crate::change::apply_change;
use crate::config::{rfc3339_nano, ContainerConfig, History, ImageConfig, RootFs};
use crate::ingest::{Committed, IngestSession, LayerBlob, NewImage};
use crate::load::oci_manifest_json;
use crate::manifest::host_arch;
use crate::media;
use crate::reference::Reference;
use crate::unpack::UnpackOptions;
use doca_store::Store;
use std::io::{self, Read};

pub struct ImportRequest<'a> {
    /// How messages name the source (a path, or "-" for stdin). The history comment says
    /// "Imported from -" either way, as docker's does (its CLI streams files as stdin).
    pub source: String,
    pub input: Box<dyn Read + 'a>,
    pub changes: Vec<String>,
    pub message: Option<String>,
    pub tag: Option<Reference>,
    pub now: time::OffsetDateTime,
    pub unpack: UnpackOptions,
}

pub fn import(store: &mut Store, req: ImportRequest) -> Result<Committed, ArchiveError> {
    let archive = req.source.clone();
    let inv = |m: String| ArchiveError::invalid(&archive, m);
    // Validate the changes before touching the store.
    let mut cc = ContainerConfig::default();
    for c in &req.changes {
        apply_change(&mut cc, c).map_err(|e| inv(e.to_string()))?;
    }
    let (opts, now) = (req.unpack, req.now.unix_timestamp());
    let wrap = |source| ArchiveError::Ingest { archive: archive.clone(), source };
    let mut done = crate::ingest::ingest(store, opts, now, wrap, |store, session| Ok(vec![prepare(store, session, req, cc)?]))?;
    Ok(done.remove(0))
}

/// Stores the tarball as an uncompressed layer blob, and the config and manifest around it.
fn prepare(store: &Store, session: &mut IngestSession, req: ImportRequest, cc: ContainerConfig) -> Result<NewImage, ArchiveError> {
    let archive = req.source.as_str();
    let io_err = |e: io::Error| ArchiveError::Io { archive: archive.to_string(), source: e };
    let (_, mut plain) = media::decompress(req.input).map_err(io_err)?;
    let mut w = store.blobs.writer()?;
    let limit = req.unpack.max_bytes;
    let n = io::copy(&mut (&mut plain).take(limit + 1), &mut w).map_err(|e| {
        if crate::unpack::is_host_failure(&e) {
            ArchiveError::Store(doca_store::BlobError::Io { op: "write", path: w.path().to_path_buf(), source: e }.into())
        } else {
            io_err(e)
        }
    })?;
    if n > limit {
        return Err(ArchiveError::invalid(
            archive,
            format!("larger than the limit of {limit} bytes uncompressed (DOCA_MAX_LAYER_SIZE); refusing a possible tar bomb"),
        ));
    }
    if n == 0 {
        return Err(ArchiveError::invalid(archive, "empty input: expected a tar archive"));
    }
    let layer = w.commit(None)?;
    session.record(&layer);
    let created = rfc3339_nano(req.now);
    let comment = req.message.clone().unwrap_or_else(|| "Imported from -".to_string());
    let config = ImageConfig {
        created: Some(created.clone()),
        architecture: host_arch().to_string(),
        os: "linux".into(),
        config: Some(cc),
        rootfs: RootFs { kind: "layers".into(), diff_ids: vec![layer.digest.clone()] },
        history: vec![History { created: Some(created), comment: Some(comment.clone()), ..Default::default() }],
        comment: Some(comment),
        ..Default::default()
    };
    let layers = vec![LayerBlob { digest: layer.digest, media_type: media::OCI_LAYER.into() }];
    store_image(store, session, config, layers, req.tag.into_iter().collect())
}

/// Stores a new image's config and OCI manifest (its layers are in the store already) and
/// names it for the ingest's unpack and commit. `import` and `commit` make images this way.
pub(crate) fn store_image(
    store: &Store,
    session: &mut IngestSession,
    config: ImageConfig,
    layers: Vec<LayerBlob>,
    tags: Vec<Reference>,
) -> Result<NewImage, ArchiveError> {
    let config_bytes = serde_json::to_vec(&config).expect("json");
    let cfg = store.blobs.put(&config_bytes, None)?;
    session.record(&cfg);
    let manifest = oci_manifest_json(&cfg.digest, config_bytes.len() as u64, &layers, store)?;
    let man = store.blobs.put(&manifest, None)?;
    session.record(&man);
    Ok(NewImage { config_digest: cfg.digest, config, manifest_digest: man.digest, layers, tags, repo_digests: Vec::new() })
}
