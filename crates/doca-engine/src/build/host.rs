//! The [`BuildHost`] the engine gives the builder.

use super::{BuildImage, BUILD_LABEL};
use crate::containers::mounts::{MountKind, MountSpec};
use crate::containers::spec::NetworkMode;
use crate::containers::{AttachEvent, AttachStreams, CreateContainer, StartContainer};
use crate::{Engine, EngineError};
use doca_build::builder::{Base, BuildHost, FinalImage, HostError, HostMount, LayerStep, Mounted, RunFailed, RunStep};
use doca_build::copy::{DigestCache, FileKey};
use doca_image::commit::{new_image, ImageRequest};
use doca_image::config::{ContainerConfig, History, ImageConfig};
use doca_image::ingest::LayerBlob;
use doca_image::unpack::UnpackOptions;
use doca_image::Reference;
use doca_store::Digest;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The main build's engine, or one a parallel stage opened for itself.
enum EngineRef<'e> {
    Borrowed(&'e mut Engine),
    Owned(Box<Engine>),
}

impl std::ops::Deref for EngineRef<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        match self {
            EngineRef::Borrowed(e) => e,
            EngineRef::Owned(e) => e,
        }
    }
}

impl std::ops::DerefMut for EngineRef<'_> {
    fn deref_mut(&mut self) -> &mut Engine {
        match self {
            EngineRef::Borrowed(e) => e,
            EngineRef::Owned(e) => e,
        }
    }
}

pub(super) struct Host<'e> {
    engine: EngineRef<'e>,
    build_id: String,
    cgroup_parent: Option<String>,
    pull: String,
    /// Images pulled by this build (pulled once, whatever `pull` says).
    pulled: Vec<String>,
    tmp: PathBuf,
    tags: Vec<Reference>,
    mounts: usize,
    /// File digests learnt this build, written to the store once at the end.
    learnt: Vec<(FileKey, String)>,
    /// The container of the RUN step under way, removed if the build stops.
    running: Option<String>,
    /// Hosts forked for parallel stages so far (their temp directories are numbered).
    forks: usize,
    /// Held while the build runs (the first host only): `system check` tells an interrupted
    /// build's leftovers from a running build's by whether this lock is free.
    alive: Option<doca_store::StoreLock>,
}

/// Removes a build's temp directory after unmounting whatever is still mounted inside it.
pub(super) fn remove_tmp(dir: &Path) {
    if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
        let mut points: Vec<&str> = info.lines().filter_map(|l| l.split(' ').nth(4)).filter(|p| Path::new(p).starts_with(dir)).collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for p in points {
            let _ = nix::mount::umount2(p, nix::mount::MntFlags::MNT_DETACH);
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

fn to_json<T: serde::Serialize, U: serde::de::DeserializeOwned>(v: &T) -> Result<U, HostError> {
    Ok(serde_json::from_value(serde_json::to_value(v)?)?)
}

/// A rootfs mounted for the builder to read; unmounted and removed when dropped.
struct View {
    dir: PathBuf,
    merged: PathBuf,
}

impl Mounted for View {
    fn path(&self) -> &Path {
        &self.merged
    }
}

impl Drop for View {
    fn drop(&mut self) {
        remove_tmp(&self.dir);
    }
}

impl<'e> Host<'e> {
    pub(super) fn new(engine: &'e mut Engine, req: &BuildImage, tags: Vec<Reference>) -> Result<Self, EngineError> {
        let tmp = engine.build_tmp(&req.build_id);
        // The lock first, then the directory: `system check` never sees a build's directory
        // without its holder.
        let lock = super::build_lock(&tmp);
        crate::private_dir(lock.parent().unwrap_or(&tmp))?;
        let alive = doca_store::StoreLock::acquire(&lock, doca_store::LockMode::Exclusive).map_err(EngineError::io("lock", &lock))?;
        std::fs::create_dir_all(&tmp).map_err(EngineError::io("create", &tmp))?;
        Ok(Host {
            engine: EngineRef::Borrowed(engine),
            build_id: req.build_id.clone(),
            cgroup_parent: req.cgroup_parent.clone(),
            pull: req.pull.clone(),
            pulled: Vec::new(),
            tmp,
            tags,
            mounts: 0,
            learnt: Vec::new(),
            running: None,
            forks: 0,
            alive: Some(alive),
        })
    }

    /// Saves what the build learnt and removes what it leaves.
    pub(super) fn finish(mut self) -> Result<(), EngineError> {
        self.stop_running();
        remove_tmp(&self.tmp);
        if self.alive.take().is_some() {
            let _ = std::fs::remove_file(super::build_lock(&self.tmp));
        }
        self.save_digests()
    }

    fn stop_running(&mut self) {
        if let Some(c) = self.running.take() {
            let _ = self.engine.remove_container(&c, true, true);
        }
    }

    fn save_digests(&mut self) -> Result<(), EngineError> {
        let learnt = std::mem::take(&mut self.learnt);
        if learnt.is_empty() {
            return Ok(());
        }
        self.engine.store.db.write(|tx| {
            for (k, d) in &learnt {
                tx.set_build_file_digest(&k.path, k.size as i64, k.mtime_ns, k.ctime_ns, k.ino as i64, d)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    fn base(&mut self, id: &Digest) -> Result<Base, HostError> {
        let cfg = self.engine.image_config(id)?;
        Ok(Base {
            id: Some(id.to_string()),
            config: to_json(&cfg.config.clone().unwrap_or_default())?,
            history: to_json(&cfg.history)?,
            author: cfg.author.clone(),
        })
    }

    /// The parent's config and layers, or an empty image's.
    fn parent(&mut self, id: Option<&str>) -> Result<(ImageConfig, Vec<LayerBlob>), HostError> {
        let Some(id) = id else { return Ok((ImageConfig::default(), Vec::new())) };
        let id: Digest = id.parse().map_err(|_| format!("bad image id {id}"))?;
        let cfg = self.engine.image_config(&id)?;
        let layers = self
            .engine
            .store
            .db
            .read(|tx| tx.layers(&id))?
            .into_iter()
            .map(|l| LayerBlob { digest: l.blob, media_type: l.media_type })
            .collect();
        Ok((cfg, layers))
    }

    /// An intermediate image: `step`'s parent, config and history, and the layer `write` makes.
    fn store_image(&mut self, name: String, step: &LayerStep, write: doca_image::commit::WriteLayer) -> Result<Base, HostError> {
        let history: Vec<History> = to_json(&step.history)?;
        let (base, base_layers) = self.parent(step.parent)?;
        let created = history.last().and_then(|h| h.created.clone()).unwrap_or_else(|| doca_image::config::rfc3339_nano(crate::now()));
        let committed = new_image(
            &mut self.engine.store,
            ImageRequest {
                name,
                base,
                base_layers,
                config: to_json(step.config)?,
                history,
                author: step.author.map(String::from),
                comment: None,
                created,
                tags: Vec::new(),
                now: crate::now().unix_timestamp(),
                unpack: UnpackOptions::default(),
                write_layer: Some(write),
            },
        )?;
        self.base(&committed.id)
    }

    fn network(mode: &str) -> NetworkMode {
        match mode {
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            _ => NetworkMode::Bridge("bridge".into()),
        }
    }

    fn mount_spec(&self, m: &HostMount) -> Result<MountSpec, HostError> {
        let spec = |kind, source: String, target: &str, readonly| MountSpec::new(kind, source, target.to_string(), readonly);
        Ok(match m {
            HostMount::Bind { source, target, readonly } => spec(MountKind::Bind, source.display().to_string(), target, *readonly),
            HostMount::Tmpfs { target } => spec(MountKind::Tmpfs, String::new(), target, false),
            HostMount::Cache { id, target } => {
                // One directory per cache id, kept between builds (`builder prune` empties them).
                let dir = super::cache_mounts_dir(&self.engine.config().root).join(doca_store::Digest::of(id.as_bytes()).hex());
                std::fs::create_dir_all(&dir)?;
                // A cache mount is shared by the build's steps, whatever their USER (BuildKit's
                // default mode 0755).
                std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
                spec(MountKind::Bind, dir.display().to_string(), target, false)
            }
        })
    }

    /// Removes the mount points the runtime had to make in the writable layer (the files
    /// and directories /etc/hosts, /proc, a cache mount's target... that were not in the
    /// image): they are the build's, not the step's (BuildKit removes them too).
    fn remove_mount_stubs(upper: &Path, lowers: &[PathBuf], targets: &[String]) {
        for t in targets {
            let rel = t.trim_start_matches('/');
            if rel.is_empty() || lowers.iter().any(|l| l.join(rel).symlink_metadata().is_ok()) {
                continue;
            }
            let p = upper.join(rel);
            let Ok(m) = p.symlink_metadata() else { continue };
            let empty = if m.is_dir() {
                std::fs::read_dir(&p).map(|mut d| d.next().is_none()).unwrap_or(false)
            } else {
                m.is_file() && m.len() == 0
            };
            if empty {
                let _ = if m.is_dir() { std::fs::remove_dir(&p) } else { std::fs::remove_file(&p) };
            }
        }
    }
}

/// A host dropped without `finish` (a parallel stage's, or after a failure) still removes its
/// step's container and keeps what it learnt.
impl Drop for Host<'_> {
    fn drop(&mut self) {
        self.stop_running();
        let _ = self.save_digests();
    }
}

/// Where the runtime mounts things in every container (doca's spec: /proc, /dev, /sys and
/// the files the engine writes per container).
const STANDARD_MOUNTS: [&str; 10] =
    ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup", "/etc/hosts", "/etc/resolv.conf", "/etc/hostname"];

impl BuildHost for Host<'_> {
    fn image(&mut self, name: &str, platform: Option<&str>) -> Result<Base, HostError> {
        let is_reference = doca_image::Reference::parse(name).is_ok();
        let missing = matches!(self.engine.resolve_image(name), Err(EngineError::NoSuchImage(_)));
        let pull = is_reference && !self.pulled.iter().any(|p| p == name) && (self.pull == "always" || (self.pull != "never" && missing));
        if pull {
            let req = crate::images::PullImage { reference: name.to_string(), platform: platform.map(String::from), auth: None };
            self.engine.pull_image(&req, &|_| {})?;
            self.pulled.push(name.to_string());
        }
        let found = self.engine.resolve_image(name).map_err(|e| match e {
            EngineError::NoSuchImage(_) => format!("image {name:?} is not in the store (--pull=never)").into(),
            e => HostError::from(e),
        })?;
        self.base(&found.image.id)
    }

    fn cached(&mut self, key: &str) -> Result<Option<Base>, HostError> {
        let now = crate::now().unix_timestamp();
        let Some(id) = self.engine.store.db.write(|tx| tx.build_cache_get(key, now))? else { return Ok(None) };
        match self.base(&id) {
            Ok(b) => Ok(Some(b)),
            // A cache entry whose image config blob went missing is a miss, not an error.
            Err(_) => Ok(None),
        }
    }

    fn remember(&mut self, key: &str, image: &str) -> Result<(), HostError> {
        let id: Digest = image.parse().map_err(|_| format!("bad image id {image}"))?;
        let now = crate::now().unix_timestamp();
        self.engine.store.db.write(|tx| tx.build_cache_put(key, &id, now))?;
        Ok(())
    }

    fn run(&mut self, step: &RunStep, out: &mut dyn Write) -> Result<(Base, String), HostError> {
        let parent = step.parent.ok_or("cannot RUN in an image with no layers (FROM scratch): there is no program to run")?;
        let config: ContainerConfig = to_json(step.config)?;
        let mut mounts = Vec::new();
        for m in &step.mounts {
            mounts.push(self.mount_spec(m)?);
        }
        let targets: Vec<String> = STANDARD_MOUNTS.iter().map(|s| s.to_string()).chain(mounts.iter().map(|m| m.target.clone())).collect();
        let req = CreateContainer {
            image: parent.to_string(),
            cmd: step.argv.clone(),
            entrypoint: Some(Vec::new()),
            env: step.env.clone(),
            working_dir: config.working_dir.clone(),
            user: config.user.clone(),
            attach_stdout: true,
            attach_stderr: true,
            network: Self::network(&step.network),
            labels: [(BUILD_LABEL.to_string(), self.build_id.clone())].into(),
            healthcheck: Some(crate::containers::health::HealthSpec { test: Some(vec!["NONE".into()]), ..Default::default() }),
            mounts,
            no_image_volumes: true,
            cgroup_parent: self.cgroup_parent.clone(),
            ..Default::default()
        };
        let c = self.engine.create_container(&req)?;
        let id = c.id.to_string();
        self.running = Some(id.clone());
        let streams = AttachStreams { stdin: false, stdout: true, stderr: true, cleanup: true };
        let attach = self.engine.start_container(&id, &StartContainer { attach: Some(streams), console_size: None });
        let code = match attach {
            Ok(Some(mut a)) => {
                let mut code = None;
                while let Some(ev) = a.next_event()? {
                    match ev {
                        AttachEvent::Stdout(b) | AttachEvent::Stderr(b) => out.write_all(&b)?,
                        AttachEvent::Exit(c) => {
                            code = Some(c);
                            break;
                        }
                    }
                }
                if code.is_some() {
                    a.cleanup(&mut self.engine, &id)?;
                }
                code.unwrap_or(self.engine.wait_container(&id)?)
            }
            Ok(None) => self.engine.wait_container(&id)?,
            Err(e) => {
                self.running = None;
                let _ = self.engine.remove_container(&id, true, true);
                return Err(e.into());
            }
        };
        let command = step.argv.join(" ");
        if code != 0 {
            self.running = None;
            let _ = self.engine.remove_container(&id, true, true);
            return Err(Box::new(RunFailed { command, code }));
        }
        let upper = self.engine.container_paths(&c.id).dir.join("upper");
        let lowers: Vec<PathBuf> =
            self.engine.store.db.read(|tx| tx.layers(&c.image_id))?.iter().map(|l| self.engine.store.snapshots.path(&l.chain_id)).collect();
        Self::remove_mount_stubs(&upper, &lowers, &targets);
        let top_first: Vec<PathBuf> = lowers.iter().rev().cloned().collect();
        let epoch = step.epoch;
        let mut write = |w: &mut dyn Write| -> std::io::Result<()> {
            if upper.is_dir() {
                crate::containers::diff::write_tar(&upper, crate::containers::diff::TarKind::Layer(&top_first), epoch, None, w)
                    .map_err(|e| std::io::Error::other(e.to_string()))
            } else {
                tar::Builder::new(w).finish()
            }
        };
        let layer_step = LayerStep { parent: Some(parent), config: step.config, history: step.history, author: step.author };
        let made = self.store_image(format!("build step {command}"), &layer_step, &mut write);
        self.running = None;
        let _ = self.engine.remove_container(&id, true, true);
        Ok((made?, id))
    }

    fn add_layer(&mut self, step: &LayerStep, write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>) -> Result<Base, HostError> {
        self.store_image("build step".into(), step, write)
    }

    fn mount(&mut self, image: Option<&str>) -> Result<Box<dyn Mounted>, HostError> {
        self.mounts += 1;
        let dir = self.tmp.join(format!("view-{}", self.mounts));
        std::fs::create_dir_all(&dir)?;
        let merged = match image {
            Some(id) => {
                let id: Digest = id.parse().map_err(|_| format!("bad image id {id}"))?;
                let layers = self.engine.store.db.read(|tx| tx.layers(&id))?;
                if layers.is_empty() {
                    dir.join("empty")
                } else {
                    self.engine.mount_rootfs(&id, &dir)?.merged
                }
            }
            None => dir.join("empty"),
        };
        std::fs::create_dir_all(&merged)?;
        Ok(Box::new(View { dir, merged }))
    }

    fn commit(&mut self, image: &FinalImage) -> Result<String, HostError> {
        let config: ContainerConfig = to_json(image.config)?;
        let mut history: Vec<History> = to_json(&image.history)?;
        // The image's own creation time last (FinalImage.created), as history's last entry
        // may be older (a cached step).
        if history.is_empty() {
            history.push(History {
                created: Some(image.created.clone()),
                created_by: Some("doca build".into()),
                empty_layer: true,
                ..Default::default()
            });
        }
        let tags = std::mem::take(&mut self.tags);
        if let Some(id) = &image.reuse {
            for t in &tags {
                self.engine.tag_image(id, &t.to_string())?;
            }
            return Ok(id.clone());
        }
        let (base, base_layers) = self.parent(image.layers_of)?;
        let committed = new_image(
            &mut self.engine.store,
            ImageRequest {
                name: "the built image".into(),
                base,
                base_layers,
                config,
                history,
                author: image.author.map(String::from),
                comment: None,
                created: image.created.clone(),
                tags,
                now: crate::now().unix_timestamp(),
                unpack: UnpackOptions::default(),
                write_layer: None,
            },
        )?;
        Ok(committed.id.to_string())
    }

    fn digests(&mut self) -> &mut dyn DigestCache {
        self
    }

    fn fetch(&mut self, url: &str, to: &Path) -> Result<Option<i64>, HostError> {
        let config = crate::images::pull::registry_config()?;
        Ok(doca_image::registry::client::download(url, to, &config)?)
    }

    /// A host with an engine of its own (its own database connection; SQLite and the store's
    /// locks keep the two consistent), for a stage built in another thread.
    fn fork(&mut self) -> Result<Option<Box<dyn BuildHost + Send>>, HostError> {
        self.forks += 1;
        let tmp = self.tmp.join(format!("fork-{}", self.forks));
        std::fs::create_dir_all(&tmp)?;
        let engine = Engine::open(self.engine.config().clone())?;
        Ok(Some(Box::new(Host {
            engine: EngineRef::Owned(Box::new(engine)),
            build_id: self.build_id.clone(),
            cgroup_parent: self.cgroup_parent.clone(),
            pull: self.pull.clone(),
            pulled: Vec::new(),
            tmp,
            tags: Vec::new(),
            mounts: 0,
            learnt: Vec::new(),
            running: None,
            forks: 0,
            alive: None,
        })))
    }
}

impl DigestCache for Host<'_> {
    fn get(&mut self, key: &FileKey) -> Option<String> {
        self.engine
            .store
            .db
            .read(|tx| tx.build_file_digest(&key.path, key.size as i64, key.mtime_ns, key.ctime_ns, key.ino as i64))
            .ok()
            .flatten()
    }

    fn put(&mut self, key: &FileKey, digest: &str) {
        self.learnt.push((key.clone(), digest.to_string()));
    }
}
