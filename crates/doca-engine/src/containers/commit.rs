//! `doca commit`: a new image from a container's changes, with the container's configuration
//! (as docker makes it: the image's config with the container's command, environment, user,
//! working directory and labels over it, then `--change`).

use super::diff::{write_tar, TarKind};
use super::record::Status;
use crate::{Engine, EngineError};
use doca_image::change::apply_change;
use doca_image::ingest::LayerBlob;
use doca_image::unpack::UnpackOptions;

#[derive(Debug, Clone, Default)]
pub struct CommitContainer {
    pub container: String,
    pub reference: Option<String>,
    pub author: Option<String>,
    pub message: Option<String>,
    pub changes: Vec<String>,
    /// Freeze a running container while its layer is read (docker's default).
    pub pause: bool,
}

impl Engine {
    pub fn commit_container(&mut self, req: &CommitContainer) -> Result<doca_store::Digest, EngineError> {
        let c = self.container(&req.container)?;
        let tag = req.reference.as_deref().map(crate::images::tag::parse_target).transpose()?;
        let parent = self.image_config(&c.image_id)?;
        let mut cc = parent.config.clone().unwrap_or_default();
        let r = &c.config;
        if let Some(ep) = &r.entrypoint {
            cc.entrypoint = (!ep.is_empty()).then(|| ep.clone());
            cc.cmd = None;
        }
        if !r.cmd.is_empty() {
            cc.cmd = Some(r.cmd.clone());
        }
        let mut env = cc.env.clone().unwrap_or_default();
        super::spec::merge_env(&mut env, &r.env);
        cc.env = (!env.is_empty()).then_some(env);
        if let Some(w) = r.working_dir.clone().filter(|w| !w.is_empty()) {
            cc.working_dir = Some(w);
        }
        if let Some(u) = r.user.clone().filter(|u| !u.is_empty()) {
            cc.user = Some(u);
        }
        if !r.labels.is_empty() {
            let mut labels = cc.labels.clone().unwrap_or_default();
            labels.extend(r.labels.clone());
            cc.labels = Some(labels);
        }
        if let Some(s) = &r.stop_signal {
            cc.stop_signal = Some(s.clone());
        }
        for ch in &req.changes {
            apply_change(&mut cc, ch).map_err(|e| EngineError::InvalidArgument(e.to_string()))?;
        }
        let created_by = super::spec::command(&parent.config.clone().unwrap_or_default(), r).unwrap_or_default().join(" ");
        let parent_layers: Vec<LayerBlob> = self
            .store
            .db
            .read(|tx| tx.layers(&c.image_id))?
            .into_iter()
            .map(|l| LayerBlob { digest: l.blob, media_type: l.media_type })
            .collect();
        let upper = self.container_paths(&c.id).dir.join("upper");
        let lowers: Vec<std::path::PathBuf> =
            self.store.db.read(|tx| tx.layers(&c.image_id))?.iter().rev().map(|l| self.store.snapshots.path(&l.chain_id)).collect();
        // Rootless without a cgroup there is no freezer: the layer is read from the running
        // container, as `--pause=false` does (Podman's default).
        let pause = req.pause && crate::rootless::no_cgroups().is_none();
        let rt = if pause && c.state.status == Status::Running { Some(self.runtime_of(&c)?) } else { None };
        if let Some(rt) = &rt {
            rt.pause(c.id.as_str())?;
        }
        let mut write_layer = |w: &mut dyn std::io::Write| -> std::io::Result<()> {
            if upper.is_dir() {
                write_tar(&upper, TarKind::Layer(&lowers), None, None, w).map_err(|e| std::io::Error::other(e.to_string()))
            } else {
                // A container never started has no writable layer yet: an empty layer.
                tar::Builder::new(w).finish()
            }
        };
        let committed = doca_image::commit::commit(
            &mut self.store,
            doca_image::commit::CommitRequest {
                container: c.name.clone(),
                parent,
                parent_layers,
                config: cc,
                author: req.author.clone(),
                comment: req.message.clone(),
                created_by,
                tag,
                now: crate::now(),
                unpack: UnpackOptions::default(),
                write_layer: &mut write_layer,
            },
        );
        if let Some(rt) = &rt {
            rt.resume(c.id.as_str())?;
        }
        let committed = committed?;
        self.container_event(&c, "commit", &[("comment", req.message.as_deref().unwrap_or(""))]);
        Ok(committed.id)
    }
}
