//! `doca push`: a tagged image's blobs and manifest to its registry (doca-image's registry
//! client); the pushed digest becomes one of the image's RepoDigests, as docker records it.

use crate::{Engine, EngineError};
use doca_image::ingest::LayerBlob;
use doca_image::registry::push::{PushRequest, Pushed};
use doca_image::Reference;

pub use doca_image::registry::push::Progress as PushProgress;

#[derive(Debug, Clone)]
pub struct PushResult {
    pub reference: Reference,
    pub digest: String,
    pub size: usize,
}

#[derive(Debug, Clone, Default)]
pub struct PushImage {
    /// The tag to push (`:latest` when no tag is given).
    pub name: String,
    /// Credentials for this push (the API's `X-Registry-Auth`); otherwise the stored login.
    pub auth: Option<super::pull::RegistryAuth>,
}

impl Engine {
    /// Pushes the image tagged `req.name`.
    #[tracing::instrument(level = "debug", skip_all, fields(image = %req.name), err(level = "debug"))]
    pub fn push_image(&mut self, req: &PushImage, progress: &(dyn Fn(PushProgress) + Sync)) -> Result<PushResult, EngineError> {
        let name = req.name.as_str();
        let reference = Reference::parse(name).map_err(|source| EngineError::BadReference { input: name.to_string(), source })?;
        if reference.digest().is_some() {
            return Err(EngineError::InvalidArgument(format!("cannot push a digest reference: {name}")));
        }
        let reference = if reference.tag().is_none() { reference.with_tag("latest") } else { reference };
        let id = self.store.db.read(|tx| tx.tag_target(&reference.to_string()))?.ok_or_else(|| {
            EngineError::InvalidArgument(format!("An image does not exist locally with the tag: {}", reference.familiar_name()))
        })?;
        let (row, layers, repo_digests) = self.store.db.read(|tx| Ok((tx.image(&id)?, tx.layers(&id)?, tx.repo_digests_of(&id)?)))?;
        let row = row.ok_or_else(|| EngineError::NoSuchImage(reference.familiar()))?;
        let manifest_json: serde_json::Value = serde_json::from_slice(&self.store.blobs.read(&row.manifest)?)
            .map_err(|e| EngineError::Internal(format!("manifest {}: {e}", row.manifest)))?;
        let media_type = manifest_json["mediaType"].as_str().unwrap_or(doca_image::media::OCI_MANIFEST).to_string();
        // Repositories of the same registry that have this image: blobs can be mounted from them.
        let mount_from = repo_digests
            .iter()
            .filter_map(|d| Reference::parse(d).ok())
            .filter(|r| r.domain() == reference.domain())
            .map(|r| r.path().to_string())
            .collect();
        let config = super::pull::registry_config()?;
        let credentials = super::pull::credentials(req.auth.as_ref(), reference.domain())?;
        let pushed: Pushed = doca_image::registry::push::push(
            &self.store.blobs,
            &PushRequest {
                reference: reference.clone(),
                manifest: row.manifest.clone(),
                manifest_media_type: media_type,
                config: id.clone(),
                layers: layers.into_iter().map(|l| LayerBlob { digest: l.blob, media_type: l.media_type }).collect(),
                mount_from,
                config_file: &config,
                credentials,
                progress,
            },
        )?;
        let repo_digest = format!("{}@{}", reference.name(), pushed.digest);
        self.store.db.write(|tx| tx.add_repo_digest(&repo_digest, &id))?;
        self.emit("image", "push", &reference.familiar(), &[("name", &reference.familiar())]);
        Ok(PushResult { reference, digest: pushed.digest, size: pushed.size })
    }
}
