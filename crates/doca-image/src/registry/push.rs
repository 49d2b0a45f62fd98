//! `push`: an image's blobs and then its manifest to a registry (distribution-spec "Pushing"):
//! a HEAD first, so nothing the registry has is sent again; a cross-repository mount when the
//! image came from another repository of the same registry; otherwise an upload session
//! (POST), the blob in one PUT when it is small, a streamed PATCH then a closing PUT when not.
//! The manifest is the one stored, so the pushed digest is the image's own.

use super::client::{Payload, Registry};
use super::{RegistryConfig, RegistryError};
use crate::ingest::LayerBlob;
use crate::reference::Reference;
use doca_store::{BlobStore, Digest};

/// Blobs up to this size go up in one request; larger ones are streamed with PATCH.
const MONOLITHIC_MAX: u64 = 32 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// A layer about to go (docker's first line for each, before any upload).
    Preparing(&'a Digest),
    /// The registry has the blob already (docker: "Layer already exists").
    Exists(&'a Digest),
    /// Mounted from another repository of the registry.
    Mounted(&'a Digest),
    Pushed(&'a Digest),
}

pub struct PushRequest<'a> {
    /// Where to: `localhost:5000/team/app:1`.
    pub reference: Reference,
    pub manifest: Digest,
    pub manifest_media_type: String,
    pub config: Digest,
    pub layers: Vec<LayerBlob>,
    /// Repositories of the same registry the image is known in (its RepoDigests), for mounts.
    pub mount_from: Vec<String>,
    pub config_file: &'a RegistryConfig,
    pub credentials: Option<super::auth::Credentials>,
    pub progress: &'a (dyn Fn(Progress) + Sync),
}

#[derive(Debug, Clone)]
pub struct Pushed {
    pub digest: String,
    pub size: usize,
}

fn protocol(reg: &Registry, message: String) -> RegistryError {
    RegistryError::Protocol { registry: reg.host.clone(), message }
}

/// `Location` of an upload session as a URL (it may be relative to the registry).
fn location(reg: &Registry, resp: &ureq::http::Response<super::client::Body>) -> Result<String, RegistryError> {
    let loc = resp
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| protocol(reg, "upload session without a Location".into()))?;
    Ok(if loc.starts_with("http://") || loc.starts_with("https://") { loc.to_string() } else { format!("{}{}", reg.base, loc) })
}

fn with_digest(url: &str, digest: &Digest) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}digest={}", digest.as_str().replace(':', "%3A"))
}

pub fn push(blobs: &BlobStore, req: &PushRequest) -> Result<Pushed, RegistryError> {
    let r = &req.reference;
    let repo = r.path().to_string();
    let tag = r.tag().unwrap_or("latest").to_string();
    let reg = Registry::connect(r.domain(), req.config_file, req.credentials.clone())?;
    let scope = format!("repository:{repo}:pull,push");
    let mut all: Vec<Digest> = req.layers.iter().map(|l| l.digest.clone()).collect();
    // Top layer first, as docker lists them.
    for d in all.iter().rev() {
        (req.progress)(Progress::Preparing(d));
    }
    all.push(req.config.clone());
    let (_, failed) = super::in_parallel(&all, req.config_file.max_concurrent_uploads, |d| push_blob(blobs, &reg, &repo, &scope, d, req));
    if let Some(e) = failed {
        return Err(e);
    }
    let manifest = blobs.read(&req.manifest)?;
    let mut resp = reg.send(
        "PUT",
        &format!("{repo}/manifests/{tag}"),
        &scope,
        &[("Content-Type", req.manifest_media_type.as_str())],
        Payload::Bytes(&manifest),
    )?;
    match resp.status().as_u16() {
        200..=299 => {}
        401 | 403 => return Err(RegistryError::Unauthorized(format!("{} (push to {repo})", reg.host))),
        _ => return Err(reg.status_error(&format!("manifest {repo}:{tag}"), &mut resp)),
    }
    if let Some(d) = resp.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()) {
        if d != req.manifest.as_str() {
            return Err(RegistryError::DigestMismatch {
                registry: reg.host.clone(),
                what: format!("manifest {repo}:{tag} as stored"),
                expected: req.manifest.to_string(),
                got: d.to_string(),
            });
        }
    }
    Ok(Pushed { digest: req.manifest.to_string(), size: manifest.len() })
}

fn push_blob(blobs: &BlobStore, reg: &Registry, repo: &str, scope: &str, d: &Digest, req: &PushRequest) -> Result<(), RegistryError> {
    // docker reports layers, one line each; the config blob goes up without a line.
    let report = |p: Progress<'_>| {
        if *d != req.config {
            (req.progress)(p);
        }
    };
    let head = reg.send("HEAD", &format!("{repo}/blobs/{d}"), scope, &[], Payload::None)?;
    match head.status().as_u16() {
        200 => {
            report(Progress::Exists(d));
            return Ok(());
        }
        401 | 403 => return Err(RegistryError::Unauthorized(format!("{} (push to {repo})", reg.host))),
        _ => {}
    }
    let path = blobs.path(d);
    let size = blobs.size(d)?;
    // A mount from a repository that has it answers 201 and ends here; otherwise (202) it
    // opens an ordinary upload session.
    let mut start = None;
    for from in req.mount_from.iter().filter(|f| f.as_str() != repo) {
        let resp = reg.send(
            "POST",
            &format!("{repo}/blobs/uploads/?mount={}&from={from}", d.as_str().replace(':', "%3A")),
            scope,
            &[],
            Payload::None,
        )?;
        match resp.status().as_u16() {
            201 => {
                report(Progress::Mounted(d));
                return Ok(());
            }
            202 => {
                start = Some(resp);
                break;
            }
            _ => {}
        }
    }
    let mut resp = match start {
        Some(r) => r,
        None => reg.send("POST", &format!("{repo}/blobs/uploads/"), scope, &[], Payload::None)?,
    };
    if resp.status().as_u16() != 202 {
        return Err(reg.status_error(&format!("start an upload of {d} to {repo}"), &mut resp));
    }
    let mut url = location(reg, &resp)?;
    let len = size.to_string();
    let mut resp = if size <= MONOLITHIC_MAX {
        reg.send(
            "PUT",
            &with_digest(&url, d),
            scope,
            &[("Content-Type", "application/octet-stream"), ("Content-Length", &len)],
            Payload::File(&path),
        )?
    } else {
        let mut patch = reg.send("PATCH", &url, scope, &[("Content-Type", "application/octet-stream")], Payload::File(&path))?;
        if patch.status().as_u16() != 202 {
            return Err(reg.status_error(&format!("upload {d} to {repo}"), &mut patch));
        }
        url = location(reg, &patch)?;
        reg.send("PUT", &with_digest(&url, d), scope, &[("Content-Length", "0")], Payload::None)?
    };
    match resp.status().as_u16() {
        201 | 204 => {
            report(Progress::Pushed(d));
            Ok(())
        }
        _ => Err(reg.status_error(&format!("upload {d} to {repo}"), &mut resp)),
    }
}
