//! `doca build`: the engine's side of doca-build's [`BuildHost`]. Images come from the store,
//! RUN steps run as containers of the image so far (labelled with the build's id, so an
//! interrupted build's leftovers can be found), COPY/ADD layers are written by the builder
//! into blobs, and the cache maps step keys to the images they made (table `build_cache`).
//! Intermediate images are untagged; `images` lists them only with `-a`, and `builder prune`
//! removes them.

mod cache;
mod host;

pub use cache::BuilderPrune;
pub use doca_build::{Event, Plain, Progress};

use crate::{Engine, EngineError};
use doca_build::ignore::Ignore;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Where `RUN --mount=type=cache` directories live, one per cache id.
pub(crate) fn cache_mounts_dir(root: &std::path::Path) -> PathBuf {
    root.join("build").join("cache")
}

/// The label on a build's RUN containers: the build's id.
pub const BUILD_LABEL: &str = "io.doca.build";

#[derive(Debug, Clone, Default)]
pub struct BuildImage {
    /// The context directory, read in place.
    pub context: PathBuf,
    /// The Dockerfile's text and its name for messages.
    pub dockerfile: String,
    pub dockerfile_name: String,
    /// The `.dockerignore` text (`<Dockerfile>.dockerignore` beside the Dockerfile wins).
    pub ignore: String,
    pub tags: Vec<String>,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub labels: BTreeMap<String, String>,
    /// `--network`: default, none or host.
    pub network: String,
    pub platform: Option<String>,
    /// SOURCE_DATE_EPOCH (or the context's last git commit).
    pub epoch: Option<i64>,
    /// This build's id (the label on its containers and the name of its temp directory).
    pub build_id: String,
    /// `--cgroup-parent` of the RUN steps' containers.
    pub cgroup_parent: Option<String>,
    /// Base images (FROM, COPY --from=IMAGE): "missing" pulls those the store lacks (docker's
    /// default), "always" pulls each once per build, "never" uses the store only.
    pub pull: String,
}

#[derive(Debug, Clone)]
pub struct BuildResult {
    pub id: doca_store::Digest,
    pub tags: Vec<String>,
    pub unused_args: Vec<String>,
    pub steps: usize,
    pub cached_steps: usize,
}

impl Engine {
    /// Builds an image; progress and RUN output go to `out`. On failure nothing is tagged and
    /// the build's containers, mounts and temp files are gone.
    #[tracing::instrument(level = "debug", skip_all, err(level = "debug"))]
    pub fn build_image(&mut self, req: &BuildImage, out: &mut dyn doca_build::Progress) -> Result<BuildResult, EngineError> {
        let tags = req.tags.iter().map(|t| crate::images::tag::parse_target(t)).collect::<Result<Vec<_>, _>>()?;
        if !req.context.is_dir() {
            return Err(EngineError::InvalidArgument(format!(
                "unable to prepare context: path {:?} not found",
                req.context.display().to_string()
            )));
        }
        let ignore = Ignore::parse(&req.ignore);
        let breq = doca_build::BuildRequest {
            dockerfile: &req.dockerfile,
            dockerfile_name: req.dockerfile_name.clone(),
            context: &req.context,
            ignore: &ignore,
            build_args: req.build_args.clone(),
            target: req.target.clone(),
            no_cache: req.no_cache,
            labels: req.labels.clone(),
            network: if req.network.is_empty() { "default".into() } else { req.network.clone() },
            platform: req.platform.clone(),
            epoch: req.epoch,
            now: crate::now().unix_timestamp(),
        };
        let mut host = host::Host::new(self, req, tags)?;
        let built = doca_build::Builder::new(&breq, &mut host, out).and_then(|b| b.build());
        let finished = host.finish();
        let built = built.map_err(|e| EngineError::Build(e.to_string()))?;
        finished?;
        let id: doca_store::Digest = built.id.parse().map_err(|_| EngineError::Internal(format!("bad image id {}", built.id)))?;
        Ok(BuildResult { id, tags: req.tags.clone(), unused_args: built.unused_args, steps: built.steps, cached_steps: built.cached_steps })
    }

    /// A build whose context comes as a tar stream (the API's `POST /build`; plain, gzip, xz
    /// or zstd), untrusted: unpacked into a private staging directory first (tar keeps every
    /// entry inside it), then built as a directory context. The Dockerfile (`dockerfile`, a
    /// path in the context) and the `.dockerignore` are read inside the context's root, so a
    /// symlink there cannot make doca read a host file. `req.context`, `dockerfile` and
    /// `ignore` are filled here.
    pub fn build_image_from_archive(
        &mut self,
        mut req: BuildImage,
        dockerfile: &str,
        input: &mut dyn std::io::Read,
        out: &mut dyn doca_build::Progress,
    ) -> Result<BuildResult, EngineError> {
        let staging = crate::staging::Staging::new(&self.config().run_root, "build-context")?;
        let context = staging.0.join("context");
        std::fs::create_dir(&context).map_err(EngineError::io("create", &context))?;
        let (_, mut reader) =
            doca_image::media::decompress(input).map_err(|e| EngineError::InvalidArgument(format!("read the build context: {e}")))?;
        crate::staging::unpack_untrusted(&mut reader, &context, false, "the build context")?;
        let root = doca_fs::Root::open(&context)?;
        let name = if dockerfile.is_empty() { "Dockerfile" } else { dockerfile };
        let text = root
            .read_file(Path::new(name), 16 << 20)
            .map_err(|_| EngineError::InvalidArgument(format!("Cannot locate specified Dockerfile: {name}")))?;
        req.dockerfile =
            String::from_utf8(text).map_err(|_| EngineError::InvalidArgument(format!("Dockerfile {name} is not UTF-8 text")))?;
        req.dockerfile_name = Path::new(name).file_name().map_or_else(|| name.to_string(), |n| n.to_string_lossy().into_owned());
        let beside = format!("{name}.dockerignore");
        req.ignore = [beside.as_str(), ".dockerignore"]
            .iter()
            .find_map(|p| root.read_file(Path::new(p), 1 << 20).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        req.context = context;
        self.build_image(&req, out)
    }

    /// What an interrupted build left: its containers (found by label), its mounts and temp
    /// directory. Safe to call for a build that left nothing.
    pub fn build_cleanup(&mut self, build_id: &str) -> Result<(), EngineError> {
        let rows = self.store.db.read(|tx| tx.containers())?;
        for row in rows {
            let Ok(c) = self.container(&row.id) else { continue };
            if c.config.labels.get(BUILD_LABEL).map(String::as_str) == Some(build_id) {
                let _ = self.remove_container(c.id.as_str(), true, true);
            }
        }
        let tmp = self.build_tmp(build_id);
        host::remove_tmp(&tmp);
        // The liveness lock goes too (its holder, if any, is this process, about to exit).
        let _ = std::fs::remove_file(build_lock(&tmp));
        Ok(())
    }

    pub(crate) fn build_tmp(&self, build_id: &str) -> PathBuf {
        self.config().root.join("tmp").join(format!("build-{build_id}"))
    }

    /// What builds that no longer run left (a killed `doca build`): their RUN containers and
    /// temp directories. A build runs while it holds its lock.
    pub(crate) fn check_builds(&mut self, repair: bool) -> Result<Vec<String>, EngineError> {
        let tmp = self.config().root.join("tmp");
        let mut dead = std::collections::BTreeSet::new();
        for e in std::fs::read_dir(&tmp).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_prefix("build-").filter(|_| e.path().is_dir()) {
                dead.insert(id.to_string());
            }
        }
        for c in self.containers()? {
            if let Some(id) = c.config.labels.get(BUILD_LABEL) {
                dead.insert(id.clone());
            }
        }
        let mut found = Vec::new();
        for id in dead {
            let dir = self.build_tmp(&id);
            let lock = build_lock(&dir);
            std::fs::create_dir_all(&tmp).map_err(EngineError::io("create", &tmp))?;
            let Some(_held) =
                doca_store::StoreLock::try_acquire(&lock, doca_store::LockMode::Exclusive).map_err(EngineError::io("lock", &lock))?
            else {
                continue;
            };
            for c in self.containers()?.iter().filter(|c| c.config.labels.get(BUILD_LABEL) == Some(&id)) {
                found.push(format!("container {} of interrupted build {id}", c.name));
            }
            if dir.exists() {
                found.push(format!("temp directory of interrupted build {id} at {}", dir.display()));
            }
            if repair {
                self.build_cleanup(&id)?;
            }
            let _ = std::fs::remove_file(&lock);
        }
        Ok(found)
    }
}

/// A build's liveness lock, beside its temp directory (which `remove_tmp` deletes).
pub(crate) fn build_lock(tmp: &std::path::Path) -> PathBuf {
    tmp.with_extension("lock")
}
