//! `doca image inspect`: Docker's ImageInspect JSON shape (Engine API v1.41+ `GET
//! /images/{name}/json`), shared with the API server because the docker CLI prints it as is.

use crate::{Engine, EngineError};
use doca_image::config::ContainerConfig;
use doca_image::ImageConfig;
use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    pub docker_version: String,
    pub author: String,
    pub config: Value,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub os: String,
    pub size: i64,
    pub graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    pub rootfs: RootFs,
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphDriver {
    pub data: Map<String, Value>,
    pub name: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    #[serde(rename = "Type")]
    pub kind: String,
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Metadata {
    pub last_tag_time: String,
}

/// Docker's container.Config as images carry it: every field present, as dockerd prints them.
pub fn docker_config(c: Option<&ContainerConfig>) -> Value {
    let d = ContainerConfig::default();
    let c = c.unwrap_or(&d);
    let extra_str = |k: &str| c.extra.get(k).cloned().unwrap_or(Value::String(String::new()));
    let extra_bool = |k: &str| c.extra.get(k).cloned().unwrap_or(Value::Bool(false));
    let mut m = Map::new();
    m.insert("Hostname".into(), extra_str("Hostname"));
    m.insert("Domainname".into(), extra_str("Domainname"));
    m.insert("User".into(), c.user.clone().unwrap_or_default().into());
    for k in ["AttachStdin", "AttachStdout", "AttachStderr"] {
        m.insert(k.into(), extra_bool(k));
    }
    if let Some(p) = &c.exposed_ports {
        m.insert("ExposedPorts".into(), serde_json::to_value(p).expect("json"));
    }
    for k in ["Tty", "OpenStdin", "StdinOnce"] {
        m.insert(k.into(), extra_bool(k));
    }
    m.insert("Env".into(), serde_json::to_value(&c.env).expect("json"));
    m.insert("Cmd".into(), serde_json::to_value(&c.cmd).expect("json"));
    if let Some(h) = &c.healthcheck {
        m.insert("Healthcheck".into(), h.clone());
    }
    if let Some(a) = c.args_escaped {
        m.insert("ArgsEscaped".into(), a.into());
    }
    m.insert("Image".into(), extra_str("Image"));
    m.insert("Volumes".into(), serde_json::to_value(&c.volumes).expect("json"));
    m.insert("WorkingDir".into(), c.working_dir.clone().unwrap_or_default().into());
    m.insert("Entrypoint".into(), serde_json::to_value(&c.entrypoint).expect("json"));
    m.insert("OnBuild".into(), serde_json::to_value(&c.on_build).expect("json"));
    m.insert("Labels".into(), serde_json::to_value(&c.labels).expect("json"));
    if let Some(s) = &c.stop_signal {
        m.insert("StopSignal".into(), s.clone().into());
    }
    if let Some(s) = &c.shell {
        m.insert("Shell".into(), serde_json::to_value(s).expect("json"));
    }
    Value::Object(m)
}

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
        let mut data = Map::new();
        data.insert("LowerDir".into(), dirs.join(":").into());
        let last_tag = tag_times.into_iter().max().and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok());
        Ok(ImageInspect {
            id: img.id.to_string(),
            repo_tags,
            repo_digests: digests.iter().map(|d| super::resolve::familiar_repo_digest(d)).collect(),
            parent: String::new(),
            comment: cfg.comment.clone().unwrap_or_default(),
            created: cfg.created.clone().unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            docker_version: cfg.extra.get("docker_version").and_then(|v| v.as_str()).unwrap_or_default().to_string(),
            author: cfg.author.clone().unwrap_or_default(),
            config: docker_config(cfg.config.as_ref()),
            architecture: cfg.architecture.clone(),
            variant: cfg.variant.clone(),
            os: cfg.os.clone(),
            size: img.size,
            graph_driver: GraphDriver { data, name: "overlay".into() },
            rootfs: RootFs { kind: "layers".into(), layers: cfg.rootfs.diff_ids.iter().map(|d| d.to_string()).collect() },
            metadata: Metadata {
                last_tag_time: last_tag.map(doca_image::config::rfc3339_nano).unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
            },
        })
    }
}
