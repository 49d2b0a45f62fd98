//! `doca start` (and the second half of `doca run`): mount the writable layer, resolve the
//! user in the image, write the OCI bundle, start the monitor (which creates the container
//! through the runtime), attach if asked, then let the process run.

use super::attach::{Attach, AttachStreams};
use super::record::{Container, ContainerId, Status};
use super::runtime::{Helpers, OciRuntime};
use super::spec::{self, RunOptions};
use super::user::{self, ExecUser};
use crate::{Engine, EngineError};
use doca_shim::{Reply, StartCause};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// doca-init, compiled by build.rs (empty where it is not supported).
const DOCA_INIT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/doca-init"));

/// docker's default: json-file logs, rotated here by default (10 MB × 3) so that a chatty
/// container cannot fill the disk.
pub const DEFAULT_LOG_MAX_SIZE: u64 = 10 << 20;
pub const DEFAULT_LOG_MAX_FILES: u32 = 3;

/// What a launch left running: the container's init and its monitor.
struct Launched {
    pid: i32,
    monitor: Option<super::record::MonitorId>,
}

#[derive(Debug, Clone, Default)]
pub struct StartContainer {
    /// Attach these streams before the process starts, so no output is missed.
    pub attach: Option<AttachStreams>,
    /// The user's terminal (rows, columns): the container's pty starts with this size, so a
    /// program that asks at once gets the right answer.
    pub console_size: Option<(u16, u16)>,
}

/// Reads a regular file of the container's root through doca-fs: an image's
/// `/etc/passwd -> /host/file` symlink cannot make doca read a host file, nor a FIFO there
/// make it wait forever.
pub(crate) fn read_in_root(root: &Path, path: &str) -> Option<String> {
    let bytes = doca_fs::Root::open(root).ok()?.read_file(Path::new(path), 16 << 20).ok()?;
    String::from_utf8(bytes).ok()
}

/// The user a container's process runs as: `--user` or the image's User, then `--group-add`.
#[cfg(test)]
pub(crate) fn resolve_user(rootfs: &Path, spec_user: &str, group_add: &[String]) -> Result<ExecUser, EngineError> {
    let passwd = read_in_root(rootfs, "etc/passwd");
    let group = read_in_root(rootfs, "etc/group");
    resolve_user_in(passwd.as_deref(), group.as_deref(), spec_user, group_add)
}

/// `resolve_user` against the given passwd and group files.
pub(crate) fn resolve_user_in(
    passwd: Option<&str>,
    group: Option<&str>,
    spec_user: &str,
    group_add: &[String],
) -> Result<ExecUser, EngineError> {
    let mut u = user::resolve(spec_user, passwd, group)?;
    // Where setgroups(2) is denied (rootless, only the user's id mapped) the process keeps no
    // supplementary groups: the image's are dropped, and asking for one is refused by name.
    if doca_mount::userns::setgroups_denied() {
        if let Some(g) = group_add.first() {
            return Err(EngineError::InvalidArgument(format!(
                "--group-add {g}: supplementary groups need subordinate ids (/etc/subuid, /etc/subgid): this user namespace maps only the user's own id"
            )));
        }
        u.additional_gids.clear();
    }
    for g in group_add {
        let gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => group
                .unwrap_or("")
                .lines()
                .find_map(|l| {
                    let f: Vec<&str> = l.split(':').collect();
                    (f.len() >= 3 && f[0] == g).then(|| f[2].parse().ok()).flatten()
                })
                .ok_or_else(|| EngineError::InvalidArgument(format!("Unable to find group {g}: no matching entries in group file")))?,
        };
        if !u.additional_gids.contains(&gid) {
            u.additional_gids.push(gid);
        }
    }
    Ok(u)
}

/// The cgroup file whose `oom_kill` count tells that the kernel killed the container for
/// memory: memory.events on cgroup v2, memory.oom_control on v1.
fn oom_file(cgroups_path: &str) -> Option<PathBuf> {
    let rel = cgroups_path.trim_start_matches('/');
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        Some(root.join(rel).join("memory.events"))
    } else if root.join("memory").is_dir() {
        Some(root.join("memory").join(rel).join("memory.oom_control"))
    } else {
        None
    }
}

/// The published ports the monitor relays from `[::]` (docker-proxy's IPv6 side): those
/// without a host address, TCP and UDP, when the host has IPv6.
fn ipv6_relays(endpoints: &[crate::networks::attach::Endpoint]) -> Vec<doca_shim::ProxyConfig> {
    if !crate::networks::publishes_on_ipv6() {
        return Vec::new();
    }
    endpoints
        .iter()
        .flat_map(|e| e.config.ports.iter().map(move |p| (e.ip, p)))
        .filter(|(_, p)| p.host_ip.is_none() && p.container.proto != doca_net::ports::Proto::Sctp)
        .map(|(ip, p)| doca_shim::ProxyConfig {
            proto: p.container.proto.name().to_string(),
            port: p.host_port,
            target: format!("{ip}:{}", p.container.port),
            fd: None,
        })
        .collect()
}

impl Engine {
    /// The passwd and group files a running container's users are looked up in (`exec
    /// --user`): its image's, or those `keep_id_files` gave it.
    pub(crate) fn user_files(&self, c: &Container, rootfs: &Path) -> (Option<String>, Option<String>) {
        if super::keepid::asked(c) {
            let dir = self.container_paths(&c.id).dir;
            let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
            if let (Some(p), Some(g)) = (read("passwd"), read("group")) {
                return (Some(p), Some(g));
            }
        }
        (read_in_root(rootfs, "etc/passwd"), read_in_root(rootfs, "etc/group"))
    }

    /// A keep-id container's /etc/passwd and /etc/group: the image's, with the user's entries
    /// where it has none, written in the container's directory and bound over the image's
    /// (its layer is never changed: `commit` and `diff` do not see them, as Podman's). Returns
    /// the mounts, and the two files' contents.
    fn keep_id_files(
        &self,
        c: &Container,
        rootfs: &Path,
        k: &super::keepid::KeepId,
    ) -> Result<(Vec<oci_spec::runtime::Mount>, String, String), EngineError> {
        let dir = self.container_paths(&c.id).dir;
        let passwd = k.passwd(&read_in_root(rootfs, "etc/passwd").unwrap_or_default());
        let group = k.group(&read_in_root(rootfs, "etc/group").unwrap_or_default());
        let mut out = Vec::new();
        for (name, content) in [("passwd", &passwd), ("group", &group)] {
            let file = dir.join(name);
            // 0644, as the files they stand for: every user of the container reads them.
            std::fs::write(&file, content)
                .and_then(|_| std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)))
                .map_err(EngineError::io("write", &file))?;
            let target = format!("/etc/{name}");
            if !c.config.mounts.iter().any(|m| m.target.trim_end_matches('/') == target) {
                out.push(spec::bind_mount(&target, &file, &["rbind", "ro", "rprivate"])?);
            }
        }
        Ok((out, passwd, group))
    }

    /// The request's files (secrets, configs), written afresh into the container's directory
    /// (root's, 0700) with their owners and modes, as read-only bind mounts.
    fn container_files(&self, c: &Container) -> Result<Vec<oci_spec::runtime::Mount>, EngineError> {
        use std::os::unix::fs::PermissionsExt;
        if c.config.files.is_empty() {
            return Ok(Vec::new());
        }
        let dir = self.bind_dir(c).join("files");
        crate::private_dir(&dir)?;
        // The init opens them as the container's root.
        if let Some(m) = &c.config.id_map {
            std::os::unix::fs::chown(&dir, Some(m.uid), Some(m.gid)).map_err(EngineError::io("chown", &dir))?;
        }
        let mut out = Vec::new();
        for (i, f) in c.config.files.iter().enumerate() {
            let file = dir.join(i.to_string());
            let _ = std::fs::remove_file(&file);
            std::fs::write(&file, &f.content)
                .and_then(|_| std::fs::set_permissions(&file, std::fs::Permissions::from_mode(f.mode & 0o7777)))
                .and_then(|_| {
                    // Owned, on the host, by the ids the container's ids are there.
                    let (uid, gid) = match &c.config.id_map {
                        Some(m) => (m.host_uid(f.uid).unwrap_or(f.uid), m.host_gid(f.gid).unwrap_or(f.gid)),
                        None => (f.uid, f.gid),
                    };
                    std::os::unix::fs::chown(&file, Some(uid), Some(gid))
                })
                .map_err(EngineError::io("write", &file))?;
            out.push(spec::bind_mount(&f.target, &file, &["rbind", "ro", "rprivate"])?);
        }
        Ok(out)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(container = name), err(level = "debug"))]
    pub fn start_container(&mut self, name: &str, req: &StartContainer) -> Result<Option<Attach>, EngineError> {
        // One start at a time: a second one waits, then finds the container running.
        let found = self.container(name)?;
        let _lock = self.lock_container(&found.id)?;
        let mut c = self.container(found.id.as_str())?;
        match c.state.status {
            Status::Running => return Ok(None),
            Status::Paused => return Err(EngineError::Conflict("cannot start a paused container, try unpause instead".into())),
            Status::Removing | Status::Dead => {
                return Err(EngineError::Conflict(format!("container {} is marked for removal and cannot be started", c.id)))
            }
            _ => {}
        }
        let helpers = Helpers::locate()?;
        let runtime = OciRuntime::resolve(&c.config.runtime, &helpers, &self.config().run_root)?
            .logging_to(self.container_paths(&c.id).run.join("runtime.log"));
        let before = c.state.clone();
        // In the user's network namespace when rootless: the monitor, and the container's
        // network, live there (`rootless::in_netns`).
        let launched = crate::rootless::in_netns(|| self.launch(&c, &helpers, &runtime, req)).and_then(|(l, attach)| {
            // Recorded as running before the process may run at all: its exit command (which
            // can come at once) must find the record it is to update.
            c.state.status = Status::Running;
            c.state.pid = l.pid;
            c.state.monitor = l.monitor;
            // The init exists (created, waiting for `start`): its start time cannot be another's.
            c.state.init = super::record::MonitorId::of(l.pid);
            c.state.interrupted = false;
            c.state.error.clear();
            c.state.exit_code = 0;
            c.state.oom_killed = false;
            c.state.stopped_by_user = false;
            c.state.started_at = Some(doca_image::config::rfc3339_nano(crate::now()));
            c.state.finished_at = None;
            c.state.runtime = Some(runtime.binary.clone());
            c.state.runtime_root = Some(runtime.root.clone());
            self.save_state(&c)?;
            if let Err(e) = runtime.start(c.id.as_str()) {
                let _ = runtime.delete_force(c.id.as_str());
                // doca-runc found the command in create; runc execs it in start, and says why
                // it could not only in words (exec format error), read as dockerd reads them.
                let message = e.to_string();
                let cause = StartCause::of_runtime(None, &message);
                return Err(EngineError::StartFailed { message, cause });
            }
            Ok(attach)
        });
        match launched {
            Ok(attach) => {
                if attach.is_some() {
                    self.container_event(&c, "attach", &[]);
                }
                self.container_event(&c, "start", &[]);
                Ok(attach)
            }
            Err(e) => {
                let _ = self.unmount_container(&c.id);
                let _ = self.release_resources(&c);
                // A failed start leaves the container as it was (created, or exited), with the
                // error recorded, as docker does.
                c.state = before;
                if c.state.status == Status::Restarting {
                    c.state.status = Status::Exited;
                }
                if let EngineError::StartFailed { message, cause } = &e {
                    c.state.error = message.clone();
                    c.state.exit_code = cause.exit_code();
                }
                self.save_state(&c)?;
                if c.config.auto_remove {
                    // `--rm`: a container that could not start goes too (docker's daemon
                    // removes it the same way), anonymous volumes with it.
                    let _ = self.delete_container_files(&c, true);
                    let _ = self.remove_anonymous_volumes(&c);
                }
                Err(e)
            }
        }
    }

    /// doca-init on the host, written once per version under `<root>/init/` (by content hash,
    /// so an upgrade never changes the file a running container has mounted).
    pub(crate) fn init_binary(&self) -> Result<PathBuf, EngineError> {
        if DOCA_INIT.is_empty() {
            return Err(EngineError::InvalidArgument(format!("--init: doca's init is not available on {}", std::env::consts::ARCH)));
        }
        let dir = self.config().root.join("init");
        let path = dir.join(format!("doca-init-{}", &doca_store::Digest::of(DOCA_INIT).hex()[..16]));
        if path.exists() {
            return Ok(path);
        }
        let io = |p: &Path, e: std::io::Error| EngineError::io("write", p)(e);
        std::fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let tmp = dir.join(format!(".tmp-{}", std::process::id()));
        std::fs::write(&tmp, DOCA_INIT).map_err(|e| io(&tmp, e))?;
        std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o755)).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io(&path, e))?;
        Ok(path)
    }

    /// The OCI mounts of the container's volumes, binds and tmpfs. An empty volume mounted
    /// where the image has content is first filled with it, owners and modes kept (docker's
    /// copy-up; `nocopy` skips it); a missing `-v` bind source is made a directory.
    /// The container's volumes, binds and tmpfs mounts, as OCI mounts. With a user namespace
    /// (`userns`), a volume is filled from the idmapped rootfs with the container's ids and
    /// mounted idmapped at `<area>/volumes/N` first, so that
    /// its files keep the container's ids on disk, as the layers do; binds are not (a host
    /// file's owner stays the host's).
    fn mount_objects(
        &mut self,
        c: &Container,
        rootfs: &Path,
        userns: Option<&std::os::fd::OwnedFd>,
    ) -> Result<Vec<oci_spec::runtime::Mount>, EngineError> {
        use super::mounts::MountKind;
        let mut out = Vec::new();
        let idmapped = self.bind_dir(c).join("volumes");
        for (i, m) in c.config.mounts.iter().enumerate() {
            let rw = if m.readonly { "ro" } else { "rw" };
            let propagation = m.propagation.clone().unwrap_or_else(|| "rprivate".into());
            match m.kind {
                MountKind::Volume => {
                    let v = self.volume(&m.source)?;
                    self.acquire_volume(&v, &c.id)?;
                    let data = self.volume_data_checked(&v)?;
                    if !m.nocopy {
                        // Through an idmapped rootfs, owners go back to the container's ids
                        // (its volume is idmapped too). A keep-id container's volume is
                        // bound as it is: the owners its fuse-mapped rootfs shows are kept.
                        copy_up(rootfs, &m.target, &data, c.config.id_map.map(|m| m.shift(false)))?;
                    }
                    let data = match userns {
                        None => data,
                        Some(ns) => {
                            let at = idmapped.join(i.to_string());
                            std::fs::create_dir_all(&at).map_err(EngineError::io("create", &at))?;
                            super::userns::mount_idmapped(&data, &at, ns)?;
                            at
                        }
                    };
                    out.push(spec::bind_mount(&m.target, &data, &["rbind", rw, &propagation])?);
                }
                MountKind::Bind => {
                    let src = Path::new(&m.source);
                    if m.create_source && !src.exists() {
                        std::fs::create_dir_all(src)
                            .map_err(|e| EngineError::InvalidArgument(format!("create bind source {}: {e}", src.display())))?;
                    }
                    let src = self.bind_source(m)?;
                    out.push(spec::bind_mount(&m.target, &src, &["rbind", rw, &propagation])?);
                }
                MountKind::Tmpfs => {
                    let mut o = vec!["nosuid", "nodev", "noexec", rw];
                    o.extend(m.tmpfs_options.iter().map(String::as_str));
                    out.push(spec::mount(&m.target, "tmpfs", "tmpfs", &o)?);
                }
            }
        }
        Ok(out)
    }

    /// A bind mount's source with its symlinks resolved, refused if it leads into the store.
    pub(crate) fn bind_source(&self, m: &super::mounts::MountSpec) -> Result<PathBuf, EngineError> {
        self.bind_source_path(&m.source)
    }

    /// `source` with its symlinks resolved, refused if it leads into the store anywhere but
    /// inside a volume's data or a build cache mount (`mounts::resolve_bind_source`).
    pub(crate) fn bind_source_path(&self, source: &str) -> Result<PathBuf, EngineError> {
        let cfg = self.config();
        let (volumes, build_cache) = (cfg.root.join("volumes"), crate::build::cache_mounts_dir(&cfg.root));
        use super::mounts::Reachable;
        super::mounts::resolve_bind_source(
            source,
            &[&cfg.root, &cfg.run_root],
            &[Reachable::VolumeData(&volumes), Reachable::Below(&build_cache)],
        )
    }

    /// What a container holds only while it runs: its volumes' mounts and its networks.
    pub(crate) fn release_resources(&mut self, c: &Container) -> Result<(), EngineError> {
        let volumes = self.release_volumes(c);
        self.teardown_network(c)?;
        volumes
    }

    pub(crate) fn unmount_container(&self, id: &ContainerId) -> Result<(), EngineError> {
        let paths = self.container_paths(id);
        super::rootfs::detach_all(&paths.dir.join("idmap"));
        self.release_userns_area(id, false);
        super::rootfs::Rootfs { merged: paths.merged(), upper: paths.dir.join("upper") }.unmount()
    }

    fn launch(
        &mut self,
        c: &Container,
        helpers: &Helpers,
        runtime: &OciRuntime,
        req: &StartContainer,
    ) -> Result<(Launched, Option<Attach>), EngineError> {
        let io = |what: &'static str, p: &Path, e: std::io::Error| EngineError::io(what, p)(e);
        let paths = self.container_paths(&c.id);
        std::fs::create_dir_all(&paths.run).map_err(|e| io("create", &paths.run, e))?;
        for stale in [paths.exit_file(), paths.run.join("pid"), paths.run.join("runtime.log")] {
            let _ = std::fs::remove_file(stale);
        }
        // A crashed earlier start may have left the overlay mounted, or the runtime's state of
        // the previous run (its monitor deletes it while the exit command may restart): start
        // from a fresh mount and no runtime state.
        self.unmount_container(&c.id)?;
        if runtime.root.join(c.id.as_str()).exists() {
            let _ = runtime.delete_force(c.id.as_str());
        }
        // With a user namespace the rootfs is seen through its id map (userns.rs), and bound
        // into the container's area below.
        let userns = match &c.config.id_map {
            Some(map) => Some((super::userns::mount_userns(map)?, self.userns_area(&c.id, map)?)),
            None => None,
        };
        let keep_id = if super::keepid::asked(c) { Some(super::keepid::KeepId::of_user()?) } else { None };
        let rootfs = match (&userns, &keep_id) {
            (Some((ns, _)), _) => self.mount_container_rootfs_as(c, super::rootfs::Ids::Idmapped(ns))?,
            (None, Some(k)) => self.mount_container_rootfs_as(c, super::rootfs::Ids::KeepId(k))?,
            (None, None) => self.mount_container_rootfs(c)?,
        };
        let image = self.image_config(&c.image_id)?.config.unwrap_or_default();
        // keep-id: the user's own ids unless `--user` says otherwise, named in the passwd
        // and group files the container gets (keepid.rs).
        let (user_mounts, passwd, group) = match &keep_id {
            Some(k) => {
                let (mounts, passwd, group) = self.keep_id_files(c, &rootfs.merged, k)?;
                (mounts, Some(passwd), Some(group))
            }
            None => (Vec::new(), read_in_root(&rootfs.merged, "etc/passwd"), read_in_root(&rootfs.merged, "etc/group")),
        };
        let default_user = keep_id.as_ref().map(|k| format!("{}:{}", k.uid, k.gid));
        let spec_user = c.config.user.as_deref().or(default_user.as_deref()).or(image.user.as_deref()).unwrap_or("");
        let user = resolve_user_in(passwd.as_deref(), group.as_deref(), spec_user, &c.config.group_add)?;
        let hostname = c.config.hostname.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| c.id.short().to_string());
        let parent = c.config.cgroup_parent.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "/doca".into());
        let cgroups_path = format!("/{}/{}", parent.trim_matches('/'), c.id);
        let mut opts = RunOptions::from_request(&c.config, &hostname, user, rootfs.merged.clone(), cgroups_path.clone());
        opts.keep_id = keep_id;
        if c.config.init {
            opts.init = Some(self.init_binary()?);
        }
        opts.mounts = self.mount_objects(c, &rootfs.merged, userns.as_ref().map(|(ns, _)| ns))?;
        if let Some((_, area)) = &userns {
            // Bound into the area, where the container's root reaches it (userns_area).
            let io = |p: &Path| {
                let p = p.to_path_buf();
                move |e: nix::Error| EngineError::InvalidArgument(format!("bind {}: {}", p.display(), e.desc().to_lowercase()))
            };
            let at = area.join("rootfs");
            std::fs::create_dir_all(&at).map_err(EngineError::io("create", &at))?;
            nix::mount::mount(Some(&rootfs.merged), &at, None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>).map_err(io(&at))?;
            opts.rootfs = at;
            if let Some(init) = opts.init.take() {
                let at = area.join("docker-init");
                // A mount point, never truncated: were the last start's bind still there, it
                // would be doca-init itself.
                std::fs::OpenOptions::new().write(true).create(true).truncate(false).open(&at).map_err(EngineError::io("create", &at))?;
                nix::mount::mount(Some(&init), &at, None::<&str>, nix::mount::MsFlags::MS_BIND, None::<&str>).map_err(io(&at))?;
                opts.init = Some(at);
            }
        }
        opts.netns = self.setup_network(c)?;
        let endpoints = self.endpoints_of(c)?;
        // Rootless, published ports are sockets on the host's network that the monitor relays
        // (networks/rootless.rs); as root, DNAT does it and the monitor relays only IPv6.
        let (proxies, host_sockets) =
            if crate::rootless::is_rootless() { self.host_port_relays(c, &endpoints)? } else { (ipv6_relays(&endpoints), Vec::new()) };
        opts.mounts.extend(self.etc_files(c, &hostname, &endpoints)?);
        opts.mounts.extend(self.container_files(c)?);
        opts.mounts.extend(user_mounts);
        let mut spec = spec::oci_spec(&image, &opts)?;
        if let (Some((rows, cols)), Some(p), true) = (req.console_size.or(c.config.console_size), spec.process_mut().as_mut(), c.config.tty)
        {
            let size = oci_spec::runtime::BoxBuilder::default().height(u64::from(rows)).width(u64::from(cols)).build();
            p.set_console_size(size.ok());
        }
        let bundle_config = paths.dir.join("config.json");
        std::fs::write(&bundle_config, serde_json::to_vec(&spec).expect("json")).map_err(|e| io("write", &bundle_config, e))?;

        let health = match super::health::effective(&image, &c.config) {
            Some(check) => {
                // The check runs as the container's process does, with its own argv.
                let mut p = spec.process().clone().unwrap_or_default();
                p.set_args(Some(check.argv.clone()));
                p.set_terminal(Some(false));
                p.set_console_size(None);
                let file = paths.run.join("health-process.json");
                std::fs::write(&file, serde_json::to_vec(&p).expect("json")).map_err(|e| io("write", &file, e))?;
                let _ = std::fs::remove_file(paths.health());
                Some(doca_shim::HealthConfig {
                    process_file: file,
                    state_file: paths.health(),
                    interval_ms: check.interval.as_millis() as u64,
                    timeout_ms: check.timeout.as_millis() as u64,
                    start_period_ms: check.start_period.as_millis() as u64,
                    retries: check.retries,
                })
            }
            None => None,
        };
        let shim_cfg = doca_shim::ShimConfig {
            id: c.id.to_string(),
            bundle: paths.dir.clone(),
            runtime: runtime.binary.clone(),
            runtime_root: runtime.root.clone(),
            tty: c.config.tty,
            stdin: c.config.open_stdin,
            stdin_once: c.config.stdin_once,
            log: Some(doca_shim::LogConfig {
                path: paths.log(&c.id),
                max_size: c.config.log_max_size.unwrap_or(DEFAULT_LOG_MAX_SIZE),
                max_files: c.config.log_max_files.unwrap_or(DEFAULT_LOG_MAX_FILES),
            }),
            runtime_log: paths.run.join("runtime.log"),
            pid_file: paths.run.join("pid"),
            attach_socket: paths.attach(),
            exit_file: paths.exit_file(),
            oom_file: oom_file(&cgroups_path),
            exit_command: vec![
                helpers.doca.display().to_string(),
                "--root".into(),
                self.config().root.display().to_string(),
                "--run-root".into(),
                self.config().run_root.display().to_string(),
                "container".into(),
                "cleanup".into(),
                c.id.to_string(),
            ],
            health,
            dns: match &opts.netns {
                Some(ns) if matches!(c.config.network, super::NetworkMode::Bridge(_)) => self.dns_config(c, ns, &endpoints),
                _ => None,
            },
            debug: tracing::enabled!(tracing::Level::DEBUG),
            proxies,
        };
        let shim_json = paths.run.join("shim.json");
        std::fs::write(&shim_json, serde_json::to_vec_pretty(&shim_cfg).expect("json")).map_err(|e| io("write", &shim_json, e))?;
        let shim_log = paths.run.join("shim.log");
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&shim_log).map_err(|e| io("open", &shim_log, e))?;
        // The monitor inherits the host sockets (ProxyConfig::fd, made close-on-exec again
        // there); this process closes its copies once it has started. A command started by
        // another thread meanwhile (`doca serve`) could inherit them too: it would hold the
        // user's own port a while longer, nothing more.
        for fd in &host_sockets {
            nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()))
                .map_err(|e| EngineError::Internal(format!("pass a published port's socket to the monitor: {e}")))?;
        }
        let mut child = Command::new(&helpers.shim)
            .arg(&shim_json)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .map_err(|e| io("run", &helpers.shim, e))?;
        drop(host_sockets);
        let mut line = String::new();
        let read = std::io::BufReader::new(child.stdout.take().expect("piped")).read_line(&mut line);
        let _ = child.wait();
        // The runtime has made its mounts (or failed): what the area held for it is held by the
        // container's own mounts now.
        self.release_userns_area(&c.id, false);
        read.map_err(|e| io("read from", &helpers.shim, e))?;
        tracing::debug!(container = %c.id, reply = %line.trim(), log = %shim_log.display(), "monitor replied");
        let (pid, monitor) = match serde_json::from_str::<Reply>(line.trim()) {
            Ok(Reply::Created { pid, monitor }) => (pid, monitor),
            Ok(Reply::Failed { error, cause }) => return Err(EngineError::StartFailed { message: error, cause }),
            Err(_) => return Err(EngineError::Internal(format!("doca-shim exited without a word (see {})", shim_log.display()))),
        };
        let attach = match req.attach {
            Some(streams) => Some(Attach::connect(&paths.attach(), streams).map_err(|e| io("attach to", &paths.attach(), e))?),
            None => None,
        };
        Ok((Launched { pid, monitor: super::record::MonitorId::of(monitor) }, attach))
    }
}

/// Fills an empty volume with the image's content at `target` (docker's copy-up), owners and
/// modes kept, and gives the volume's root the directory's owner and mode. Both sides through
/// doca-fs: the image's directory is resolved inside the rootfs, and the volume's `_data` is
/// opened from its own directory, never through a symlink.
fn copy_up(rootfs: &Path, target: &str, volume: &Path, ids: Option<doca_fs::IdShift>) -> Result<(), EngineError> {
    let (Some(vdir), Some(data)) = (volume.parent(), volume.file_name()) else {
        return Err(EngineError::Internal(format!("volume path {}", volume.display())));
    };
    let data = doca_fs::Root::open(vdir)?.resolve(Path::new(data), false)?.open_dir()?;
    if !data.names()?.is_empty() {
        return Ok(());
    }
    let src = match doca_fs::Root::open(rootfs)?.resolve(Path::new(target), true) {
        Ok(e) if e.kind() == doca_fs::Kind::Dir => e,
        // Nothing (or no directory) there in the image: nothing to copy.
        _ => return Ok(()),
    };
    let opts = doca_fs::CopyOptions { owner: true, devices: true, confined_dest: false, ids };
    doca_fs::copy_contents(&src, &data, opts)?;
    let (uid, gid) = (src.stat().st_uid, src.stat().st_gid);
    Ok(data.finish(src.stat(), Some(ids.map_or((uid, gid), |m| m.owner(uid, gid))))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_read_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("etc")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", t.path().join("etc/passwd")).unwrap();
        std::fs::write(t.path().join("etc/group"), "wheel:x:10:\n").unwrap();
        assert_eq!(read_in_root(t.path(), "etc/passwd"), None, "an absolute link resolves inside the root, not to the host");
        let u = resolve_user(t.path(), "0:0", &["wheel".into(), "44".into()]).unwrap();
        assert_eq!(u.additional_gids, [0, 10, 44], "the primary group first, as dockerd sets it");
        assert!(resolve_user(t.path(), "", &["nogroup".into()]).unwrap_err().to_string().contains("Unable to find group nogroup"));
    }
}
