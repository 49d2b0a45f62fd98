//! The builder: a Dockerfile's stages, the ones the target needs, each instruction applied in
//! order over a [`BuildHost`] (the engine: images, containers, layers, the cache). The builder
//! owns the Dockerfile's semantics (scopes of ARG and ENV, docker's rules for CMD/ENTRYPOINT,
//! ONBUILD, COPY's destinations) and the cache keys; the host owns storage and processes.
//!
//! The cache key of a state is a hash chained from its base image through every instruction
//! after expansion (so ENV, USER, WORKDIR, SHELL... all reach the keys of later steps), plus,
//! for RUN, the build arguments in scope, and for COPY/ADD the digest of what is copied. A
//! layer step is reused exactly when its key was seen before.

use crate::copy::{entries_digest, resolve_in_root, CopyPlan, DigestCache, SourceRoot};
use crate::ignore::Ignore;
use crate::instructions::{command, Command, CopySpec, RunMount};
use crate::parser::{parse, Args, Instruction};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// What a container finds in PATH when its image says nothing (docker's system.DefaultPathEnv).
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The part of an image's config a Dockerfile changes, with docker's JSON names (the host
/// converts from and to its own type through JSON; fields the builder does not know are kept).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volumes: Option<BTreeMap<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_build: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RunConfig {
    pub fn env_value(&self, key: &str) -> Option<String> {
        self.env.iter().flatten().find_map(|e| e.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v.to_string()))
    }

    fn set_env(&mut self, key: &str, value: &str) {
        let env = self.env.get_or_insert_with(Vec::new);
        let item = format!("{key}={value}");
        match env.iter_mut().find(|e| e.split_once('=').map(|(k, _)| k) == Some(key)) {
            Some(e) => *e = item,
            None => env.push(item),
        }
    }

    fn shell(&self) -> Vec<String> {
        self.shell.clone().unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into()])
    }
}

/// An image history entry (image-spec config.md "history").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

/// An image as the builder sees it: the image whose layers are its filesystem (`None`: no
/// layers, `FROM scratch`), its config and history.
#[derive(Debug, Clone, Default)]
pub struct Base {
    pub id: Option<String>,
    pub config: RunConfig,
    pub history: Vec<History>,
    /// The image config's `author`.
    pub author: Option<String>,
}

/// What a RUN step needs mounted, with host paths resolved.
#[derive(Debug, Clone)]
pub enum HostMount {
    Bind {
        source: PathBuf,
        target: String,
        readonly: bool,
    },
    /// A directory the host keeps between builds under this id.
    Cache {
        id: String,
        target: String,
    },
    Tmpfs {
        target: String,
    },
}

pub struct RunStep<'a> {
    pub parent: Option<&'a str>,
    pub argv: Vec<String>,
    /// The image's environment plus the build arguments in scope.
    pub env: Vec<String>,
    pub config: &'a RunConfig,
    /// "default", "none" or "host".
    pub network: String,
    pub mounts: Vec<HostMount>,
    /// The new image: config, history (this step's entry last), author.
    pub history: &'a [History],
    pub author: Option<&'a str>,
    /// Clamp the layer's mtimes to this.
    pub epoch: Option<i64>,
}

pub struct LayerStep<'a> {
    pub parent: Option<&'a str>,
    pub config: &'a RunConfig,
    pub history: &'a [History],
    pub author: Option<&'a str>,
}

pub struct FinalImage<'a> {
    pub layers_of: Option<&'a str>,
    pub config: &'a RunConfig,
    pub history: &'a [History],
    pub author: Option<&'a str>,
    /// RFC 3339.
    pub created: String,
    /// An image the cache says is this one: tag it instead of making it again.
    pub reuse: Option<String>,
}

/// A filesystem the host mounted read-only for the builder; unmounted when dropped.
pub trait Mounted {
    fn path(&self) -> &Path;
}

pub type HostError = Box<dyn std::error::Error + Send + Sync>;

/// What the builder needs from the engine.
pub trait BuildHost {
    /// An image by name or id (FROM, COPY --from=IMAGE).
    fn image(&mut self, name: &str, platform: Option<&str>) -> Result<Base, HostError>;
    /// The image a cache key produced before, if it is still there.
    fn cached(&mut self, key: &str) -> Result<Option<Base>, HostError>;
    fn remember(&mut self, key: &str, image: &str) -> Result<(), HostError>;
    /// Runs a command in a container of `parent` and makes its changes a layer; the output
    /// goes to `out` as it comes. Err when the command fails, with its exit code.
    fn run(&mut self, step: &RunStep, out: &mut dyn Write) -> Result<(Base, String), HostError>;
    /// A layer written by the builder, on top of `parent`.
    fn add_layer(&mut self, step: &LayerStep, write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>) -> Result<Base, HostError>;
    fn mount(&mut self, image: Option<&str>) -> Result<Box<dyn Mounted>, HostError>;
    fn commit(&mut self, image: &FinalImage) -> Result<String, HostError>;
    fn digests(&mut self) -> &mut dyn DigestCache;
    /// Downloads `url` into the file `to` (ADD <url>); returns the Last-Modified time.
    fn fetch(&mut self, url: &str, to: &Path) -> Result<Option<i64>, HostError>;
    /// Another host on the same store for a stage built beside this one (in another thread);
    /// `None` when the host cannot, and stages are built one after the other.
    fn fork(&mut self) -> Result<Option<Box<dyn BuildHost + Send>>, HostError> {
        Ok(None)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Parse(#[from] crate::parser::ParseError),
    #[error(transparent)]
    Instruction(#[from] crate::instructions::InstructionError),
    #[error("{file}:{line}: {message}")]
    Step { file: String, line: usize, message: String },
    #[error("{0}")]
    Other(String),
}

/// `RUN` failed: docker's message, and the exit code in the error for the CLI.
#[derive(Debug, thiserror::Error)]
#[error("The command '{command}' returned a non-zero code: {code}")]
pub struct RunFailed {
    pub command: String,
    pub code: i32,
}

pub struct BuildRequest<'a> {
    pub dockerfile: &'a str,
    /// For messages: "Dockerfile", "build/Dockerfile.prod".
    pub dockerfile_name: String,
    pub context: &'a Path,
    pub ignore: &'a Ignore,
    pub build_args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub no_cache: bool,
    pub labels: BTreeMap<String, String>,
    /// `--network`: RUN steps' network unless they say.
    pub network: String,
    pub platform: Option<String>,
    /// Timestamps: SOURCE_DATE_EPOCH (or the git commit's), else now.
    pub epoch: Option<i64>,
    pub now: i64,
}

#[derive(Debug)]
pub struct Built {
    pub id: String,
    /// Build arguments given but never declared (docker warns about them).
    pub unused_args: Vec<String>,
    pub steps: usize,
    pub cached_steps: usize,
}

/// What a build tells its user as it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// Step `n` of `total` starts: the instruction as written (`RUN apt-get update`).
    Step { n: usize, total: usize, instruction: &'a str },
    /// An ONBUILD trigger of the base image runs.
    Trigger(&'a str),
    /// The step was found in the cache; its image.
    Cached(&'a str),
    /// The image the step (or the FROM) ends with.
    Image(&'a str),
    /// RUN output, as it comes.
    Output(&'a [u8]),
    /// The RUN step's container is gone.
    Removed(&'a str),
}

pub trait Progress {
    fn event(&mut self, e: Event);
}

/// docker's classic builder's output, line by line: `Step 2/5 : RUN ...`, ` ---> Using cache`,
/// ` ---> 3f1c...`, RUN output unchanged and never cut.
pub struct Plain<W: Write>(pub W);

impl<W: Write> Progress for Plain<W> {
    fn event(&mut self, e: Event) {
        let _ = match e {
            Event::Step { n, total, instruction } => writeln!(self.0, "Step {n}/{total} : {instruction}"),
            Event::Trigger(t) => writeln!(self.0, "# Executing build trigger: {t}"),
            Event::Cached(id) => writeln!(self.0, " ---> Using cache\n ---> {}", short(id)),
            Event::Image(id) => writeln!(self.0, " ---> {}", short(id)),
            Event::Output(b) => self.0.write_all(b).and_then(|_| self.0.flush()),
            Event::Removed(id) => writeln!(self.0, "Removing intermediate container {}", short(id)),
        };
    }
}

/// Proxy arguments every build knows without an ARG (Dockerfile reference, "Predefined
/// ARGs"); they are left out of the image's history.
const PREDEFINED: [&str; 8] = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy"];

struct Stage {
    name: Option<String>,
    from: Instruction,
    body: Vec<Instruction>,
}

/// Where a build is inside one stage.
#[derive(Clone)]
struct State {
    key: String,
    base: Base,
    /// ARGs declared in this stage, with their values.
    args: BTreeMap<String, Option<String>>,
    cmd_set: bool,
}

fn sha(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// RFC 3339 in UTC, seconds precision (the dates a build writes: the epoch or now).
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".into())
}

/// The parsed Dockerfile and the request: what every stage's worker reads.
struct Plan<'a> {
    req: &'a BuildRequest<'a>,
    escape: char,
    stages: Vec<Stage>,
    /// Global ARGs (before the first FROM) with their values after --build-arg.
    meta: BTreeMap<String, Option<String>>,
}

pub struct Builder<'a> {
    plan: Plan<'a>,
    host: &'a mut dyn BuildHost,
    out: &'a mut dyn Progress,
    used_args: BTreeSet<String>,
}

/// Builds one stage: the stages it needs are in `done`.
struct Worker<'w> {
    req: &'w BuildRequest<'w>,
    escape: char,
    stages: &'w [Stage],
    meta: &'w BTreeMap<String, Option<String>>,
    done: &'w BTreeMap<usize, State>,
    host: &'w mut dyn BuildHost,
    out: &'w mut dyn Progress,
    used_args: BTreeSet<String>,
    /// The number of the step before this stage's first.
    step: usize,
    total: usize,
    cached_steps: usize,
}

/// What a worker hands back.
struct StageDone {
    state: State,
    used_args: BTreeSet<String>,
    cached_steps: usize,
}

/// Events kept while a stage is built beside others, shown when it is done (its lines
/// together, in stage order).
#[derive(Default)]
struct Recorded(Vec<(u8, usize, usize, Vec<u8>)>);

impl Progress for Recorded {
    fn event(&mut self, e: Event) {
        self.0.push(match e {
            Event::Step { n, total, instruction } => (0, n, total, instruction.as_bytes().to_vec()),
            Event::Trigger(t) => (1, 0, 0, t.as_bytes().to_vec()),
            Event::Cached(id) => (2, 0, 0, id.as_bytes().to_vec()),
            Event::Image(id) => (3, 0, 0, id.as_bytes().to_vec()),
            Event::Output(b) => (4, 0, 0, b.to_vec()),
            Event::Removed(id) => (5, 0, 0, id.as_bytes().to_vec()),
        });
    }
}

impl Recorded {
    fn replay(self, out: &mut dyn Progress) {
        for (kind, n, total, data) in &self.0 {
            let text = String::from_utf8_lossy(data);
            out.event(match kind {
                0 => Event::Step { n: *n, total: *total, instruction: &text },
                1 => Event::Trigger(&text),
                2 => Event::Cached(&text),
                3 => Event::Image(&text),
                4 => Event::Output(data),
                _ => Event::Removed(&text),
            });
        }
    }
}

fn stage_index(stages: &[Stage], name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    stages
        .iter()
        .position(|s| s.name.as_deref() == Some(lower.as_str()))
        .or_else(|| name.parse::<usize>().ok().filter(|i| *i < stages.len()))
}

fn at(req: &BuildRequest, line: usize, message: impl Into<String>) -> BuildError {
    BuildError::Step { file: req.dockerfile_name.clone(), line, message: message.into() }
}

impl<'a> Builder<'a> {
    pub fn new(req: &'a BuildRequest<'a>, host: &'a mut dyn BuildHost, out: &'a mut dyn Progress) -> Result<Self, BuildError> {
        let parsed = parse(req.dockerfile)?;
        let mut meta = BTreeMap::new();
        let mut stages: Vec<Stage> = Vec::new();
        let mut used_args = BTreeSet::new();
        for ins in parsed.instructions {
            match (ins.cmd.as_str(), stages.last_mut()) {
                ("from", _) => stages.push(Stage { name: None, from: ins, body: Vec::new() }),
                (_, Some(s)) => s.body.push(ins),
                ("arg", None) => {
                    let lookup = |k: &str| meta_value(&meta, &req.build_args, k);
                    if let Command::Arg(list) = command(&ins, parsed.escape, &lookup)? {
                        for (k, default) in list {
                            let v = req.build_args.get(&k).cloned().or(default);
                            used_args.insert(k.clone());
                            meta.insert(k, v);
                        }
                    }
                }
                (_, None) => {
                    return Err(BuildError::Step {
                        file: req.dockerfile_name.clone(),
                        line: ins.line,
                        message: format!("no build stage in current context: {} must come after FROM", ins.cmd.to_ascii_uppercase()),
                    })
                }
            }
        }
        if stages.is_empty() {
            return Err(BuildError::Other(format!("{}: no FROM instruction", req.dockerfile_name)));
        }
        let mut plan = Plan { req, escape: parsed.escape, stages, meta };
        // Stage names, from each FROM.
        for i in 0..plan.stages.len() {
            let lookup = |k: &str| meta_value(&plan.meta, &req.build_args, k);
            if let Command::From { name, .. } = command(&plan.stages[i].from, plan.escape, &lookup)? {
                if let Some(n) = &name {
                    if plan.stages[..i].iter().any(|s| s.name.as_deref() == Some(n)) {
                        return Err(at(req, plan.stages[i].from.line, format!("duplicate stage name {n:?}")));
                    }
                }
                plan.stages[i].name = name;
            }
        }
        Ok(Builder { plan, host, out, used_args })
    }

    /// The stages `index` needs (FROM stage, COPY --from, RUN --mount from=), checked to be
    /// earlier ones.
    fn needs(&self, index: usize) -> Result<Vec<usize>, BuildError> {
        let plan = &self.plan;
        let s = &plan.stages[index];
        let mut out = Vec::new();
        let mut check = |name: &str, line: usize| -> Result<(), BuildError> {
            if let Some(i) = stage_index(&plan.stages, name) {
                if i >= index {
                    return Err(at(plan.req, line, format!("stage {name:?} is used before it is defined (circular dependency)")));
                }
                out.push(i);
            }
            Ok(())
        };
        let lookup = |k: &str| meta_value(&plan.meta, &plan.req.build_args, k);
        if let Command::From { image, .. } = command(&s.from, plan.escape, &lookup)? {
            check(&image, s.from.line)?;
        }
        for ins in &s.body {
            for f in &ins.flags {
                if let Some(v) = f.strip_prefix("--from=") {
                    check(v, ins.line)?;
                }
                if let Some(m) = f.strip_prefix("--mount=") {
                    if let Some(from) = m.split(',').find_map(|kv| kv.strip_prefix("from=")) {
                        check(from, ins.line)?;
                    }
                }
            }
        }
        Ok(out)
    }

    pub fn build(mut self) -> Result<Built, BuildError> {
        let req = self.plan.req;
        let target = match &req.target {
            Some(t) => stage_index(&self.plan.stages, t)
                .filter(|i| self.plan.stages[*i].name.is_some() || t.parse::<usize>().is_ok())
                .ok_or_else(|| BuildError::Other(format!("target stage {t:?} could not be found")))?,
            None => self.plan.stages.len() - 1,
        };
        let mut wanted = BTreeSet::new();
        let mut needs: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        let mut todo = vec![target];
        while let Some(i) = todo.pop() {
            if wanted.insert(i) {
                let n = self.needs(i)?;
                todo.extend(n.iter().copied());
                needs.insert(i, n);
            }
        }
        // Step numbers as the stages come in the file, whatever order they are built in.
        let size = |i: usize| self.plan.stages[i].body.len() + 1;
        let total: usize = wanted.iter().map(|i| size(*i)).sum();
        let mut first_step = BTreeMap::new();
        let mut n = 0;
        for &i in &wanted {
            first_step.insert(i, n);
            n += size(i);
        }
        let mut done: BTreeMap<usize, State> = BTreeMap::new();
        let mut cached_steps = 0;
        let mut pending: Vec<usize> = wanted.iter().copied().collect();
        while !pending.is_empty() {
            // The stages whose needs are built go together, each with a host of its own.
            let ready: Vec<usize> = pending.iter().copied().filter(|i| needs[i].iter().all(|d| done.contains_key(d))).collect();
            pending.retain(|i| !ready.contains(i));
            let mut forks = Vec::new();
            while forks.len() + 1 < ready.len() {
                match self.host.fork().map_err(|e| BuildError::Other(format!("start a parallel stage: {e}")))? {
                    Some(h) => forks.push(h),
                    None => break,
                }
            }
            let plan = &self.plan;
            let worker = |i: usize, done: &'_ BTreeMap<usize, State>, host: &'_ mut dyn BuildHost, out: &'_ mut dyn Progress| {
                Worker {
                    req: plan.req,
                    escape: plan.escape,
                    stages: &plan.stages,
                    meta: &plan.meta,
                    done,
                    host,
                    out,
                    used_args: BTreeSet::new(),
                    step: first_step[&i],
                    total,
                    cached_steps: 0,
                }
                .build_stage(i)
            };
            let mut results: Vec<(usize, Result<StageDone, BuildError>)> = Vec::new();
            if ready.len() == 1 || forks.len() + 1 < ready.len() {
                for &i in &ready {
                    let r = worker(i, &done, &mut *self.host, &mut *self.out);
                    let failed = r.is_err();
                    results.push((i, r));
                    if failed {
                        break;
                    }
                }
            } else {
                let done_ref = &done;
                let recorded = std::thread::scope(|scope| {
                    let threads: Vec<_> = ready[1..]
                        .iter()
                        .zip(forks.iter_mut())
                        .map(|(&i, host)| {
                            let worker = &worker;
                            scope.spawn(move || {
                                let mut rec = Recorded::default();
                                let r = worker(i, done_ref, host.as_mut(), &mut rec);
                                (i, r, rec)
                            })
                        })
                        .collect();
                    let mut rec = Recorded::default();
                    let first = worker(ready[0], done_ref, &mut *self.host, &mut rec);
                    let mut all = vec![(ready[0], first, rec)];
                    for t in threads {
                        all.push(t.join().expect("a stage's thread panicked"));
                    }
                    all
                });
                for (i, r, rec) in recorded {
                    rec.replay(&mut *self.out);
                    results.push((i, r));
                }
            }
            drop(forks);
            for (i, r) in results {
                let d = r?;
                self.used_args.extend(d.used_args);
                cached_steps += d.cached_steps;
                done.insert(i, d.state);
            }
        }
        let last = done.remove(&target).expect("target built");
        let mut config = last.base.config.clone();
        if !req.labels.is_empty() {
            config.labels.get_or_insert_with(BTreeMap::new).extend(req.labels.clone());
        }
        let created = rfc3339(req.epoch.unwrap_or(req.now));
        // The image itself is cached too: a build with every step cached gives the same image
        // (docker's classic builder does the same), not one that differs by its date.
        let key = sha(&[&last.key, "image", &format!("{:?}", req.labels)]);
        let reuse = match req.no_cache {
            true => None,
            false => self.host.cached(&key).map_err(|e| BuildError::Other(format!("read the build cache: {e}")))?.and_then(|b| b.id),
        };
        let image = FinalImage {
            layers_of: last.base.id.as_deref(),
            config: &config,
            history: &last.base.history,
            author: last.base.author.as_deref(),
            created,
            reuse,
        };
        let id = self.host.commit(&image).map_err(|e| BuildError::Other(format!("commit the image: {e}")))?;
        self.host.remember(&key, &id).map_err(|e| BuildError::Other(format!("write the build cache: {e}")))?;
        let unused_args = req
            .build_args
            .keys()
            .filter(|k| !self.used_args.contains(*k) && !PREDEFINED.contains(&k.as_str()) && k.as_str() != "SOURCE_DATE_EPOCH")
            .cloned()
            .collect();
        Ok(Built { id, unused_args, steps: total, cached_steps })
    }
}

impl<'w> Worker<'w> {
    fn at(&self, line: usize, message: impl Into<String>) -> BuildError {
        at(self.req, line, message)
    }

    fn stage_index(&self, name: &str) -> Option<usize> {
        stage_index(self.stages, name)
    }

    fn announce(&mut self, ins: &Instruction, text: &str) {
        self.step += 1;
        let instruction = format!("{} {}", ins.cmd.to_ascii_uppercase(), text);
        self.out.event(Event::Step { n: self.step, total: self.total, instruction: &instruction });
    }

    fn build_stage(mut self, index: usize) -> Result<StageDone, BuildError> {
        let from = self.stages[index].from.clone();
        let lookup = |k: &str| meta_value(self.meta, &self.req.build_args, k);
        let Command::From { image, platform, .. } = command(&from, self.escape, &lookup)? else { unreachable!("a stage starts with FROM") };
        self.announce(&from, &shell_text(&from));
        // The epoch is part of every key: it sets the mtimes and dates of what steps make.
        let epoch = format!("{:?}", self.req.epoch);
        let mut state = if let Some(i) = self.stage_index(&image).filter(|i| *i < index) {
            let mut s = self.done.get(&i).cloned().ok_or_else(|| self.at(from.line, format!("stage {image:?} was not built")))?;
            s.args.clear();
            s.cmd_set = false;
            s
        } else if image.eq_ignore_ascii_case("scratch") {
            State { key: sha(&["scratch", &epoch]), base: Base::default(), args: BTreeMap::new(), cmd_set: false }
        } else {
            let platform = platform.or_else(|| self.req.platform.clone());
            let base = self.host.image(&image, platform.as_deref()).map_err(|e| self.at(from.line, format!("FROM {image}: {e}")))?;
            let key = sha(&["from", base.id.as_deref().unwrap_or(""), &epoch]);
            State { key, base, args: BTreeMap::new(), cmd_set: false }
        };
        if let Some(id) = &state.base.id {
            self.out.event(Event::Image(id));
        }
        // An image without PATH gets the default one in its config, as docker's builders write
        // it (classic: dispatchers.go initializeStage; BuildKit alike), so that every engine
        // that runs the result sees the same environment.
        let env = state.base.config.env.get_or_insert_with(Vec::new);
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(DEFAULT_PATH.to_string());
        }
        // ONBUILD triggers of the base run first, then are cleared (Dockerfile reference, ONBUILD).
        let triggers = state.base.config.on_build.take().unwrap_or_default();
        for t in triggers {
            let parsed = parse(&t).map_err(|e| self.at(from.line, format!("ONBUILD trigger {t:?}: {e}")))?;
            for mut ins in parsed.instructions {
                ins.line = from.line;
                self.out.event(Event::Trigger(&t));
                self.apply(&mut state, &ins, false)?;
            }
        }
        let body = self.stages[index].body.clone();
        for ins in &body {
            self.apply(&mut state, ins, true)?;
        }
        Ok(StageDone { state, used_args: std::mem::take(&mut self.used_args), cached_steps: self.cached_steps })
    }

    /// The variables an instruction sees: the stage's ARGs (with --build-arg values), then
    /// ENV over them (ENV wins over ARG of the same name).
    fn lookup<'s>(&'s self, state: &'s State) -> impl Fn(&str) -> Option<String> + use<'s, 'w> {
        move |k: &str| {
            state
                .base
                .config
                .env_value(k)
                .or_else(|| state.args.get(k).cloned().flatten())
                .or_else(|| PREDEFINED.contains(&k).then(|| self.req.build_args.get(k).cloned()).flatten())
        }
    }

    fn history(&self, created_by: String, empty: bool) -> History {
        History {
            created: Some(rfc3339(self.req.epoch.unwrap_or(self.req.now))),
            created_by: Some(created_by),
            author: None,
            comment: Some("buildkit.dockerfile.v0".into()),
            empty_layer: empty,
        }
    }

    fn apply(&mut self, state: &mut State, ins: &Instruction, count: bool) -> Result<(), BuildError> {
        let cmd = {
            let lookup = self.lookup(state);
            command(ins, self.escape, &lookup)?
        };
        if count {
            self.announce(ins, &shell_text(ins));
        }
        let printed = format!("{} {}", ins.cmd.to_ascii_uppercase(), printed_args(&cmd, ins, &state.base.config.shell()));
        let key = sha(&[&state.key, &format!("{cmd:?}")]);
        let config = &mut state.base.config;
        let mut meta_only = true;
        match &cmd {
            Command::Env(pairs) => {
                for (k, v) in pairs {
                    config.set_env(k, v);
                }
            }
            Command::Label(pairs) => {
                let labels = config.labels.get_or_insert_with(BTreeMap::new);
                for (k, v) in pairs {
                    labels.insert(k.clone(), v.clone());
                }
            }
            Command::Arg(list) => {
                for (k, default) in list {
                    self.used_args.insert(k.clone());
                    // A global ARG's value comes back into scope by naming it.
                    let v = self.req.build_args.get(k).cloned().or_else(|| default.clone()).or_else(|| self.meta.get(k).cloned().flatten());
                    state.args.insert(k.clone(), v);
                }
            }
            Command::Expose(ports) => {
                let map = config.exposed_ports.get_or_insert_with(BTreeMap::new);
                for p in ports {
                    let p = if p.contains('/') { p.to_ascii_lowercase() } else { format!("{p}/tcp") };
                    map.insert(p, Value::Object(Map::new()));
                }
            }
            Command::Volume(v) => {
                let map = config.volumes.get_or_insert_with(BTreeMap::new);
                for p in v {
                    map.insert(p.clone(), Value::Object(Map::new()));
                }
            }
            Command::Cmd(args) => {
                config.cmd = Some(argv(args, &config.shell()));
                state.cmd_set = true;
            }
            Command::Entrypoint(args) => {
                config.entrypoint = Some(argv(args, &config.shell()));
                if !state.cmd_set {
                    config.cmd = None;
                }
            }
            Command::User(u) => config.user = Some(u.clone()),
            Command::Shell(s) => config.shell = Some(s.clone()),
            Command::StopSignal(s) => config.stop_signal = Some(s.clone()),
            Command::Maintainer(m) => state.base.author = Some(m.clone()),
            Command::Onbuild(t) => config.on_build.get_or_insert_with(Vec::new).push(t.clone()),
            Command::Healthcheck(h) => {
                let mut o = Map::new();
                o.insert("Test".into(), Value::from(h.test.clone()));
                for (k, v) in [
                    ("Interval", h.interval),
                    ("Timeout", h.timeout),
                    ("StartPeriod", h.start_period),
                    ("StartInterval", h.start_interval),
                    ("Retries", h.retries),
                ] {
                    if let Some(v) = v.filter(|v| *v != 0) {
                        o.insert(k.into(), Value::from(v));
                    }
                }
                config.healthcheck = Some(Value::Object(o));
            }
            Command::Workdir(w) => {
                let dir = if w.starts_with('/') {
                    w.clone()
                } else {
                    format!("{}/{w}", config.working_dir.as_deref().unwrap_or("").trim_end_matches('/'))
                };
                let dir = match crate::ignore::clean(dir.trim_start_matches('/')).as_str() {
                    "." => "/".to_string(),
                    c => format!("/{c}"),
                };
                config.working_dir = Some(dir);
                meta_only = false;
            }
            Command::From { .. } => return Err(self.at(ins.line, "FROM inside a stage")),
            Command::Run { .. } | Command::Copy(_) => meta_only = false,
        }
        if meta_only {
            state.key = key;
            state.base.history.push(self.history(printed, true));
            return Ok(());
        }
        match cmd {
            Command::Run { args, mounts, network } => self.run(state, ins, &args, &mounts, network),
            Command::Copy(spec) => self.copy(state, ins, &spec, &printed),
            Command::Workdir(_) => self.workdir(state, ins, key, printed),
            _ => unreachable!("layer steps"),
        }
    }

    fn use_cache(&mut self, state: &mut State, key: &str) -> Result<bool, BuildError> {
        if self.req.no_cache {
            return Ok(false);
        }
        match self.host.cached(key).map_err(|e| BuildError::Other(format!("read the build cache: {e}")))? {
            Some(hit) => {
                self.out.event(Event::Cached(hit.id.as_deref().unwrap_or("")));
                state.base.id = hit.id;
                state.base.history = hit.history;
                state.key = key.to_string();
                self.cached_steps += 1;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    fn remember(&mut self, state: &mut State, key: String, new: Base) -> Result<(), BuildError> {
        if let Some(id) = &new.id {
            self.host.remember(&key, id).map_err(|e| BuildError::Other(format!("write the build cache: {e}")))?;
            self.out.event(Event::Image(id));
        }
        state.base.id = new.id;
        state.base.history = new.history;
        state.key = key;
        Ok(())
    }

    fn workdir(&mut self, state: &mut State, ins: &Instruction, key: String, printed: String) -> Result<(), BuildError> {
        let dir = state.base.config.working_dir.clone().unwrap_or_default();
        if self.use_cache(state, &key)? {
            return Ok(());
        }
        // The components the image lacks, as `mkdir -p` makes them (0755, root). The layer
        // also carries the existing ones as the image has them: a directory in a layer takes
        // its metadata from that layer (WORKDIR /tmp/x must not make /tmp 0755).
        let mtime = self.req.epoch.unwrap_or(self.req.now);
        let (entries, made) = {
            use std::os::unix::fs::MetadataExt;
            let m = self.host.mount(state.base.id.as_deref()).map_err(|e| self.at(ins.line, format!("WORKDIR: {e}")))?;
            let mut p = String::new();
            let mut entries = Vec::new();
            let mut made = false;
            // Through the image's symlinks (WORKDIR /var/run/x is /run/x where /var/run links
            // there): a directory entry must never replace a link.
            let real = resolve_in_root(m.path(), &dir, true);
            let real =
                real.strip_prefix(m.path()).map(|r| r.to_string_lossy().into_owned()).unwrap_or_else(|_| dir.trim_matches('/').to_string());
            for part in real.split('/').filter(|c| !c.is_empty()) {
                p = if p.is_empty() { part.to_string() } else { format!("{p}/{part}") };
                let dest = p.clone();
                let (mode, uid, gid, t) = match std::fs::metadata(resolve_in_root(m.path(), &p, true)) {
                    Ok(md) if md.is_dir() => (md.mode() & 0o7777, md.uid(), md.gid(), self.req.epoch.unwrap_or(md.mtime())),
                    _ => {
                        made = true;
                        (0o755, 0, 0, mtime)
                    }
                };
                entries.push(crate::copy::Entry { dest, content: crate::copy::Content::Dir, mode, uid, gid, mtime: t });
            }
            (entries, made)
        };
        let mut history = state.base.history.clone();
        if !made {
            history.push(self.history(printed, true));
            state.base.history = history;
            state.key = key;
            return Ok(());
        }
        history.push(self.history(printed, false));
        self.add_entries(state, ins, key, history, &entries, &format!("WORKDIR {dir}"))
    }

    /// A layer of `entries` on the state's image, with `history`, remembered under `key`.
    fn add_entries(
        &mut self,
        state: &mut State,
        ins: &Instruction,
        key: String,
        history: Vec<History>,
        entries: &[crate::copy::Entry],
        what: &str,
    ) -> Result<(), BuildError> {
        let step = LayerStep {
            parent: state.base.id.as_deref(),
            config: &state.base.config,
            history: &history,
            author: state.base.author.as_deref(),
        };
        let new = self
            .host
            .add_layer(&step, &mut |w| crate::copy::write_layer(entries, w).map_err(io::Error::other))
            .map_err(|e| self.at(ins.line, format!("{what}: {e}")))?;
        self.remember(state, key, new)
    }

    fn run(
        &mut self,
        state: &mut State,
        ins: &Instruction,
        args: &Args,
        mounts: &[RunMount],
        network: Option<String>,
    ) -> Result<(), BuildError> {
        let config = state.base.config.clone();
        let argv = argv(args, &config.shell());
        // Build arguments reach RUN as environment variables (not kept in the image); an
        // ENV of the same name wins.
        let mut env = config.env.clone().unwrap_or_default();
        let mut arg_env: Vec<String> = Vec::new();
        for (k, v) in &state.args {
            if let Some(v) = v {
                if config.env_value(k).is_none() {
                    arg_env.push(format!("{k}={v}"));
                }
            }
        }
        for k in PREDEFINED {
            if let Some(v) = self.req.build_args.get(k) {
                env.push(format!("{k}={v}"));
            }
        }
        env.extend(arg_env.iter().cloned());
        let network = network.unwrap_or_else(|| self.req.network.clone());
        // The key: the state, the command, the args it sees, the network and mounts, and what
        // the bind mounts show (their files' digests, or the stage or image they come from).
        let mut bound = Vec::new();
        for m in mounts {
            if let RunMount::Bind { source, from, .. } = m {
                let spec = CopySpec {
                    add: false,
                    sources: vec![source.clone()],
                    dest: "/".into(),
                    from: from.clone(),
                    chown: None,
                    chmod: None,
                    link: false,
                    heredocs: Vec::new(),
                };
                bound.push(self.sources_identity(&spec, "/", ins)?);
            }
        }
        let key =
            sha(&[&state.key, "run", &format!("{argv:?}"), &format!("{arg_env:?}"), &network, &format!("{mounts:?}"), &bound.join(",")]);
        if self.use_cache(state, &key)? {
            return Ok(());
        }
        let mut kept: Vec<Box<dyn Mounted>> = Vec::new();
        let mut host_mounts = Vec::new();
        for m in mounts {
            host_mounts.push(match m {
                RunMount::Cache { id, target } => HostMount::Cache { id: id.clone(), target: target.clone() },
                RunMount::Tmpfs { target } => HostMount::Tmpfs { target: target.clone() },
                RunMount::Bind { source, target, from, readonly } => {
                    let root = match from {
                        Some(f) => {
                            let m = self.mount_source(f, ins)?;
                            let p = m.path().to_path_buf();
                            kept.push(m);
                            p
                        }
                        None => self.req.context.to_path_buf(),
                    };
                    HostMount::Bind { source: resolve_in_root(&root, source, true), target: target.clone(), readonly: *readonly }
                }
            });
        }
        let mut history = state.base.history.clone();
        let shown = match args {
            Args::Json(v) => format!("RUN {}", serde_json::to_string(v).unwrap_or_default()),
            Args::Shell(_) => format!("RUN {}", argv.join(" ")),
        };
        history.push(self.history(shown, false));
        let step = RunStep {
            parent: state.base.id.as_deref(),
            argv: argv.clone(),
            env,
            config: &config,
            network,
            mounts: host_mounts,
            history: &history,
            author: state.base.author.as_deref(),
            epoch: self.req.epoch,
        };
        let mut tail = Tail { out: &mut *self.out, last: Vec::new() };
        let result = self.host.run(&step, &mut tail);
        let last = String::from_utf8_lossy(&tail.last).into_owned();
        drop(kept);
        match result {
            Ok((new, container)) => {
                self.out.event(Event::Removed(&container));
                self.remember(state, key, new)
            }
            Err(e) => {
                let lines: Vec<&str> = last.lines().collect();
                let tail = lines[lines.len().saturating_sub(5)..].join("\n");
                // docker's message for a failed command; other failures name the step.
                let mut msg = match e.downcast_ref::<RunFailed>() {
                    Some(f) => f.to_string(),
                    None => format!("RUN {}: {e}", argv.join(" ")),
                };
                if !tail.trim().is_empty() {
                    msg.push_str(&format!("\nlast lines of its output:\n{tail}"));
                }
                Err(self.at(ins.line, msg))
            }
        }
    }

    /// A read-only view of another stage or an image (COPY --from, RUN --mount from=).
    fn mount_source(&mut self, from: &str, ins: &Instruction) -> Result<Box<dyn Mounted>, BuildError> {
        let image = match self.stage_index(from) {
            Some(i) => self.done.get(&i).ok_or_else(|| self.at(ins.line, format!("stage {from:?} was not built")))?.base.id.clone(),
            None => self.host.image(from, None).map_err(|e| self.at(ins.line, format!("--from={from}: {e}")))?.id,
        };
        self.host.mount(image.as_deref()).map_err(|e| self.at(ins.line, format!("--from={from}: {e}")))
    }

    /// The owner `--chown` names, resolved in the image's /etc/passwd and /etc/group.
    fn owner(&self, chown: Option<&str>, root: Option<&Path>, ins: &Instruction) -> Result<(u32, u32), BuildError> {
        let Some(spec) = chown else { return Ok((0, 0)) };
        let (user, group) = spec.split_once(':').map(|(u, g)| (u, Some(g))).unwrap_or((spec, None));
        // Through doca-fs: an image's /etc/passwd that is a FIFO or a device node (a watchdog
        // armed by opening it) is refused by type before any open, and links stay inside it.
        let read = |f: &str| {
            root.and_then(|r| doca_fs::Root::open(r).ok()?.read_file(Path::new(f), 16 << 20).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let find = |file: &str, name: &str| -> Option<(u32, u32)> {
            read(file).lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 3 && f[0] == name).then(|| (f[2].parse().ok(), f[3].parse().ok())).and_then(|(a, b)| Some((a?, b.unwrap_or(0))))
            })
        };
        let uid_and_gid = match user.parse::<u32>() {
            Ok(u) => (u, find("etc/passwd", user).map(|p| p.1).unwrap_or(u)),
            Err(_) => find("etc/passwd", user)
                .ok_or_else(|| self.at(ins.line, format!("unable to find user {user}: no matching entries in passwd file")))?,
        };
        let gid = match group {
            None => {
                if user.parse::<u32>().is_ok() {
                    uid_and_gid.0
                } else {
                    uid_and_gid.1
                }
            }
            Some(g) => match g.parse::<u32>() {
                Ok(g) => g,
                Err(_) => find("etc/group", g)
                    .map(|p| p.0)
                    .ok_or_else(|| self.at(ins.line, format!("unable to find group {g}: no matching entries in group file")))?,
            },
        };
        Ok((uid_and_gid.0, gid))
    }

    /// The identity of what a COPY (or a RUN bind mount) takes: another stage's key (its
    /// content follows from it), an image's id, or the digests of the context's files.
    fn sources_identity(&mut self, spec: &CopySpec, workdir: &str, ins: &Instruction) -> Result<String, BuildError> {
        let what = if spec.add { "ADD" } else { "COPY" };
        match &spec.from {
            Some(f) => match self.stage_index(f) {
                Some(i) => self.done.get(&i).map(|s| s.key.clone()).ok_or_else(|| self.at(ins.line, format!("stage {f:?} was not built"))),
                None => {
                    Ok(self.host.image(f, None).map_err(|e| self.at(ins.line, format!("{what} --from={f}: {e}")))?.id.unwrap_or_default())
                }
            },
            None => {
                let plan = CopyPlan {
                    spec,
                    from: SourceRoot { dir: self.req.context, ignore: Some(self.req.ignore), name: "build context".into() },
                    image_root: None,
                    workdir,
                    owner: (0, 0),
                    epoch: self.req.epoch,
                    now: self.req.now,
                };
                let entries = plan.entries().map_err(|e| self.at(ins.line, e.to_string()))?;
                entries_digest(&entries, self.host.digests()).map_err(|e| self.at(ins.line, e.to_string()))
            }
        }
    }

    /// ADD's URL sources, downloaded into a scratch directory (mode 0600 and the server's
    /// Last-Modified, as docker does), as a spec over that directory.
    fn download(&mut self, spec: &CopySpec, ins: &Instruction) -> Result<Option<Downloads>, BuildError> {
        let urls: Vec<&String> = spec.sources.iter().filter(|s| s.starts_with("http://") || s.starts_with("https://")).collect();
        if urls.is_empty() || !spec.add {
            return Ok(None);
        }
        let dl = self.host.mount(None).map_err(|e| self.at(ins.line, format!("ADD: {e}")))?;
        let mut names = Vec::new();
        for u in urls {
            let path = u.split(['?', '#']).next().unwrap_or(u);
            if path.ends_with(".git") {
                return Err(self.at(
                    ins.line,
                    format!("ADD {u}: git repositories are not supported as sources (clone in a RUN step or into the context)"),
                ));
            }
            let name = path
                .rsplit('/')
                .next()
                .filter(|n| !n.is_empty() && *n != "." && *n != ".." && path.matches('/').count() > 2)
                .ok_or_else(|| {
                    self.at(ins.line, format!("ADD {u}: cannot determine a file name from the URL; give the destination as a file path"))
                })?;
            let file = dl.path().join(name);
            let modified = self.host.fetch(u, &file).map_err(|e| self.at(ins.line, format!("ADD {u}: {e}")))?;
            let f = std::fs::File::options().write(true).open(&file).map_err(|e| self.at(ins.line, format!("ADD {u}: {e}")))?;
            if let Some(t) = modified.filter(|t| *t > 0) {
                let _ = f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t as u64));
            }
            let _ = f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600));
            names.push(name.to_string());
        }
        let url_spec = CopySpec { add: false, sources: names, from: None, heredocs: Vec::new(), ..spec.clone() };
        Ok(Some((dl, url_spec)))
    }

    fn downloaded_entries(
        &self,
        dir: &Path,
        spec: &CopySpec,
        image_root: Option<&Path>,
        owner: (u32, u32),
        ins: &Instruction,
    ) -> Result<Vec<crate::copy::Entry>, BuildError> {
        let plan = CopyPlan {
            spec,
            from: SourceRoot { dir, ignore: None, name: "download".into() },
            image_root,
            workdir: "/",
            owner,
            epoch: self.req.epoch,
            now: self.req.now,
        };
        plan.entries().map_err(|e| self.at(ins.line, e.to_string()))
    }

    fn copy(&mut self, state: &mut State, ins: &Instruction, spec: &CopySpec, printed: &str) -> Result<(), BuildError> {
        let workdir = state.base.config.working_dir.clone().unwrap_or_else(|| "/".into());
        let what = if spec.add { "ADD" } else { "COPY" };
        // ADD <url>: downloaded every time (docker does too), keyed by what came.
        let downloaded = self.download(spec, ins)?;
        // (COPY keeps its URLs: the plan refuses them by name.)
        let is_url = |s: &String| spec.add && (s.starts_with("http://") || s.starts_with("https://"));
        let local = CopySpec { sources: spec.sources.iter().filter(|s| !is_url(s)).cloned().collect(), ..spec.clone() };
        if downloaded.is_some() && spec.sources.len() > 1 && !spec.dest.ends_with('/') {
            return Err(self.at(
                ins.line,
                format!("When using {what} with more than one source file, the destination must be a directory and end with a /"),
            ));
        }
        // The identity of the sources: another stage's key (its content follows from it), an
        // image's id, or the digests of the context files (and of the downloads).
        let mut source_id = if local.sources.is_empty() { String::new() } else { self.sources_identity(&local, &workdir, ins)? };
        if let Some((dl, url_spec)) = &downloaded {
            let entries = self.downloaded_entries(dl.path(), url_spec, None, (0, 0), ins)?;
            source_id.push_str(&entries_digest(&entries, self.host.digests()).map_err(|e| self.at(ins.line, e.to_string()))?);
        }
        let key = sha(&[&state.key, &format!("{spec:?}"), &workdir, &source_id]);
        if self.use_cache(state, &key)? {
            return Ok(());
        }
        let source_mount = match &spec.from {
            Some(f) => Some(self.mount_source(f, ins)?),
            None => None,
        };
        let image = self.host.mount(state.base.id.as_deref()).map_err(|e| self.at(ins.line, format!("{what}: {e}")))?;
        let owner = self.owner(spec.chown.as_deref(), Some(image.path()), ins)?;
        let mut entries = Vec::new();
        if !local.sources.is_empty() {
            let from = match &source_mount {
                Some(m) => SourceRoot { dir: m.path(), ignore: None, name: format!("stage {}", spec.from.as_deref().unwrap_or("")) },
                None => SourceRoot { dir: self.req.context, ignore: Some(self.req.ignore), name: "build context".into() },
            };
            let plan = CopyPlan {
                spec: &local,
                from,
                image_root: Some(image.path()),
                workdir: &workdir,
                owner,
                epoch: self.req.epoch,
                now: self.req.now,
            };
            entries = plan.entries().map_err(|e| self.at(ins.line, e.to_string()))?;
        }
        if let Some((dl, url_spec)) = &downloaded {
            let spec = CopySpec {
                dest: if url_spec.dest.starts_with('/') {
                    url_spec.dest.clone()
                } else {
                    format!("{}/{}", workdir.trim_end_matches('/'), url_spec.dest)
                },
                ..url_spec.clone()
            };
            entries.extend(self.downloaded_entries(dl.path(), &spec, Some(image.path()), owner, ins)?);
            entries.sort_by(|a, b| a.dest.cmp(&b.dest));
            entries.dedup_by(|a, b| a.dest == b.dest && a.content == crate::copy::Content::Dir && b.content == crate::copy::Content::Dir);
        }
        drop(image);
        let mut history = state.base.history.clone();
        history.push(self.history(printed.to_string(), false));
        let done = self.add_entries(state, ins, key, history, &entries, what);
        drop(source_mount);
        drop(downloaded);
        done
    }
}

/// ADD's downloads: the scratch directory holding them, and a spec that copies them from it.
type Downloads = (Box<dyn Mounted>, CopySpec);

/// Keeps the last few KiB of RUN output for the error message, passing all of it on.
struct Tail<'w> {
    out: &'w mut dyn Progress,
    last: Vec<u8>,
}

impl Write for Tail<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.last.extend_from_slice(buf);
        if self.last.len() > 8192 {
            let cut = self.last.len() - 4096;
            self.last.drain(..cut);
        }
        self.out.event(Event::Output(buf));
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

fn meta_value(meta: &BTreeMap<String, Option<String>>, args: &BTreeMap<String, String>, k: &str) -> Option<String> {
    meta.get(k).cloned().flatten().or_else(|| PREDEFINED.contains(&k).then(|| args.get(k).cloned()).flatten())
}

fn shell_text(ins: &Instruction) -> String {
    let flags: String = ins.flags.iter().map(|f| format!("{f} ")).collect();
    let args = match &ins.args {
        Args::Json(v) => serde_json::to_string(v).unwrap_or_default(),
        Args::Shell(s) => s.clone(),
    };
    format!("{flags}{args}")
}

/// What the history shows for an instruction (BuildKit's `created_by`: the instruction with
/// its arguments after expansion; CMD and ENTRYPOINT as the argv they set, printed as Go's
/// `%q` prints a string slice: `CMD ["bash" "run.sh"]`).
fn printed_args(cmd: &Command, ins: &Instruction, shell: &[String]) -> String {
    match cmd {
        Command::Cmd(a) | Command::Entrypoint(a) => {
            format!("[{}]", argv(a, shell).iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(" "))
        }
        Command::Env(p) | Command::Label(p) => p.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "),
        Command::Arg(p) => {
            p.iter().map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")).unwrap_or_else(|| k.clone())).collect::<Vec<_>>().join(" ")
        }
        Command::Expose(p) => p.iter().map(|p| if p.contains('/') { p.clone() } else { format!("{p}/tcp") }).collect::<Vec<_>>().join(" "),
        Command::Volume(v) => serde_json::to_string(v).unwrap_or_default(),
        Command::Workdir(w) | Command::User(w) | Command::StopSignal(w) | Command::Onbuild(w) | Command::Maintainer(w) => w.clone(),
        Command::Copy(c) => format!("{} {}", c.sources.join(" "), c.dest),
        _ => shell_text(ins),
    }
}

/// Exec form as written; shell form through SHELL.
fn argv(args: &Args, shell: &[String]) -> Vec<String> {
    match args {
        Args::Json(v) => v.clone(),
        Args::Shell(s) => shell.iter().cloned().chain(std::iter::once(s.clone())).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// A host that records what the builder asks: RUN argv and env, layers, cache traffic.
    #[derive(Default)]
    struct Fake {
        images: HashMap<String, Base>,
        cache: HashMap<String, String>,
        made: HashMap<String, Base>,
        runs: Vec<(Vec<String>, Vec<String>)>,
        layers: usize,
        n: usize,
        root: Option<tempfile::TempDir>,
    }

    struct Dir(PathBuf);
    impl Mounted for Dir {
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl DigestCache for Fake {
        fn get(&mut self, _: &crate::copy::FileKey) -> Option<String> {
            None
        }
        fn put(&mut self, _: &crate::copy::FileKey, _: &str) {}
    }

    impl Fake {
        fn new_image(&mut self, config: &RunConfig, history: &[History]) -> Base {
            self.n += 1;
            let b = Base { id: Some(format!("sha256:{:064x}", self.n)), config: config.clone(), history: history.to_vec(), author: None };
            self.made.insert(b.id.clone().unwrap(), b.clone());
            b
        }
    }

    impl BuildHost for Fake {
        fn image(&mut self, name: &str, _: Option<&str>) -> Result<Base, HostError> {
            self.images.get(name).cloned().ok_or_else(|| format!("no image {name}").into())
        }
        fn cached(&mut self, key: &str) -> Result<Option<Base>, HostError> {
            Ok(self.cache.get(key).and_then(|id| self.made.get(id)).cloned())
        }
        fn remember(&mut self, key: &str, image: &str) -> Result<(), HostError> {
            self.cache.insert(key.into(), image.into());
            Ok(())
        }
        fn run(&mut self, step: &RunStep, _: &mut dyn Write) -> Result<(Base, String), HostError> {
            self.runs.push((step.argv.clone(), step.env.clone()));
            Ok((self.new_image(step.config, step.history), "c".repeat(64)))
        }
        fn add_layer(&mut self, step: &LayerStep, _: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>) -> Result<Base, HostError> {
            self.layers += 1;
            Ok(self.new_image(step.config, step.history))
        }
        fn mount(&mut self, _: Option<&str>) -> Result<Box<dyn Mounted>, HostError> {
            let root = self.root.get_or_insert_with(|| tempfile::tempdir().unwrap());
            Ok(Box::new(Dir(root.path().to_path_buf())))
        }
        fn commit(&mut self, image: &FinalImage) -> Result<String, HostError> {
            if let Some(id) = &image.reuse {
                return Ok(id.clone());
            }
            Ok(self.new_image(image.config, image.history).id.unwrap())
        }
        fn digests(&mut self) -> &mut dyn DigestCache {
            self
        }
        fn fetch(&mut self, _: &str, to: &Path) -> Result<Option<i64>, HostError> {
            std::fs::write(to, b"downloaded")?;
            Ok(None)
        }
    }

    fn fake() -> Fake {
        let mut f = Fake::default();
        let config = RunConfig { cmd: Some(vec!["sh".into()]), env: Some(vec!["PATH=/bin".into()]), ..Default::default() };
        f.images.insert("base".into(), Base { id: Some(format!("sha256:{:064x}", 999)), config, history: vec![], author: None });
        f
    }

    fn build(f: &mut Fake, dockerfile: &str, args: &[(&str, &str)], target: Option<&str>) -> Result<(Built, RunConfig), BuildError> {
        let ctx = tempfile::tempdir().unwrap();
        let ignore = Ignore::default();
        let req = BuildRequest {
            dockerfile,
            dockerfile_name: "Dockerfile".into(),
            context: ctx.path(),
            ignore: &ignore,
            build_args: args.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            target: target.map(String::from),
            no_cache: false,
            labels: BTreeMap::new(),
            network: "none".into(),
            platform: None,
            epoch: Some(0),
            now: 0,
        };
        let mut out = Plain(Vec::new());
        let built = Builder::new(&req, f, &mut out)?.build()?;
        let config = f.made[&built.id].config.clone();
        Ok((built, config))
    }

    #[test]
    fn arg_scopes_build_args_and_env_as_docker() {
        let mut f = fake();
        let df = "ARG V=global\nFROM base\nRUN echo $V\nARG V\nARG W=w-default\nENV W=from-env\nRUN echo $V $W\n";
        let (built, _) = build(&mut f, df, &[("V", "given"), ("NOPE", "x")], None).unwrap();
        // Before the stage's own ARG V, the global one is not in scope.
        assert!(!f.runs[0].1.iter().any(|e| e.starts_with("V=")), "{:?}", f.runs[0].1);
        assert!(f.runs[1].1.contains(&"V=given".to_string()));
        // ENV wins over an ARG of the same name, and build args are not kept in the image.
        assert!(f.runs[1].1.contains(&"W=from-env".to_string()) && !f.runs[1].1.contains(&"W=w-default".to_string()));
        assert_eq!(built.unused_args, vec!["NOPE".to_string()]);
        assert_eq!(f.made[&built.id].config.env, Some(vec!["PATH=/bin".into(), "W=from-env".into()]));
    }

    #[test]
    fn entrypoint_resets_an_inherited_cmd_but_not_the_stages_own() {
        let mut f = fake();
        let (_, c) = build(&mut f, "FROM base\nENTRYPOINT [\"/app\"]\n", &[], None).unwrap();
        assert_eq!((c.entrypoint, c.cmd), (Some(vec!["/app".into()]), None));
        let (_, c) = build(&mut f, "FROM base\nCMD [\"x\"]\nENTRYPOINT /app -v\n", &[], None).unwrap();
        assert_eq!(c.entrypoint, Some(vec!["/bin/sh".into(), "-c".into(), "/app -v".into()]));
        assert_eq!(c.cmd, Some(vec!["x".into()]));
        let (_, c) = build(&mut f, "FROM base\nSHELL [\"/bin/bash\", \"-eu\", \"-c\"]\nCMD echo hi\n", &[], None).unwrap();
        assert_eq!(c.cmd, Some(vec!["/bin/bash".into(), "-eu".into(), "-c".into(), "echo hi".into()]));
    }

    #[test]
    fn only_the_stages_the_target_needs_run() {
        let mut f = fake();
        let df = "FROM base AS a\nRUN echo a\nFROM base AS b\nRUN echo b\nFROM a AS c\nRUN echo c\n";
        build(&mut f, df, &[], Some("c")).unwrap();
        let ran: Vec<String> = f.runs.iter().map(|r| r.0.last().unwrap().clone()).collect();
        assert_eq!(ran, ["echo a", "echo c"]);
        let err = build(&mut f, "FROM base AS a\nCOPY --from=a /x /x\n", &[], None).unwrap_err();
        assert!(err.to_string().contains("Dockerfile:2:") && err.to_string().contains("circular"), "{err}");
    }

    #[test]
    fn the_cache_key_follows_what_a_step_sees() {
        let mut f = fake();
        let df = "FROM base\nARG MODE\nRUN make $MODE\nENV X=1\nRUN make install\n";
        build(&mut f, df, &[("MODE", "debug")], None).unwrap();
        assert_eq!(f.runs.len(), 2);
        // The same inputs: nothing runs, the same image.
        let (a, _) = build(&mut f, df, &[("MODE", "debug")], None).unwrap();
        let (b, _) = build(&mut f, df, &[("MODE", "debug")], None).unwrap();
        assert_eq!((f.runs.len(), a.id.clone(), a.cached_steps), (2, b.id, 2));
        // A build arg the RUN sees: both RUNs again (the second follows the first).
        build(&mut f, df, &[("MODE", "release")], None).unwrap();
        assert_eq!(f.runs.len(), 4);
        // An ENV before the second RUN: only that one.
        build(&mut f, &df.replace("X=1", "X=2"), &[("MODE", "release")], None).unwrap();
        assert_eq!(f.runs.len(), 5);
    }

    #[test]
    fn onbuild_triggers_run_in_the_child_build_and_are_not_inherited() {
        let mut f = fake();
        let (parent, _) = build(&mut f, "FROM base\nONBUILD RUN echo triggered\n", &[], None).unwrap();
        let p = f.made[&parent.id].clone();
        assert_eq!(p.config.on_build, Some(vec!["RUN echo triggered".into()]));
        f.images.insert("parent".into(), p);
        let (_, c) = build(&mut f, "FROM parent\nRUN echo child\n", &[], None).unwrap();
        let ran: Vec<String> = f.runs.iter().map(|r| r.0.last().unwrap().clone()).collect();
        assert_eq!(ran, ["echo triggered", "echo child"]);
        assert_eq!(c.on_build, None);
    }

    #[test]
    fn healthcheck_labels_and_history() {
        let mut f = fake();
        let (b, c) =
            build(&mut f, "FROM base\nLABEL a=1 \"b c\"=2\nHEALTHCHECK --interval=5s CMD true\nEXPOSE 80 53/udp\n", &[], None).unwrap();
        assert_eq!(c.labels.unwrap().into_iter().collect::<Vec<_>>(), vec![("a".into(), "1".into()), ("b c".into(), "2".into())]);
        assert_eq!(c.healthcheck.unwrap(), serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000i64}));
        assert_eq!(c.exposed_ports.unwrap().keys().cloned().collect::<Vec<_>>(), ["53/udp", "80/tcp"]);
        let h = &f.made[&b.id].history;
        assert_eq!(
            h.iter().map(|h| h.created_by.clone().unwrap()).collect::<Vec<_>>(),
            ["LABEL a=1 b c=2", "HEALTHCHECK --interval=5s CMD true", "EXPOSE 80/tcp 53/udp"]
        );
        // CMD and ENTRYPOINT as BuildKit writes them (issue 17, item 22).
        let (b, _) = build(&mut f, "FROM base\nCMD [\"bash\",\"run.sh\"]\nENTRYPOINT echo \"hi\"\n", &[], None).unwrap();
        let h = &f.made[&b.id].history;
        assert_eq!(
            h.iter().map(|h| h.created_by.clone().unwrap()).collect::<Vec<_>>(),
            ["CMD [\"bash\" \"run.sh\"]", "ENTRYPOINT [\"/bin/sh\" \"-c\" \"echo \\\"hi\\\"\"]"]
        );
        assert!(h.iter().all(|h| h.empty_layer && h.created.as_deref() == Some("1970-01-01T00:00:00Z")));
    }
}
