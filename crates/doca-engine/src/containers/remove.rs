//! `doca rm` and `container prune`: the record, the writable layer, the logs and the runtime
//! state all go; a running container only with `force`.

use super::record::{Container, Status};
use crate::{Engine, EngineError};

impl Engine {
    /// `volumes`: also the container's anonymous volumes (`rm -v`); named ones always stay.
    #[tracing::instrument(level = "debug", skip_all, fields(container = name, force, volumes), err(level = "debug"))]
    pub fn remove_container(&mut self, name: &str, force: bool, volumes: bool) -> Result<Container, EngineError> {
        // One removal at a time: the others then find no container, and say so.
        let found = self.container(name)?;
        let _lock = self.lock_container(&found.id)?;
        let mut c = self.container(found.id.as_str()).map_err(|_| EngineError::NoSuchContainer(name.to_string()))?;
        if c.state.status.is_live() || c.state.status == Status::Restarting {
            if !force {
                let what = if c.state.status == Status::Paused { "paused" } else { "running" };
                return Err(EngineError::Conflict(format!(
                    "You cannot remove a {what} container {}. Stop the container before attempting removal or force remove",
                    c.id
                )));
            }
            c.state.stopped_by_user = true;
            self.save_state(&c)?;
            let rt = self.runtime_of(&c)?;
            let _ = rt.kill(c.id.as_str(), "SIGKILL", true);
            let _ = rt.resume(c.id.as_str());
            self.wait_exit(&c, None)?;
        }
        self.delete_container(&c)?;
        if volumes {
            self.remove_anonymous_volumes(&c)?;
        }
        Ok(c)
    }

    /// Removes what a stopped container left; safe to call twice (the exit command of an
    /// `--rm` container and `rm -f` may race).
    pub(crate) fn delete_container(&mut self, c: &Container) -> Result<(), EngineError> {
        self.delete_container_files(c, true)
    }

    pub(crate) fn delete_container_files(&mut self, c: &Container, runtime: bool) -> Result<(), EngineError> {
        self.unmount_container(&c.id)?;
        self.release_resources(c)?;
        if let (true, Ok(rt)) = (runtime, self.runtime_of(c)) {
            if rt.root.join(c.id.as_str()).exists() {
                let _ = rt.delete_force(c.id.as_str());
            }
        }
        self.release_userns_area(&c.id, true);
        let paths = self.container_paths(&c.id);
        for d in [&paths.dir, &paths.run] {
            match std::fs::remove_dir_all(d) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(EngineError::io("remove", d)(e)),
            }
        }
        self.store.db.write(|tx| tx.delete_container(c.id.as_str()))?;
        // An image `rmi -f` hid goes with its last container.
        if self.store.db.read(|tx| tx.image_removed(&c.image_id))? {
            self.delete_image(&c.image_id)?;
        }
        self.forget_container_lock(&c.id);
        self.container_event(c, "destroy", &[]);
        Ok(())
    }

    pub(crate) fn remove_anonymous_volumes(&mut self, c: &Container) -> Result<(), EngineError> {
        for m in c.config.mounts.iter().filter(|m| m.anonymous && m.kind == super::mounts::MountKind::Volume) {
            match self.remove_volume(&m.source, true) {
                // Another container uses it (--volumes-from): it stays, as in docker.
                Ok(()) | Err(EngineError::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// `doca container prune`: every stopped container the filters let go; returns them and
    /// the bytes their writable layers held.
    pub fn prune_containers(&mut self, filters: &crate::prune::PruneFilters) -> Result<Vec<(Container, u64)>, EngineError> {
        let mut out = Vec::new();
        for c in self.containers()? {
            if matches!(c.state.status, Status::Created | Status::Exited | Status::Dead) && filters.allows(&c.created, &c.config.labels) {
                let size = super::list::dir_size(&self.container_paths(&c.id).dir.join("upper"));
                self.delete_container(&c)?;
                out.push((c, size));
            }
        }
        Ok(out)
    }
}
