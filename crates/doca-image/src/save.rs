//! `doca save`: one tar that is both a docker-archive (`manifest.json` + `repositories`, read by
//! `docker load` 20.10+) and an OCI image layout (`oci-layout` + `index.json`, read by skopeo,
//! podman and containerd), with every blob once under `blobs/sha256/`, as Docker 25+ writes it.
//! Entries carry fixed metadata (mtime 0, root, 0644), so saving the same images twice gives
//! the same bytes.

use crate::archive::ArchiveError;
use crate::media;
use crate::reference::Reference;
use doca_store::{Digest, Store};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

#[derive(Debug, Clone)]
pub struct SaveImage {
    pub id: Digest,
    /// The tags to record for this image (docker records only the names asked for).
    pub tags: Vec<Reference>,
}

pub fn save(store: &mut Store, images: &[SaveImage], out: impl Write, archive: &str) -> Result<(), ArchiveError> {
    let io_err = |source: io::Error| ArchiveError::Io { archive: archive.to_string(), source };
    let mut b = tar::Builder::new(out);
    b.mode(tar::HeaderMode::Deterministic);
    let mut written: HashSet<Digest> = HashSet::new();
    let mut index = Vec::new();
    let mut manifest_json = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();

    append_bytes(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io_err)?;
    append_dir(&mut b, "blobs/").map_err(io_err)?;
    append_dir(&mut b, "blobs/sha256/").map_err(io_err)?;
    for img in images {
        let (row, layers) = store.db.read(|tx| Ok((tx.image(&img.id)?, tx.layers(&img.id)?)))?;
        let row = row.ok_or_else(|| ArchiveError::invalid(archive, format!("no such image: {}", img.id)))?;
        for d in std::iter::once(&row.manifest).chain(std::iter::once(&row.id)).chain(layers.iter().map(|l| &l.blob)) {
            if written.insert(d.clone()) {
                append_blob(&mut b, store, d).map_err(io_err)?;
            }
        }
        let msize = store.blobs.size(&row.manifest)?;
        let desc = |ann: Option<Value>| {
            let mut d = Map::new();
            d.insert("mediaType".into(), media::OCI_MANIFEST.into());
            d.insert("digest".into(), row.manifest.as_str().into());
            d.insert("size".into(), msize.into());
            if let Some(a) = ann {
                d.insert("annotations".into(), a);
            }
            Value::Object(d)
        };
        if img.tags.is_empty() {
            index.push(desc(None));
        }
        for t in &img.tags {
            index.push(desc(Some(json!({
                "io.containerd.image.name": t.to_string(),
                "org.opencontainers.image.ref.name": t.tag().unwrap_or("latest"),
            }))));
            if let Some(top) = layers.last() {
                repositories
                    .entry(t.familiar_name())
                    .or_default()
                    .insert(t.tag().unwrap_or("latest").to_string(), top.blob.hex().to_string());
            }
        }
        manifest_json.push(json!({
            "Config": format!("blobs/sha256/{}", row.id.hex()),
            "RepoTags": img.tags.iter().map(|t| t.familiar()).collect::<Vec<_>>(),
            "Layers": layers.iter().map(|l| format!("blobs/sha256/{}", l.blob.hex())).collect::<Vec<_>>(),
        }));
    }
    let index = json!({"schemaVersion": 2, "mediaType": media::OCI_INDEX, "manifests": index});
    append_bytes(&mut b, "index.json", &serde_json::to_vec(&index).expect("json")).map_err(io_err)?;
    append_bytes(&mut b, "manifest.json", &serde_json::to_vec(&manifest_json).expect("json")).map_err(io_err)?;
    if !repositories.is_empty() {
        append_bytes(&mut b, "repositories", &serde_json::to_vec(&repositories).expect("json")).map_err(io_err)?;
    }
    b.into_inner().map_err(io_err)?.flush().map_err(io_err)
}

fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn append_dir<W: Write>(b: &mut tar::Builder<W>, name: &str) -> io::Result<()> {
    let mut h = header(tar::EntryType::Directory, 0, 0o755);
    b.append_data(&mut h, name, io::empty())
}

fn append_bytes<W: Write>(b: &mut tar::Builder<W>, name: &str, data: &[u8]) -> io::Result<()> {
    let mut h = header(tar::EntryType::Regular, data.len() as u64, 0o644);
    b.append_data(&mut h, name, data)
}

fn append_blob<W: Write>(b: &mut tar::Builder<W>, store: &Store, d: &Digest) -> io::Result<()> {
    let f = store.blobs.open_blob(d).map_err(io::Error::other)?;
    let size = f.metadata()?.len();
    let mut h = header(tar::EntryType::Regular, size, 0o644);
    b.append_data(&mut h, format!("blobs/sha256/{}", d.hex()), f)
}
