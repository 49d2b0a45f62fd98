//! `pull`: a reference's manifest (an index resolved to the asked platform), its config and
//! the layers the store lacks, downloaded in parallel, each checked against its digest as it
//! is written and only then named by it, then unpacked and recorded through `ingest` (one
//! transaction; a failure takes back what this pull wrote). The manifest is stored as the
//! registry sent it, so `RepoDigests` is the registry's digest.

use super::client::Registry;
use super::{RegistryConfig, RegistryError};
use crate::archive::ArchiveError;
use crate::config::ImageConfig;
use crate::ingest::{Committed, EarlyUnpack, LayerBlob, NewImage};
use crate::manifest::{Manifest, Platform};
use crate::media;
use crate::reference::Reference;
use crate::unpack::UnpackOptions;
use doca_store::{Digest, Store};
use std::io::{Read, Write};

/// What a pull reports as it goes (docker's per-layer lines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// The manifest resolved: its digest.
    Resolved { digest: &'a str, layers: &'a [Digest] },
    /// A layer the store has already.
    Exists(&'a Digest),
    /// Bytes of a layer so far (of `total` when the registry said).
    Downloading { layer: &'a Digest, done: u64, total: Option<u64> },
    /// A layer is in the store, verified.
    Downloaded(&'a Digest),
    /// Everything is downloaded; unpacking and recording.
    Extracting,
}

pub struct PullRequest<'a> {
    pub reference: Reference,
    pub platform: Platform,
    pub config: &'a RegistryConfig,
    pub credentials: Option<super::auth::Credentials>,
    pub unpack: UnpackOptions,
    pub now: i64,
    pub progress: &'a (dyn Fn(Progress) + Sync),
}

#[derive(Debug, Clone)]
pub struct Pulled {
    pub committed: Committed,
    pub manifest_digest: String,
    /// The store had this image already (docker: "Image is up to date").
    pub up_to_date: bool,
}

/// The config blob's size limit: configs are small JSON documents.
const MAX_CONFIG: u64 = 8 << 20;

fn protocol(reg: &Registry, message: String) -> RegistryError {
    RegistryError::Protocol { registry: reg.host.clone(), message }
}

pub fn pull(store: &mut Store, req: &PullRequest) -> Result<Pulled, RegistryError> {
    let r = &req.reference;
    let repo = r.path().to_string();
    let name = r.familiar();
    let wanted = match r.digest() {
        Some(d) => d.to_string(),
        None => r.tag().unwrap_or("latest").to_string(),
    };
    let limit = req.config.max_manifest_size;
    // docker names the whole reference when the manifest is not there.
    let (reg, (mut bytes, _, mut digest)) =
        Registry::connect_with(r.domain(), req.config, req.credentials.clone(), |reg| reg.manifest(&repo, &wanted, limit)).map_err(
            |e| match e {
                RegistryError::ManifestUnknown(_) => RegistryError::ManifestUnknown(name.clone()),
                RegistryError::PullDenied(_) => RegistryError::PullDenied(r.familiar_name()),
                e => e,
            },
        )?;
    let mut man: Manifest = serde_json::from_slice(&bytes).map_err(|e| protocol(&reg, format!("manifest of {name}: {e}")))?;
    if man.schema_version == 1 {
        return Err(protocol(
            &reg,
            format!("{name}: Docker schema 1 manifests are not supported (push the image again with a current client)"),
        ));
    }
    if man.is_index() {
        let entry = man
            .pick(&req.platform)
            .ok_or_else(|| RegistryError::NoPlatform { reference: name.clone(), platform: req.platform.to_string() })?;
        let d = entry.digest.to_string();
        (bytes, _, digest) = reg.manifest(&repo, &d, limit)?;
        man = serde_json::from_slice(&bytes).map_err(|e| protocol(&reg, format!("manifest {d} of {name}: {e}")))?;
        if man.is_index() {
            return Err(protocol(&reg, format!("{name}: an index inside an index is not supported")));
        }
    }
    let layer_digests: Vec<Digest> = man.layers.iter().map(|l| l.digest.clone()).collect();
    (req.progress)(Progress::Resolved { digest: &digest, layers: &layer_digests });
    let manifest_digest: Digest = digest.parse().map_err(|_| protocol(&reg, format!("bad digest {digest}")))?;
    let cfg = man.config.clone().ok_or_else(|| protocol(&reg, format!("manifest {digest} of {name} has no config")))?;
    for l in &man.layers {
        if !media::is_pullable_layer(&l.media_type) {
            return Err(protocol(&reg, format!("manifest {digest} of {name}: unsupported layer media type {:?}", l.media_type)));
        }
    }
    // The config: from the store if it is there, else fetched whole (it is small) and checked.
    let config_bytes = if store.blobs.exists(&cfg.digest) {
        store.blobs.read(&cfg.digest)?
    } else {
        let (mut body, _) = reg.blob(&repo, cfg.digest.as_str())?;
        let mut buf = Vec::new();
        body.by_ref()
            .take(MAX_CONFIG + 1)
            .read_to_end(&mut buf)
            .map_err(|e| protocol(&reg, format!("config {} of {name}: {e}", cfg.digest)))?;
        if buf.len() as u64 > MAX_CONFIG {
            return Err(protocol(&reg, format!("config {} of {name} is over the {MAX_CONFIG}-byte limit", cfg.digest)));
        }
        let got = Digest::of(&buf);
        if got != cfg.digest {
            return Err(RegistryError::DigestMismatch {
                registry: reg.host.clone(),
                what: format!("config of {name}"),
                expected: cfg.digest.to_string(),
                got: got.to_string(),
            });
        }
        buf
    };
    let config: ImageConfig =
        ImageConfig::from_slice(&config_bytes).map_err(|e| protocol(&reg, format!("config {} of {name}: {e}", cfg.digest)))?;
    if config.rootfs.diff_ids.len() != man.layers.len() {
        return Err(protocol(
            &reg,
            format!("{name}: the manifest names {} layers and the config {} diff ids", man.layers.len(), config.rootfs.diff_ids.len()),
        ));
    }
    let up_to_date = store.db.read(|tx| tx.image(&cfg.digest))?.is_some();
    let layers: Vec<LayerBlob> =
        man.layers.iter().map(|l| LayerBlob { digest: l.digest.clone(), media_type: l.media_type.clone() }).collect();
    let tags: Vec<Reference> = if r.digest().is_none() { vec![r.with_tag(r.tag().unwrap_or("latest"))] } else { Vec::new() };
    let repo_digest = format!("{}@{}", r.name(), manifest_digest);
    let archive = format!("{name} from {}", reg.host);
    let wrap = |source| RegistryError::Archive(ArchiveError::Ingest { archive: archive.clone(), source });
    let mut committed = crate::ingest::ingest(store, req.unpack, req.now, wrap, |store, session| {
        let m = store.blobs.put(&bytes, Some(&manifest_digest))?;
        session.record(&m);
        let c = store.blobs.put(&config_bytes, Some(&cfg.digest))?;
        session.record(&c);
        let missing: Vec<&LayerBlob> = layers.iter().filter(|l| !store.blobs.exists(&l.digest)).collect();
        for l in layers.iter().filter(|l| store.blobs.exists(&l.digest)) {
            (req.progress)(Progress::Exists(&l.digest));
        }
        let (done, failed) = download(&store.blobs, &store.snapshots, &reg, &repo, &missing, req);
        for (ing, early) in done {
            session.record(&ing);
            session.adopt_early(ing.digest.clone(), early);
        }
        if let Some(e) = failed {
            return Err(e);
        }
        (req.progress)(Progress::Extracting);
        Ok(vec![NewImage {
            config_digest: cfg.digest.clone(),
            config: config.clone(),
            manifest_digest: manifest_digest.clone(),
            layers: layers.clone(),
            tags: tags.clone(),
            repo_digests: vec![repo_digest.clone()],
        }])
    })?;
    Ok(Pulled { committed: committed.remove(0), manifest_digest: digest, up_to_date })
}

/// Downloads `layers` with up to `max_concurrent_downloads` threads, each layer unpacked as
/// its bytes arrive. Returns what was written (for the session to take back on failure, and
/// the unpacks to adopt) and the first failure.
fn download(
    blobs: &doca_store::BlobStore,
    snapshots: &doca_store::Snapshots,
    reg: &Registry,
    repo: &str,
    layers: &[&LayerBlob],
    req: &PullRequest,
) -> (Vec<(doca_store::Ingested, EarlyUnpack)>, Option<RegistryError>) {
    super::in_parallel(layers, req.config.max_concurrent_downloads, |layer| {
        let ing = fetch_layer(blobs, snapshots, reg, repo, layer, req)?;
        (req.progress)(Progress::Downloaded(&layer.digest));
        Ok(ing)
    })
}

/// One layer into the blob store, retried from the start when the connection drops; a
/// blob whose bytes do not hash to its digest is refused (and not retried: the registry said
/// what it has).
fn fetch_layer(
    blobs: &doca_store::BlobStore,
    snapshots: &doca_store::Snapshots,
    reg: &Registry,
    repo: &str,
    layer: &LayerBlob,
    req: &PullRequest,
) -> Result<(doca_store::Ingested, EarlyUnpack), RegistryError> {
    let mut attempt = 0;
    loop {
        let (mut body, total) = reg.blob(repo, layer.digest.as_str())?;
        let mut w = blobs.writer()?;
        let wrap = |source| RegistryError::Archive(ArchiveError::Ingest { archive: format!("layer {} of {repo}", layer.digest), source });
        let mut early = EarlyUnpack::start(snapshots, req.unpack).map_err(wrap)?;
        let mut buf = vec![0u8; 256 << 10];
        let mut n_done = 0u64;
        let mut last_report = 0u64;
        let copied: std::io::Result<()> = (|| loop {
            let n = body.read(&mut buf)?;
            if n == 0 {
                return Ok(());
            }
            w.write_all(&buf[..n])?;
            early.feed(&buf[..n]);
            n_done += n as u64;
            if n_done - last_report >= 1 << 20 {
                last_report = n_done;
                (req.progress)(Progress::Downloading { layer: &layer.digest, done: n_done, total });
            }
        })();
        match copied {
            Ok(()) if total.is_some_and(|t| t != n_done) => {
                if attempt + 1 >= 3 {
                    return Err(protocol(
                        reg,
                        format!("layer {} of {repo}: the registry sent {n_done} of {} bytes", layer.digest, total.unwrap_or(0)),
                    ));
                }
            }
            Ok(()) => {
                return w.commit(Some(&layer.digest)).map(|ing| (ing, early)).map_err(|e| match e {
                    doca_store::BlobError::DigestMismatch(expected, got) => RegistryError::DigestMismatch {
                        registry: reg.host.clone(),
                        what: format!("layer of {repo}"),
                        expected: expected.to_string(),
                        got: got.to_string(),
                    },
                    e => e.into(),
                });
            }
            Err(e) if attempt + 1 >= 3 => return Err(protocol(reg, format!("layer {} of {repo}: {e}", layer.digest))),
            Err(_) => {}
        }
        attempt += 1;
        std::thread::sleep(std::time::Duration::from_millis(300 << attempt));
    }
}
