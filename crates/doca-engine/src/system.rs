//! `doca system df`, `doca system check` and `doca system boot`.

use crate::{Engine, EngineError};
pub use doca_store::check::CheckReport;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct DiskUsage {
    pub images: usize,
    pub images_active: usize,
    /// Bytes on disk for images: blobs (as stored) plus unpacked snapshots.
    pub images_size: u64,
    pub images_reclaimable: u64,
    pub containers: usize,
    pub containers_active: usize,
    /// Bytes in the containers' writable layers; reclaimable: those of stopped ones.
    pub containers_size: u64,
    pub containers_reclaimable: u64,
    pub volumes: usize,
    pub volumes_active: usize,
    pub volumes_size: u64,
    /// Bytes in volumes no container uses.
    pub volumes_reclaimable: u64,
    /// Build cache entries (intermediate images), and the bytes only they hold: the layers
    /// they added plus the `RUN --mount=type=cache` directories. All reclaimable.
    pub build_cache: usize,
    pub build_cache_size: u64,
}

impl Engine {
    pub fn disk_usage(&mut self) -> Result<DiskUsage, EngineError> {
        let (images, snaps) = self.store.db.read(|tx| Ok((tx.images()?, tx.snapshots()?)))?;
        let blobs = self.store.blobs.list()?.blobs;
        let size = blobs.iter().map(|(_, s)| *s).sum::<u64>() + snaps.iter().map(|s| s.size as u64).sum::<u64>();
        let containers = self.containers()?;
        let used: std::collections::HashSet<&doca_store::Digest> = containers.iter().map(|c| &c.image_id).collect();
        // An image is reclaimable when no container uses it (docker's accounting, by image size).
        let reclaim: u64 = images.iter().filter(|i| !used.contains(&i.id)).map(|i| i.size.max(0) as u64).sum();
        let mut du = DiskUsage {
            images: images.len(),
            images_active: used.len(),
            images_size: size,
            images_reclaimable: reclaim.min(size),
            containers: containers.len(),
            ..Default::default()
        };
        for c in &containers {
            let bytes = crate::containers::list::dir_size(&self.container_paths(&c.id).dir.join("upper"));
            du.containers_size += bytes;
            if c.state.status.is_live() {
                du.containers_active += 1;
            } else {
                du.containers_reclaimable += bytes;
            }
        }
        let unused: std::collections::HashSet<String> =
            self.list_volumes(&[crate::volumes::VolumeFilter::Dangling(true)])?.into_iter().map(|v| v.name).collect();
        for v in self.list_volumes(&[])? {
            let bytes = crate::containers::list::dir_size(&v.mountpoint);
            du.volumes += 1;
            du.volumes_size += bytes;
            if unused.contains(&v.name) {
                du.volumes_reclaimable += bytes;
            } else {
                du.volumes_active += 1;
            }
        }
        let (entries, mounts) = self.build_cache_usage()?;
        du.build_cache = entries;
        du.build_cache_size = mounts + self.build_cache_layers_size()?;
        Ok(du)
    }

    /// `doca system boot`, for an init system to run once at boot: every container whose
    /// monitor is gone is recorded as exited (listing does that), then those whose restart
    /// policy says so start again, as dockerd does when it starts: `always`, `unless-stopped`
    /// unless stopped by the user, `on-failure` when the host took it down. Returns the names
    /// started and the failures.
    pub fn boot(&mut self) -> Result<(Vec<String>, Vec<String>), EngineError> {
        use crate::containers::{RestartPolicy, StartContainer, Status};
        let mut started = Vec::new();
        let mut failed = Vec::new();
        for c in self.containers()? {
            if c.state.status != Status::Exited && c.state.status != Status::Restarting {
                continue;
            }
            let go = !c.state.stopped_by_user
                && match c.config.restart {
                    RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
                    RestartPolicy::OnFailure { .. } => c.state.interrupted,
                    RestartPolicy::No => false,
                };
            if go {
                match self.start_container(c.id.as_str(), &StartContainer::default()) {
                    Ok(_) => started.push(c.name.clone()),
                    Err(e) => failed.push(format!("{}: {e}", c.name)),
                }
            }
        }
        Ok((started, failed))
    }

    /// The store's content, then what killed processes left: networking (`check_networks`),
    /// containers' mounts, runtime state and cgroups (`check_containers`), interrupted builds
    /// (`check_builds`).
    pub fn check_store(&mut self, repair: bool) -> Result<CheckReport, EngineError> {
        let mut report = self.store.check(repair)?;
        report.dangling.extend(self.check_networks(repair)?);
        report.dangling.extend(self.check_containers(repair)?);
        report.dangling.extend(self.check_builds(repair)?);
        Ok(report)
    }
}
