//! `doca create` (and the first half of `doca run`): a container record and its directory.
//! Everything that can be checked without a root filesystem is checked here, so that a bad
//! request fails before anything exists.

use super::record::{validate_name, Container, ContainerId, ContainerState, CreateContainer};
use super::spec::{self, RunOptions};
use crate::{Engine, EngineError};

impl Engine {
    pub fn create_container(&mut self, req: &CreateContainer) -> Result<Container, EngineError> {
        let image = self.resolve_image(&req.image)?.image;
        let image_config = self.image_config(&image.id)?.config.unwrap_or_default();
        if let Some(n) = &req.name {
            validate_name(n.strip_prefix('/').unwrap_or(n))?;
        }
        // The spec is built once now for its checks (command, capabilities, working directory,
        // seccomp profile); start builds it again with the real user and rootfs.
        spec::oci_spec(&image_config, &RunOptions::from_request(req, "check", Default::default(), "/".into(), String::new()))?;
        if req.init {
            self.init_binary()?;
        }
        super::runtime::OciRuntime::resolve(&req.runtime, &super::runtime::Helpers::locate()?, &self.config().run_root)?;

        let id = ContainerId::random()?;
        let mut c = Container {
            id: id.clone(),
            name: String::new(),
            image_id: image.id.clone(),
            created: doca_image::config::rfc3339_nano(crate::now()),
            config: req.clone(),
            state: ContainerState::default(),
        };
        let paths = self.container_paths(&id);
        std::fs::create_dir_all(&paths.dir).map_err(|e| EngineError::Internal(format!("create {}: {e}", paths.dir.display())))?;
        let inserted = (|| {
            if let Some(n) = &req.name {
                c.name = n.strip_prefix('/').unwrap_or(n).to_string();
                let row = c.to_row();
                if !self.store.db.write(|tx| tx.insert_container(&row))? {
                    let holder = self.store.db.read(|tx| tx.container_by_name(&c.name))?.map(|r| r.id).unwrap_or_default();
                    return Err(EngineError::NameInUse { name: c.name.clone(), id: holder });
                }
                return Ok(());
            }
            for retry in 0..10 {
                c.name = super::names::generate(&super::record::random_bytes::<3>()?, retry);
                let row = c.to_row();
                if self.store.db.write(|tx| tx.insert_container(&row))? {
                    return Ok(());
                }
            }
            Err(EngineError::Internal("could not find a free container name".into()))
        })();
        if let Err(e) = inserted {
            let _ = std::fs::remove_dir_all(&paths.dir);
            return Err(e);
        }
        self.container_event(&c, "create", &[]);
        Ok(c)
    }
}
