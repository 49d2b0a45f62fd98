//! `doca image inspect`: an image as docker's ImageInspect (`crate::docker`).

use crate::docker::{Config, GraphDriver, ImageInspect, ImageMetadata, RootFs};
use crate::{Engine, EngineError};
use doca_image::ImageConfig;

impl Engine {
    /// What containers of image `id` run with (its config's `config`), for listings that show
    /// commands.
    pub fn image_run_config(&mut self, id: &doca_store::Digest) -> Result<doca_image::config::ContainerConfig, EngineError> {
        Ok(self.image_config(id)?.config.unwrap_or_default())
    }

    pub(crate) fn image_config(&mut self, id: &doca_store::Digest) -> Result<ImageConfig, EngineError> {
        let bytes = self.store.blobs.read(id)?;
        ImageConfig::from_slice(&bytes).map_err(|e| EngineError::InvalidArgument(format!("image config {id}: {e}")))
    }

    pub fn inspect_image(&mut self, name: &str) -> Result<ImageInspect, EngineError> {
        let img = self.resolve_image(name)?.image;
        let cfg = self.image_config(&img.id)?;
        let repo_tags = self.familiar_tags(&img.id)?;
        let (layers, digests, tag_times) = self.store.db.read(|tx| {
            let tag_times: Vec<i64> = tx.tags()?.into_iter().filter(|(_, id, _)| *id == img.id).map(|(_, _, t)| t).collect();
            Ok((tx.layers(&img.id)?, tx.repo_digests_of(&img.id)?, tag_times))
        })?;
        let dirs: Vec<String> = layers.iter().rev().map(|l| self.store.snapshots.path(&l.chain_id).display().to_string()).collect();
        let data = [("LowerDir".to_string(), dirs.join(":"))].into();
        let last_tag = tag_times.into_iter().max().and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok());
        Ok(ImageInspect {
            id: img.id.to_string(),
            repo_tags,
            repo_digests: digests.iter().map(|d| super::resolve::familiar_repo_digest(d)).collect(),
            parent: String::new(),
            comment: cfg.comment.clone().unwrap_or_default(),
            created: cfg.created.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            container: cfg.extra.get("container").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
            container_config: Config::of_image(
                cfg.extra.get("container_config").and_then(|v| serde_json::from_value(v.clone()).ok()).as_ref(),
            ),
            docker_version: cfg.extra.get("docker_version").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
            author: cfg.author.clone().unwrap_or_default(),
            config: Config::of_image(cfg.config.as_ref()),
            architecture: cfg.architecture.clone(),
            variant: cfg.variant.clone(),
            os: cfg.os.clone(),
            size: img.size,
            virtual_size: img.size,
            graph_driver: GraphDriver { data, name: "overlay".into() },
            rootfs: RootFs { kind: "layers".into(), layers: cfg.rootfs.diff_ids.iter().map(|d| d.to_string()).collect() },
            metadata: ImageMetadata {
                last_tag_time: last_tag.map(doca_image::config::rfc3339_nano).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            },
        })
    }
}
