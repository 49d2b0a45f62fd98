//! `doca load`: docker-archive (Docker 20.10 and 25+, podman, skopeo) and OCI-layout archives
//! (oci-archive), plain or compressed, from a file or stdin, streamed in one pass.
//!
//! Every regular member is streamed into the blob store as it comes (hashed while written,
//! verified against its name when the name is a digest), because the archive's index
//! (`manifest.json`, `index.json`) may come last. Only archive metadata and small JSON blobs
//! (configs, manifests; 32 MiB at most) are kept in memory, so
//! peak memory does not grow with the image.

use crate::archive::{clean_member, resolve_link, ArchiveError};
use crate::config::ImageConfig;
use crate::ingest::{Committed, EarlyUnpack, IngestSession, LayerBlob, NewImage};
use crate::media::{self, Compression};
use crate::reference::Reference;
use crate::unpack::UnpackOptions;
use doca_store::{Digest, Store};
use serde::Deserialize;
use std::collections::HashMap;
use std::io::{self, Read, Write};

/// Members larger than this are never held in memory (configs and manifests are far smaller).
const SMALL: u64 = 4 << 20;
/// At most this much JSON is held in memory across an archive; more is read back from the store.
const JSON_BUDGET: usize = 32 << 20;

pub struct LoadRequest<'a> {
    /// How errors name the input (a path, or "stdin").
    pub archive: String,
    pub input: Box<dyn Read + 'a>,
    pub unpack: UnpackOptions,
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct LoadReport {
    pub images: Vec<Committed>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// What phase one read from the archive.
#[derive(Default)]
struct Members {
    /// member name → blob digest
    files: HashMap<String, Digest>,
    /// archive metadata (manifest.json, index.json, ...), which is not content
    meta: HashMap<String, Vec<u8>>,
    /// small JSON blobs (configs, manifests) kept while the budget lasts
    json: HashMap<Digest, Vec<u8>>,
    json_bytes: usize,
    links: HashMap<String, String>,
}

impl Members {
    fn resolve(&self, name: &str) -> String {
        let mut n = clean_member(name);
        for _ in 0..16 {
            match self.links.get(&n) {
                Some(t) => n = t.clone(),
                None => break,
            }
        }
        n
    }
    fn blob(&self, name: &str) -> Option<&Digest> {
        self.files.get(&self.resolve(name))
    }
}

fn is_metadata(name: &str) -> bool {
    matches!(name, "manifest.json" | "index.json" | "oci-layout" | "repositories") || name.ends_with("/json") || name.ends_with("/VERSION")
}

pub fn load(store: &mut Store, req: LoadRequest) -> Result<LoadReport, ArchiveError> {
    let archive = req.archive.clone();
    let (opts, now) = (req.unpack, req.now);
    let wrap = |source| ArchiveError::Ingest { archive: archive.clone(), source };
    let images = crate::ingest::ingest(store, opts, now, wrap, |store, session| read_archive(store, session, req))?;
    Ok(LoadReport { images })
}

/// Streams the archive into the blob store and works out the images it holds.
fn read_archive(store: &Store, session: &mut IngestSession, req: LoadRequest) -> Result<Vec<NewImage>, ArchiveError> {
    let archive = req.archive.as_str();
    let io_err = |source| ArchiveError::Io { archive: archive.to_string(), source };
    let (_, input) = media::decompress(req.input).map_err(io_err)?;
    let mut ar = tar::Archive::new(input);
    let mut m = Members::default();
    let mut any = false;
    for entry in ar.entries().map_err(io_err)? {
        let mut entry = entry.map_err(|e| ArchiveError::invalid(archive, format!("read tar: {e}")))?;
        any = true;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = clean_member(&raw);
        let ent_err = |msg: String| ArchiveError::Entry { archive: archive.to_string(), entry: raw.clone(), msg };
        match entry.header().entry_type() {
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = entry.link_name_bytes().map(|t| String::from_utf8_lossy(&t).into_owned()).unwrap_or_default();
                let resolved =
                    if entry.header().entry_type() == tar::EntryType::Link { clean_member(&target) } else { resolve_link(&name, &target) };
                m.links.insert(name, resolved);
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                let size = entry.size();
                if size > req.unpack.max_bytes {
                    return Err(ent_err(format!(
                        "{size} bytes is over the size limit of {} bytes (DOCA_MAX_LAYER_SIZE)",
                        req.unpack.max_bytes
                    )));
                }
                if is_metadata(&name) {
                    if size > SMALL || m.json_bytes + size as usize > JSON_BUDGET {
                        return Err(ent_err(format!("{size} bytes is too large for archive metadata")));
                    }
                    m.json_bytes += size as usize;
                    let mut buf = Vec::with_capacity(size as usize);
                    entry.read_to_end(&mut buf).map_err(|e| ent_err(format!("read: {e}")))?;
                    m.meta.insert(name, buf);
                    continue;
                }
                // `blobs/sha256/<hex>` names its own digest; check it, and skip what we have.
                let expected = match name.strip_prefix("blobs/") {
                    Some(rest) => match rest.split_once('/') {
                        Some((alg, hex)) => Some(format!("{alg}:{hex}").parse::<Digest>().map_err(|e| ent_err(e.to_string()))?),
                        None => None,
                    },
                    None => None,
                };
                if let Some(d) = &expected {
                    if store.blobs.exists(d) && size > SMALL {
                        io::copy(&mut entry, &mut io::sink()).map_err(|e| ent_err(format!("read: {e}")))?;
                        m.files.insert(name, d.clone());
                        continue;
                    }
                }
                let mut w = store.blobs.writer()?;
                let mut keep = if size <= SMALL && m.json_bytes + size as usize <= JSON_BUDGET {
                    Some(Vec::with_capacity(size as usize))
                } else {
                    None
                };
                let early = stream_member(&mut entry, &mut w, keep.as_mut(), size > EARLY_MIN, store, session, req.unpack).map_err(
                    |e| match e {
                        MemberError::Read(e) => ent_err(format!("read: {e}")),
                        MemberError::Write(source) => {
                            ArchiveError::Store(doca_store::BlobError::Io { op: "write", path: w.path().to_path_buf(), source }.into())
                        }
                        MemberError::Ingest(source) => ArchiveError::Ingest { archive: archive.to_string(), source },
                    },
                )?;
                let ing = w.commit(expected.as_ref()).map_err(|e| match e {
                    e @ doca_store::BlobError::Io { .. } => ArchiveError::Store(e.into()),
                    e => ent_err(e.to_string()),
                })?;
                session.record(&ing);
                if let Some(early) = early {
                    session.adopt_early(ing.digest.clone(), early);
                }
                // Only JSON (configs, manifests) is worth keeping; layers are read from the store.
                if let Some(b) = keep.filter(|b| b.first() == Some(&b'{')) {
                    m.json_bytes += b.len();
                    m.json.insert(ing.digest.clone(), b);
                }
                m.files.insert(name, ing.digest);
            }
            _ => {}
        }
    }
    if !any {
        return Err(ArchiveError::invalid(archive, "empty archive: no manifest.json or index.json"));
    }
    let images = if m.meta.contains_key("index.json") {
        from_oci_index(store, archive, &m)?
    } else if m.meta.contains_key("manifest.json") {
        from_docker_manifest(store, session, archive, &m)?
    } else {
        return Err(ArchiveError::invalid(archive, "not an image archive: no manifest.json or index.json"));
    };
    if images.is_empty() {
        return Err(ArchiveError::invalid(archive, "the archive contains no image"));
    }
    Ok(images)
}

/// Members at least this large that look like layers are unpacked while they stream in.
const EARLY_MIN: u64 = 64 << 10;

enum MemberError {
    Read(io::Error),
    /// Writing the blob (the store's disk), not reading the archive.
    Write(io::Error),
    Ingest(crate::ingest::IngestError),
}

/// Does a member's first chunk look like a layer: a tar (POSIX "ustar" magic at offset 257) or
/// a compressed stream?
fn looks_like_layer(head: &[u8]) -> bool {
    head.get(257..262) == Some(b"ustar") || !matches!(Compression::detect(head), Compression::None)
}

/// Streams one member into `dst` (the blob writer), keeping a copy in `keep` for small ones;
/// a large member that looks like a layer is also fed, chunk by chunk, to an early unpack on
/// another thread, so unpacking overlaps reading, hashing and writing the blob.
fn stream_member(
    src: &mut impl Read,
    dst: &mut impl Write,
    mut keep: Option<&mut Vec<u8>>,
    may_unpack: bool,
    store: &Store,
    session: &mut IngestSession,
    opts: UnpackOptions,
) -> Result<Option<EarlyUnpack>, MemberError> {
    let mut buf = vec![0u8; 256 << 10];
    let mut early: Option<EarlyUnpack> = None;
    let mut first = true;
    loop {
        // Fill the buffer: the first chunk must hold the tar header to sniff.
        let mut n = 0;
        while n < buf.len() {
            match src.read(&mut buf[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(MemberError::Read(e)),
            }
        }
        if n == 0 {
            return Ok(early);
        }
        if first {
            first = false;
            if may_unpack && looks_like_layer(&buf[..n]) {
                early = Some(session.start_early(&store.snapshots, opts).map_err(MemberError::Ingest)?);
            }
        }
        dst.write_all(&buf[..n]).map_err(MemberError::Write)?;
        if let Some(e) = early.as_mut() {
            e.feed(&buf[..n]);
        }
        if let Some(k) = keep.as_mut() {
            k.extend_from_slice(&buf[..n]);
        }
    }
}

fn parse_config(archive: &str, digest: &Digest, bytes: &[u8]) -> Result<ImageConfig, ArchiveError> {
    ImageConfig::from_slice(bytes).map_err(|e| ArchiveError::invalid(archive, format!("image config {digest}: {e}")))
}

fn parse_tag(archive: &str, t: &str) -> Result<Reference, ArchiveError> {
    Reference::parse_tagged(t).map_err(|e| ArchiveError::invalid(archive, format!("invalid tag {t:?}: {e}")))
}

/// Docker's `manifest.json` (any Docker version, podman and skopeo docker-archive).
fn from_docker_manifest(store: &Store, session: &mut IngestSession, archive: &str, m: &Members) -> Result<Vec<NewImage>, ArchiveError> {
    let entries: Vec<DockerManifestEntry> =
        serde_json::from_slice(&m.meta["manifest.json"]).map_err(|e| ArchiveError::invalid(archive, format!("manifest.json: {e}")))?;
    let mut out = Vec::new();
    for e in entries {
        let missing = |what: &str, name: &str| {
            ArchiveError::invalid(archive, format!("manifest.json names {what} {name:?}, which is not in the archive"))
        };
        let config_digest = m.blob(&e.config).ok_or_else(|| missing("config", &e.config))?.clone();
        let config_bytes = blob_bytes(store, archive, m, &config_digest, "config")?;
        let config = parse_config(archive, &config_digest, &config_bytes)?;
        let mut layers = Vec::new();
        for l in &e.layers {
            let d = m.blob(l).ok_or_else(|| missing("layer", l))?.clone();
            let mut head = [0u8; 8];
            let n = store.blobs.open_blob(&d).and_then(|mut f| {
                f.read(&mut head).map_err(|e| doca_store::BlobError::Io { op: "read", path: store.blobs.path(&d), source: e })
            })?;
            layers.push(LayerBlob { digest: d, media_type: Compression::detect(&head[..n]).oci_layer_media_type().to_string() });
        }
        let manifest = oci_manifest_json(&config_digest, config_bytes.len() as u64, &layers, store)?;
        let ing = store.blobs.put(&manifest, None)?;
        session.record(&ing);
        let tags = e.repo_tags.unwrap_or_default().iter().map(|t| parse_tag(archive, t)).collect::<Result<_, _>>()?;
        out.push(NewImage { config_digest, config, manifest_digest: ing.digest, layers, tags, repo_digests: Vec::new() });
    }
    Ok(out)
}

/// The OCI manifest doca records for an image that arrived without one.
pub fn oci_manifest_json(config: &Digest, config_size: u64, layers: &[LayerBlob], store: &Store) -> Result<Vec<u8>, ArchiveError> {
    let mut ls = Vec::new();
    for l in layers {
        let size = store.blobs.size(&l.digest)?;
        ls.push(serde_json::json!({"mediaType": l.media_type, "digest": l.digest, "size": size}));
    }
    let v = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_MANIFEST,
        "config": {"mediaType": media::OCI_CONFIG, "digest": config, "size": config_size},
        "layers": ls,
    });
    Ok(serde_json::to_vec(&v).expect("json"))
}

use crate::manifest::{Descriptor, Manifest, Platform};

const MAX_DEPTH: usize = 4;

/// OCI image layout (`index.json`), as Docker 25+, podman and skopeo write it. Docker 25+ also
/// writes `manifest.json`: its RepoTags are merged in.
fn from_oci_index(store: &Store, archive: &str, m: &Members) -> Result<Vec<NewImage>, ArchiveError> {
    let index: Manifest =
        serde_json::from_slice(&m.meta["index.json"]).map_err(|e| ArchiveError::invalid(archive, format!("index.json: {e}")))?;
    let mut docker_tags: HashMap<Digest, Vec<String>> = HashMap::new();
    if let Some(b) = m.meta.get("manifest.json") {
        if let Ok(entries) = serde_json::from_slice::<Vec<DockerManifestEntry>>(b) {
            for e in entries {
                if let Some(d) = m.blob(&e.config) {
                    docker_tags.entry(d.clone()).or_default().extend(e.repo_tags.unwrap_or_default());
                }
            }
        }
    }
    let mut by_config: HashMap<Digest, NewImage> = HashMap::new();
    let mut order = Vec::new();
    for desc in &index.manifests {
        let tags = desc_tags(archive, desc)?;
        let Some((manifest_digest, manifest)) = resolve_manifest(store, archive, m, &desc.digest, 0)? else { continue };
        let cfg =
            manifest.config.as_ref().ok_or_else(|| ArchiveError::invalid(archive, format!("manifest {manifest_digest} has no config")))?;
        let config_bytes = blob_bytes(store, archive, m, &cfg.digest, "config")?;
        let config = parse_config(archive, &cfg.digest, &config_bytes)?;
        let mut layers = Vec::new();
        for l in &manifest.layers {
            if !media::is_layer_media_type(&l.media_type) {
                return Err(ArchiveError::invalid(
                    archive,
                    format!("manifest {manifest_digest}: unsupported layer media type {:?}", l.media_type),
                ));
            }
            if !store.blobs.exists(&l.digest) {
                return Err(ArchiveError::invalid(
                    archive,
                    format!("manifest {manifest_digest} names layer {}, which is not in the archive", l.digest),
                ));
            }
            layers.push(LayerBlob { digest: l.digest.clone(), media_type: l.media_type.clone() });
        }
        let entry = by_config.entry(cfg.digest.clone()).or_insert_with(|| {
            order.push(cfg.digest.clone());
            NewImage { config_digest: cfg.digest.clone(), config, manifest_digest, layers, tags: Vec::new(), repo_digests: Vec::new() }
        });
        for t in tags {
            if !entry.tags.contains(&t) {
                entry.tags.push(t);
            }
        }
    }
    let mut out = Vec::new();
    for d in order {
        let mut img = by_config.remove(&d).expect("ordered");
        for t in docker_tags.remove(&d).unwrap_or_default() {
            let r = parse_tag(archive, &t)?;
            if !img.tags.contains(&r) {
                img.tags.push(r);
            }
        }
        out.push(img);
    }
    Ok(out)
}

/// Tags named by an index entry: containerd's full name, else a ref.name that is a full
/// reference (a bare tag such as "latest" names no repository, so docker loads it untagged).
fn desc_tags(archive: &str, desc: &Descriptor) -> Result<Vec<Reference>, ArchiveError> {
    if let Some(n) = desc.annotations.get("io.containerd.image.name") {
        return Ok(vec![parse_tag(archive, n)?]);
    }
    match desc.annotations.get("org.opencontainers.image.ref.name") {
        Some(n) if n.contains(['/', ':']) => Ok(Reference::parse_tagged(n).ok().into_iter().collect()),
        _ => Ok(Vec::new()),
    }
}

fn blob_bytes(store: &Store, archive: &str, m: &Members, d: &Digest, what: &str) -> Result<Vec<u8>, ArchiveError> {
    if let Some(b) = m.json.get(d) {
        return Ok(b.clone());
    }
    if !store.blobs.exists(d) {
        return Err(ArchiveError::invalid(archive, format!("{what} blob {d} is not in the archive")));
    }
    let size = store.blobs.size(d)?;
    if size > SMALL {
        return Err(ArchiveError::invalid(archive, format!("{what} blob {d} is {size} bytes, over the {SMALL}-byte limit")));
    }
    Ok(store.blobs.read(d)?)
}

/// Follows an index to the manifest for this host's platform (linux/amd64 first).
fn resolve_manifest(
    store: &Store,
    archive: &str,
    m: &Members,
    d: &Digest,
    depth: usize,
) -> Result<Option<(Digest, Manifest)>, ArchiveError> {
    if depth > MAX_DEPTH {
        return Err(ArchiveError::invalid(archive, "image indexes nest too deep"));
    }
    let bytes = blob_bytes(store, archive, m, d, "manifest")?;
    let man: Manifest = serde_json::from_slice(&bytes).map_err(|e| ArchiveError::invalid(archive, format!("manifest {d}: {e}")))?;
    if !man.is_index() {
        return Ok(Some((d.clone(), man)));
    }
    let arch = crate::manifest::host_arch();
    let pick = man.pick(&Platform::host());
    match pick {
        Some(c) if store.blobs.exists(&c.digest) || m.json.contains_key(&c.digest) => {
            resolve_manifest(store, archive, m, &c.digest, depth + 1)
        }
        _ => Err(ArchiveError::invalid(archive, format!("index {d} has no manifest for linux/{arch} in the archive"))),
    }
}
