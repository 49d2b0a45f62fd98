//! `doca create` (and the first half of `doca run`): a container record and its directory.
//! Everything that can be checked without a root filesystem is checked here, so that a bad
//! request fails before anything exists.

use super::record::{validate_name, Container, ContainerId, ContainerState, CreateContainer};
use super::spec::{self, RunOptions};
use crate::{Engine, EngineError};

impl Engine {
    #[tracing::instrument(level = "debug", skip_all, fields(image = %req.image, name = ?req.name), err(level = "debug"))]
    pub fn create_container(&mut self, req: &CreateContainer) -> Result<Container, EngineError> {
        super::validate::check_create(req)?;
        if let (Some(why), Some(flag)) = (crate::rootless::no_cgroups(), limit_flag(&req.resources)) {
            return Err(EngineError::InvalidArgument(format!("{flag}: rootless, {why}: the limit would not hold, so it is refused")));
        }
        let image = self.resolve_image(&req.image)?.image;
        let image_config = self.image_config(&image.id)?.config.unwrap_or_default();
        if let Some(n) = &req.name {
            validate_name(n.strip_prefix('/').unwrap_or(n))?;
        }
        for m in req.mounts.iter().filter(|m| m.kind == super::mounts::MountKind::Bind) {
            if !m.create_source && !std::path::Path::new(&m.source).exists() {
                return Err(EngineError::InvalidArgument(format!(
                    "invalid mount config for type \"bind\": bind source path does not exist: {}",
                    m.source
                )));
            }
            self.bind_source(m)?;
        }
        for n in req.network.networks() {
            self.check_network_exists(&n)?;
        }
        if let super::spec::NetworkMode::Container(other) = &req.network {
            self.container(other)?;
        }
        // Links name containers that exist now (docker: "could not get container for NAME").
        let mut links = Vec::new();
        for l in &req.links {
            let (target, alias) = l.split_once(':').unwrap_or((l, l));
            let target = target.trim_start_matches('/');
            let alias = alias.rsplit('/').next().unwrap_or(alias);
            if matches!(req.network, super::NetworkMode::Host | super::NetworkMode::Container(_) | super::NetworkMode::None) {
                return Err(EngineError::InvalidArgument("conflicting options: links and the network mode".into()));
            }
            let linked =
                self.container(target).map_err(|_| EngineError::InvalidArgument(format!("could not get container for {target}")))?;
            links.push(format!("{}:{alias}", linked.name));
        }
        // The spec is built once now for its checks (command, capabilities, working directory,
        // seccomp profile); start builds it again with the real user and rootfs.
        spec::oci_spec(&image_config, &RunOptions::from_request(req, "check", Default::default(), "/".into(), String::new()))?;
        if req.init {
            self.init_binary()?;
        }
        super::runtime::OciRuntime::resolve(&req.runtime, &super::runtime::Helpers::locate()?, &self.config().run_root)?;

        // Held until the record (with its range of ids) is in the store.
        let (id_map, _userns_lock) = self.choose_id_map(req)?;
        let id = ContainerId::random()?;
        let mut c = Container {
            id: id.clone(),
            name: String::new(),
            image_id: image.id.clone(),
            created: doca_image::config::rfc3339_nano(crate::now()),
            config: CreateContainer { links, id_map, ..req.clone() },
            state: ContainerState::default(),
        };
        // With the host's network a container keeps the host's name unless given one, and
        // says so in its config (moby daemon/container_operations.go initializeNetworking).
        if req.network == super::NetworkMode::Host && req.hostname.as_deref().unwrap_or_default().is_empty() {
            c.config.hostname = Some(host_name());
        }
        let paths = self.container_paths(&id);
        std::fs::create_dir_all(&paths.dir).map_err(EngineError::io("create", &paths.dir))?;
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
        let mut given = req.mounts.clone();
        for spec in &req.volumes_from {
            match self.mounts_from(spec, &given) {
                Ok(more) => given.extend(more),
                Err(e) => {
                    let _ = self.store.db.write(|tx| tx.delete_container(c.id.as_str()));
                    let _ = std::fs::remove_dir_all(&paths.dir);
                    return Err(e);
                }
            }
        }
        // Volumes are made once the name is the container's: a refused name makes none.
        let volumes_of = if req.no_image_volumes { &doca_image::config::ContainerConfig::default() } else { &image_config };
        match self.resolve_mounts(volumes_of, &given) {
            Ok(mounts) => {
                c.config.mounts = mounts;
                let config = serde_json::to_string(&c.config).expect("json");
                self.store.db.write(|tx| tx.set_container_config(c.id.as_str(), &config))?;
            }
            Err(e) => {
                let _ = self.store.db.write(|tx| tx.delete_container(c.id.as_str()));
                let _ = std::fs::remove_dir_all(&paths.dir);
                return Err(e);
            }
        }
        self.container_event(&c, "create", &[]);
        Ok(c)
    }

    /// `--volumes-from CONTAINER[:ro|rw]`: that container's volumes and binds at the same
    /// targets (unless this one mounts something there), read-only or not as asked, else as
    /// there. They stay the other container's: this one's `rm -v` leaves them.
    fn mounts_from(&mut self, spec: &str, given: &[super::mounts::MountSpec]) -> Result<Vec<super::mounts::MountSpec>, EngineError> {
        let (name, mode) = match spec.rsplit_once(':') {
            Some((n, m @ ("ro" | "rw"))) => (n, Some(m == "ro")),
            Some((_, m)) => return Err(EngineError::InvalidArgument(format!("invalid mode for volumes-from: {m}"))),
            None => (spec, None),
        };
        let other = self.container(name)?;
        Ok(other
            .config
            .mounts
            .into_iter()
            .filter(|m| m.kind != super::mounts::MountKind::Tmpfs && !given.iter().any(|g| g.target == m.target))
            .map(|mut m| {
                m.readonly = mode.unwrap_or(m.readonly);
                m.anonymous = false;
                m
            })
            .collect())
    }

    /// The mounts as they will be: named volumes made if missing, anonymous ones made, and
    /// an anonymous volume for each path of the image's VOLUME list that nothing covers.
    fn resolve_mounts(
        &mut self,
        image: &doca_image::config::ContainerConfig,
        given: &[super::mounts::MountSpec],
    ) -> Result<Vec<super::mounts::MountSpec>, EngineError> {
        use super::mounts::{MountKind, MountSpec};
        let mut mounts = given.to_vec();
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        for path in image.volumes.iter().flat_map(|v| v.keys()) {
            if !mounts.iter().any(|m| same(&m.target, path)) {
                mounts.push(MountSpec { anonymous: true, ..MountSpec::new(MountKind::Volume, String::new(), path.clone(), false) });
            }
        }
        let mut made: Vec<String> = Vec::new();
        for m in &mut mounts {
            if m.kind != MountKind::Volume {
                continue;
            }
            let req = crate::volumes::CreateVolume {
                name: (!m.source.is_empty()).then(|| m.source.clone()),
                anonymous: m.source.is_empty(),
                options: m.volume_options.clone(),
                ..Default::default()
            };
            match self.create_volume(&req) {
                Ok(v) => {
                    if m.source.is_empty() {
                        made.push(v.name.clone());
                    }
                    m.source = v.name;
                }
                Err(e) => {
                    for n in made {
                        let _ = self.remove_volume(&n, true);
                    }
                    return Err(e);
                }
            }
        }
        Ok(mounts)
    }
}

/// This host's name, as uname(2) gives it (what `hostname` prints on the host).
fn host_name() -> String {
    rustix::system::uname().nodename().to_string_lossy().into_owned()
}

/// The first limit flag `r` sets that needs a cgroup (docker's flag names).
fn limit_flag(r: &super::config::Resources) -> Option<&'static str> {
    [
        (r.memory != 0, "--memory"),
        (r.memory_swap != 0, "--memory-swap"),
        (r.memory_reservation != 0, "--memory-reservation"),
        (r.nano_cpus != 0, "--cpus"),
        (r.cpu_shares != 0, "--cpu-shares"),
        (r.cpu_quota != 0, "--cpu-quota"),
        (r.cpu_period != 0, "--cpu-period"),
        (!r.cpuset_cpus.is_empty(), "--cpuset-cpus"),
        (!r.cpuset_mems.is_empty(), "--cpuset-mems"),
        (r.pids_limit > 0, "--pids-limit"),
        (r.oom_kill_disable, "--oom-kill-disable"),
    ]
    .into_iter()
    .find_map(|(set, flag)| set.then_some(flag))
}
