//! `up`, `down` and the project's containers, on the engine: networks and volumes made with
//! compose's labels, images built or pulled, containers created in dependency order and
//! recreated only when their configuration (its hash) changed, as docker compose v2 does.

use crate::model::{Model, Service};
use crate::project::Project;
use crate::service::{self, Context, CONFIG_HASH, NUMBER, ONEOFF, PROJECT, SERVICE};
use doca_engine::containers::{Container, ContainerFilter, ListContainers, StartContainer};
use doca_engine::{Engine, EngineError};
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{0}")]
    Project(String),
}

/// A loaded project and what it needs to run: its directory, files and the shell's variables.
pub struct Compose {
    pub project: Project,
    pub model: Model,
    pub dir: PathBuf,
    pub config_files: Vec<String>,
    /// The project's environment: the shell over `.env` (or `--env-file`).
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default)]
pub struct Up {
    /// Only these services (and what they depend on); all when empty.
    pub services: Vec<String>,
    pub build: bool,
    pub no_build: bool,
    pub force_recreate: bool,
    pub no_recreate: bool,
    pub no_deps: bool,
    pub remove_orphans: bool,
    pub scale: BTreeMap<String, u32>,
    /// `--wait`: return once every service runs (healthy, when it has a health check).
    pub wait: bool,
    pub wait_timeout: Option<Duration>,
    /// `create`: the containers made, not started.
    pub no_start: bool,
    /// `--pull always|missing|never`.
    pub pull: Option<String>,
    /// `-t`: seconds a container being recreated gets to stop (its stop_grace_period, or the
    /// engine's default, when not given).
    pub timeout: Option<i64>,
}

/// `run`: a one-off container of a service.
#[derive(Debug, Clone, Default)]
pub struct RunOneOff {
    pub service: String,
    /// The command instead of the service's.
    pub command: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub name: Option<String>,
    pub remove: bool,
    pub no_deps: bool,
    /// `--service-ports`: the service's published ports (left out by default, as compose).
    pub service_ports: bool,
    pub publish: Vec<String>,
    pub volumes: Vec<String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub tty: bool,
    pub interactive: bool,
}

#[derive(Debug, Clone, Default)]
pub struct Down {
    pub volumes: bool,
    pub remove_orphans: bool,
    pub timeout: Option<i64>,
    /// `--rmi all` (every service's image) or `local` (the images compose named, those of
    /// services built without an `image:`).
    pub rmi: Option<String>,
}

/// When a service's image is built or pulled.
#[derive(Debug, Clone, Default)]
pub struct ImageRule {
    /// Build even when the image exists (`up --build`, `build`).
    pub build: bool,
    pub no_build: bool,
    pub no_cache: bool,
    /// Pull the base images again (`build --pull`).
    pub pull: bool,
    /// `up --pull always|missing|never`, over each service's `pull_policy`.
    pub pull_policy: Option<String>,
    /// `build --build-arg KEY=VALUE`, over each service's `build.args`.
    pub build_args: Vec<(String, String)>,
}

/// A line of progress, as docker compose prints them (` ✔ Container web-1  Started`).
pub type Progress<'a> = &'a mut dyn FnMut(&str, &str, &str);

impl Compose {
    pub fn ctx(&self) -> Context<'_> {
        Context { project: &self.project.name, dir: &self.dir, config_files: &self.config_files, model: &self.model, env: &self.env }
    }

    /// The hash compose labels a container with: the service's definition as merged, so an
    /// edit of the service (and nothing else) recreates its containers.
    pub fn config_hash(&self, name: &str) -> String {
        let tree = self.project.model.to_json();
        let def = tree.get("services").and_then(|s| s.get(name)).cloned().unwrap_or_default();
        hex::encode(Sha256::digest(serde_json::to_vec(&def).expect("json")))
    }

    /// The services to bring up, dependencies first; a cycle is named.
    pub fn order(&self, wanted: &[String], with_deps: bool) -> Result<Vec<String>, ComposeError> {
        let mut order = Vec::new();
        let roots: Vec<String> =
            if wanted.is_empty() { self.model.services.iter().map(|(n, _)| n.clone()).collect() } else { wanted.to_vec() };
        fn visit(c: &Compose, name: &str, stack: &mut Vec<String>, order: &mut Vec<String>, with_deps: bool) -> Result<(), ComposeError> {
            if order.iter().any(|o| o == name) {
                return Ok(());
            }
            if stack.iter().any(|s| s == name) {
                stack.push(name.to_string());
                return Err(ComposeError::Project(format!("dependency cycle detected: {}", stack.join(" -> "))));
            }
            let s = c.model.service(name).ok_or_else(|| ComposeError::Project(format!("no such service: {name}")))?;
            stack.push(name.to_string());
            if with_deps {
                for (dep, _, required) in service::dependencies(s, &format!("services.{name}"))? {
                    if c.model.service(&dep).is_none() {
                        if required {
                            return Err(ComposeError::Project(format!("service {name:?} depends on undefined service {dep:?}")));
                        }
                        continue;
                    }
                    visit(c, &dep, stack, order, with_deps)?;
                }
            }
            stack.pop();
            order.push(name.to_string());
            Ok(())
        }
        for r in &roots {
            visit(self, r, &mut Vec::new(), &mut order, with_deps)?;
        }
        Ok(order)
    }

    /// The project's containers (one-offs too when `oneoff`), by service.
    pub fn containers(&self, e: &mut Engine, all: bool) -> Result<Vec<Container>, ComposeError> {
        let filters = vec![ContainerFilter::parse(&format!("label={PROJECT}={}", self.project.name))?];
        Ok(e.list_containers(&ListContainers { all, last: None, filters })?)
    }

    /// A network's or volume's labels: its own, and compose's (project, its key, version).
    fn resource_labels(
        &self,
        own: &serde_json::Value,
        section: &str,
        key: &str,
        key_label: &str,
    ) -> Result<BTreeMap<String, String>, ComposeError> {
        let mut labels: BTreeMap<String, String> = crate::model::key_values(own, &format!("{section}.{key}.labels"))?
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect();
        labels.insert(PROJECT.into(), self.project.name.clone());
        labels.insert(key_label.into(), key.to_string());
        labels.insert(service::VERSION.into(), service::COMPOSE_VERSION.into());
        Ok(labels)
    }

    fn ensure_networks(&self, e: &mut Engine, services: &[String], progress: Progress) -> Result<(), ComposeError> {
        let ctx = self.ctx();
        let mut keys: Vec<String> = Vec::new();
        for name in services {
            let s = self.model.service(name).expect("ordered services exist");
            if s.network_mode.is_some() {
                continue;
            }
            for (k, _) in service::networks(s, &format!("services.{name}"))? {
                if !keys.contains(&k) {
                    keys.push(k);
                }
            }
        }
        for key in keys {
            let engine_name = ctx.network_name(&key);
            let spec = self.model.networks.get(&key).cloned().unwrap_or_default();
            if e.network(&engine_name).is_ok() {
                continue;
            }
            if spec.external {
                return Err(ComposeError::Project(format!("network {engine_name} declared as external, but could not be found")));
            }
            let labels = self.resource_labels(&spec.labels, "networks", &key, service::NETWORK)?;
            let first = |k: &str| {
                spec.ipam
                    .as_ref()
                    .and_then(|i| i.get("config"))
                    .and_then(|c| c.as_array())
                    .and_then(|a| a.first())
                    .and_then(|c| c.get(k))
                    .and_then(|v| v.as_str())
                    .map(String::from)
            };
            e.create_network(&doca_engine::networks::CreateNetwork {
                name: engine_name.clone(),
                driver: spec.driver.clone(),
                subnet: first("subnet"),
                gateway: first("gateway"),
                ip_range: first("ip_range"),
                internal: spec.internal,
                labels,
                options: spec.driver_opts.iter().map(|(k, v)| (k.clone(), crate::model::text(v))).collect(),
                ipv6: spec.enable_ipv6.unwrap_or(false),
                subnet6: None,
                gateway6: None,
            })?;
            progress("Network", &engine_name, "Created");
        }
        Ok(())
    }

    fn ensure_volumes(&self, e: &mut Engine, progress: Progress) -> Result<(), ComposeError> {
        let ctx = self.ctx();
        for (key, spec) in &self.model.volumes {
            let engine_name = ctx.volume_name(key);
            if e.volume(&engine_name).is_ok() {
                continue;
            }
            if spec.external {
                return Err(ComposeError::Project(format!("external volume {engine_name:?} not found")));
            }
            let labels = self.resource_labels(&spec.labels, "volumes", key, service::VOLUME)?;
            e.create_volume(&doca_engine::volumes::CreateVolume {
                name: Some(engine_name.clone()),
                driver: spec.driver.clone(),
                labels,
                options: spec.driver_opts.iter().map(|(k, v)| (k.clone(), crate::model::text(v))).collect(),
                anonymous: false,
            })?;
            progress("Volume", &engine_name, "Created");
        }
        Ok(())
    }

    /// A service's image made present as its pull policy says (compose's `pull_policy`:
    /// `always` pulls at each up, `missing` when absent, `never` refuses an absent one, `build`
    /// builds at each up), built when it has a build section and no image yet (or `--build`).
    fn ensure_image(&self, e: &mut Engine, name: &str, s: &Service, rule: &ImageRule, progress: Progress) -> Result<(), ComposeError> {
        let image = self.ctx().image(name, s);
        let present = e.resolve_image(&image).is_ok();
        let policy = rule.pull_policy.as_deref().or(s.pull_policy.as_deref()).unwrap_or("missing");
        match &s.build {
            Some(spec) if !rule.no_build && (rule.build || !present || policy == "build") => {
                let b = match spec {
                    crate::model::BuildSpec::Context(c) => crate::model::Build { context: Some(c.clone()), ..Default::default() },
                    crate::model::BuildSpec::Full(b) => (**b).clone(),
                };
                let context = self.dir.join(b.context.as_deref().unwrap_or("."));
                let dockerfile_path = context.join(b.dockerfile.as_deref().unwrap_or("Dockerfile"));
                let dockerfile = match &b.dockerfile_inline {
                    Some(text) => text.clone(),
                    None => std::fs::read_to_string(&dockerfile_path)
                        .map_err(|err| ComposeError::Project(format!("services.{name}.build: {}: {err}", dockerfile_path.display())))?,
                };
                let ignore = std::fs::read_to_string(context.join(".dockerignore")).unwrap_or_default();
                let mut args: BTreeMap<String, String> = crate::model::key_values(&b.args, &format!("services.{name}.build.args"))?
                    .into_iter()
                    .filter_map(|(k, v)| v.or_else(|| self.env.get(&k).cloned()).map(|v| (k, v)))
                    .collect();
                args.extend(rule.build_args.iter().cloned());
                let mut tags = vec![image.clone()];
                tags.extend(b.tags.clone());
                let build_id = doca_engine::containers::ContainerId::random()?.short().to_string();
                let built = e.build_image(
                    &doca_engine::build::BuildImage {
                        context,
                        dockerfile,
                        dockerfile_name: b.dockerfile.clone().unwrap_or_else(|| "Dockerfile".into()),
                        ignore,
                        tags,
                        build_args: args.into_iter().collect(),
                        target: b.target.clone(),
                        no_cache: rule.no_cache || b.no_cache.unwrap_or(false),
                        labels: crate::model::key_values(&b.labels, &format!("services.{name}.build.labels"))?
                            .into_iter()
                            .map(|(k, v)| (k, v.unwrap_or_default()))
                            .collect(),
                        network: b.network.clone().unwrap_or_else(|| "default".into()),
                        platform: None,
                        epoch: None,
                        build_id,
                        cgroup_parent: None,
                        pull: if rule.pull || b.pull.unwrap_or(false) { "always" } else { "missing" }.into(),
                    },
                    &mut doca_engine::build::Plain(std::io::sink()),
                );
                built?;
                progress("Image", &image, "Built");
            }
            _ if present && !(s.build.is_none() && policy == "always") => {}
            _ if !present && policy == "never" => return Err(EngineError::NoSuchImage(image).into()),
            _ => {
                e.pull_image(&doca_engine::images::PullImage { reference: image.clone(), platform: None, auth: None }, &|_| {})?;
                progress("Image", &image, "Pulled");
            }
        }
        Ok(())
    }

    /// Waits for the dependencies' conditions before `name` starts.
    fn wait_for_dependencies(&self, e: &mut Engine, name: &str, s: &Service, timeout: Duration) -> Result<(), ComposeError> {
        for (dep, condition, _) in service::dependencies(s, &format!("services.{name}"))? {
            if condition == "service_started" {
                continue;
            }
            let deadline = Instant::now() + timeout;
            loop {
                let cs: Vec<Container> =
                    self.containers(e, true)?.into_iter().filter(|c| c.config.labels.get(SERVICE) == Some(&dep)).collect();
                let done = !cs.is_empty()
                    && cs.iter().all(|c| match condition.as_str() {
                        "service_healthy" => c.state.status.is_live() && e.container_health(c).is_some_and(|h| h.status == "healthy"),
                        _ => !c.state.status.is_live() && c.state.exit_code == 0 && c.state.started_at.is_some(),
                    });
                if done {
                    break;
                }
                let failed = cs.iter().any(|c| match condition.as_str() {
                    "service_healthy" => e.container_health(c).is_some_and(|h| h.status == "unhealthy") || !c.state.status.is_live(),
                    _ => !c.state.status.is_live() && c.state.started_at.is_some() && c.state.exit_code != 0,
                });
                if failed {
                    let what = if condition == "service_healthy" { "is unhealthy" } else { "didn't complete successfully" };
                    return Err(ComposeError::Project(format!("dependency failed to start: container {} {what}", cs[0].name)));
                }
                if Instant::now() > deadline {
                    return Err(ComposeError::Project(format!("timed out waiting for {dep} ({condition})")));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Ok(())
    }

    /// `build`: every service with a build section, built at once (builds are independent of
    /// each other, as in docker compose, which hands them to BuildKit together).
    pub fn build(&self, e: &mut Engine, services: &[String], rule: &ImageRule, progress: Progress) -> Result<(), ComposeError> {
        let rule = ImageRule { build: true, ..rule.clone() };
        let built: Vec<String> =
            self.order(services, false)?.into_iter().filter(|n| self.model.service(n).is_some_and(|s| s.build.is_some())).collect();
        self.in_parallel(e, &built, progress, &|e, name, progress| {
            self.ensure_image(e, name, self.model.service(name).expect("ordered services exist"), &rule, progress)
        })
    }

    /// `work` for each item, at once: a thread and an engine each, their progress lines
    /// printed in item order once all are done, the first failure returned. One item is done
    /// here, on the caller's engine.
    fn in_parallel(
        &self,
        e: &mut Engine,
        items: &[String],
        progress: Progress,
        work: &(dyn Fn(&mut Engine, &str, Progress) -> Result<(), ComposeError> + Sync),
    ) -> Result<(), ComposeError> {
        if let [one] = items {
            return work(e, one, progress);
        }
        type Lines = Vec<(String, String, String)>;
        let config = e.config().clone();
        let results: Vec<(Lines, Result<(), ComposeError>)> = std::thread::scope(|scope| {
            let handles: Vec<_> = items
                .iter()
                .map(|item| {
                    let config = config.clone();
                    scope.spawn(move || {
                        let mut lines: Lines = Vec::new();
                        let r = Engine::open(config)
                            .map_err(ComposeError::from)
                            .and_then(|mut e| work(&mut e, item, &mut |k, n, a| lines.push((k.to_string(), n.to_string(), a.to_string()))));
                        (lines, r)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| (Vec::new(), Err(ComposeError::Project("a worker panicked".into())))))
                .collect()
        });
        let mut first_err = None;
        for (lines, r) in results {
            for (k, n, a) in lines {
                progress(&k, &n, &a);
            }
            if let Err(e) = r {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// `pull`: the images of the services that are not built.
    pub fn pull(&self, e: &mut Engine, services: &[String], progress: Progress) -> Result<(), ComposeError> {
        for name in self.order(services, false)? {
            let s = self.model.service(&name).expect("ordered services exist");
            if s.build.is_none() {
                let image = self.ctx().image(&name, s);
                e.pull_image(&doca_engine::images::PullImage { reference: image.clone(), platform: None, auth: None }, &|_| {})?;
                progress("Image", &image, "Pulled");
            }
        }
        Ok(())
    }

    /// `push`: the images of the services that name one.
    pub fn push(&self, e: &mut Engine, services: &[String], progress: Progress) -> Result<(), ComposeError> {
        for name in self.order(services, false)? {
            let s = self.model.service(&name).expect("ordered services exist");
            if let Some(image) = &s.image {
                e.push_image(&doca_engine::images::PushImage { name: image.clone(), auth: None }, &|_| {})?;
                progress("Image", image, "Pushed");
            }
        }
        Ok(())
    }

    /// The containers of these services (all when empty), one-offs left out, by name.
    pub fn service_containers(&self, e: &mut Engine, services: &[String], all: bool) -> Result<Vec<Container>, ComposeError> {
        for s in services {
            if self.model.service(s).is_none() {
                return Err(ComposeError::Project(format!("no such service: {s}")));
            }
        }
        let mut cs: Vec<Container> = self
            .containers(e, all)?
            .into_iter()
            .filter(|c| c.config.labels.get(ONEOFF).map(String::as_str) != Some("True"))
            .filter(|c| services.is_empty() || c.config.labels.get(SERVICE).is_some_and(|s| services.contains(s)))
            .collect();
        cs.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(cs)
    }

    /// `run`: the dependencies up (unless `no_deps`), then the one-off's create request
    /// (not created: the caller creates, attaches and starts it) and its further networks.
    pub fn one_off(
        &self,
        e: &mut Engine,
        req: &RunOneOff,
        progress: Progress,
    ) -> Result<(doca_engine::containers::CreateContainer, Vec<doca_engine::networks::ConnectNetwork>), ComposeError> {
        let s = self.model.service(&req.service).ok_or_else(|| ComposeError::Project(format!("no such service: {}", req.service)))?;
        let deps: Vec<String> = self.order(std::slice::from_ref(&req.service), true)?.into_iter().filter(|n| *n != req.service).collect();
        if !req.no_deps && !deps.is_empty() {
            self.up(e, &Up { services: deps, no_recreate: true, ..Default::default() }, progress)?;
        } else {
            self.ensure_networks(e, std::slice::from_ref(&req.service), progress)?;
            self.ensure_volumes(e, progress)?;
        }
        self.ensure_image(e, &req.service, s, &ImageRule::default(), progress)?;
        let (mut create, connect) = service::request(&self.ctx(), &req.service, s, 1, &self.config_hash(&req.service))?;
        let suffix = doca_engine::containers::ContainerId::random()?.short().to_string();
        create.name = Some(req.name.clone().unwrap_or_else(|| format!("{}-{}-run-{suffix}", self.project.name, req.service)));
        create.labels.insert(ONEOFF.into(), "True".into());
        if !req.command.is_empty() {
            create.cmd = req.command.clone();
        }
        if let Some(ep) = &req.entrypoint {
            create.entrypoint = Some(ep.clone());
        }
        create.env.extend(req.env.iter().cloned());
        if !req.service_ports {
            create.publish.clear();
        }
        for p in &req.publish {
            create
                .publish
                .extend(doca_engine::parse_publish(p).map_err(|err| ComposeError::Project(format!("invalid port {p:?}: {err}")))?);
        }
        for v in &req.volumes {
            create.mounts.push(doca_engine::containers::parse_volume_flag(v)?);
        }
        if req.user.is_some() {
            create.user = req.user.clone();
        }
        if req.workdir.is_some() {
            create.working_dir = req.workdir.clone();
        }
        // A one-off is never restarted, and goes with --rm.
        create.restart = doca_engine::containers::RestartPolicy::No;
        create.auto_remove = req.remove;
        create.tty = req.tty;
        create.open_stdin = req.interactive;
        create.stdin_once = req.interactive;
        create.attach_stdin = req.interactive;
        create.attach_stdout = true;
        create.attach_stderr = true;
        Ok((create, connect))
    }

    pub fn up(&self, e: &mut Engine, req: &Up, progress: Progress) -> Result<(), ComposeError> {
        let order = self.order(&req.services, !req.no_deps)?;
        self.ensure_networks(e, &order, progress)?;
        self.ensure_volumes(e, progress)?;
        let existing = self.containers(e, true)?;
        // Orphans: containers of services this project no longer has.
        for c in existing.iter().filter(|c| c.config.labels.get(ONEOFF).map(String::as_str) != Some("True")) {
            let svc = c.config.labels.get(SERVICE).cloned().unwrap_or_default();
            if self.model.service(&svc).is_none() {
                if req.remove_orphans {
                    e.remove_container(c.id.as_str(), true, false)?;
                    progress("Container", &c.name, "Removed");
                } else {
                    progress("Warning", &c.name, &format!("Found orphan container ({}) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.", c.name));
                }
            }
        }
        let timeout = req.wait_timeout.unwrap_or(Duration::from_secs(300));
        // By dependency level, shallowest first; the services of one level (independent of
        // each other) start at once, each thread with an engine of its own, as docker compose
        // starts independent services concurrently. Images are made first, one at a time.
        let mut levels: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for name in &order {
            levels.entry(self.depth(name, &mut Vec::new())).or_default().push(name.clone());
        }
        let rule = ImageRule { build: req.build, no_build: req.no_build, pull_policy: req.pull.clone(), ..Default::default() };
        for (_, level) in levels {
            for name in &level {
                self.ensure_image(e, name, self.model.service(name).expect("ordered services exist"), &rule, progress)?;
            }
            self.in_parallel(e, &level, progress, &|e, name, progress| self.up_service(e, name, req, &existing, timeout, progress))?;
        }
        if req.wait {
            let deadline = Instant::now() + timeout;
            for c in self.containers(e, true)? {
                loop {
                    let now = e.container(c.id.as_str())?;
                    let health = if now.state.status.is_live() { e.container_health(&now) } else { None };
                    let ready = now.state.status.is_live() && health.as_ref().is_none_or(|h| h.status == "healthy");
                    if ready || (!now.state.status.is_live() && now.state.exit_code == 0) {
                        progress("Container", &now.name, "Healthy");
                        break;
                    }
                    if !now.state.status.is_live() || health.is_some_and(|h| h.status == "unhealthy") {
                        return Err(ComposeError::Project(format!("container {} is unhealthy", now.name)));
                    }
                    if Instant::now() > deadline {
                        return Err(ComposeError::Project(format!("timed out waiting for container {}", now.name)));
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }
        Ok(())
    }

    /// One service's containers brought to the model: each replica kept, started, recreated
    /// (its configuration changed) or made, once the service's dependencies are ready; the
    /// replicas above the scale removed.
    fn up_service(
        &self,
        e: &mut Engine,
        name: &str,
        req: &Up,
        existing: &[Container],
        timeout: Duration,
        progress: Progress,
    ) -> Result<(), ComposeError> {
        let ctx = self.ctx();
        let s = self.model.service(name).expect("ordered services exist");
        let hash = self.config_hash(name);
        let replicas = req
            .scale
            .get(name)
            .copied()
            .or(s.scale)
            .or_else(|| s.deploy.as_ref().and_then(|d| d.get("replicas")).and_then(serde_json::Value::as_u64).map(|n| n as u32))
            .unwrap_or(1);
        let mine: Vec<&Container> = existing
            .iter()
            .filter(|c| {
                c.config.labels.get(SERVICE).map(String::as_str) == Some(name)
                    && c.config.labels.get(ONEOFF).map(String::as_str) != Some("True")
            })
            .collect();
        if !req.no_start {
            self.wait_for_dependencies(e, name, s, timeout)?;
        }
        for n in 1..=replicas {
            let current = mine.iter().find(|c| c.config.labels.get(NUMBER).and_then(|x| x.parse().ok()) == Some(n));
            if let Some(c) = current {
                let same = c.config.labels.get(CONFIG_HASH) == Some(&hash);
                if (same && !req.force_recreate) || req.no_recreate {
                    if req.no_start {
                        continue;
                    }
                    if !c.state.status.is_live() {
                        e.start_container(c.id.as_str(), &StartContainer::default())?;
                        progress("Container", &c.name, "Started");
                    } else {
                        progress("Container", &c.name, "Running");
                    }
                    continue;
                }
                // Stopped as `stop` stops it (its signal, then the grace period), not killed.
                if c.state.status.is_live() {
                    e.stop_container(c.id.as_str(), req.timeout, None)?;
                }
                e.remove_container(c.id.as_str(), true, false)?;
                progress("Container", &c.name, "Recreate");
            }
            let (create, connect) = service::request(&ctx, name, s, n, &hash)?;
            let c = e.create_container(&create)?;
            for mut net in connect {
                net.container = c.id.to_string();
                e.connect_network(&net)?;
            }
            progress("Container", &c.name, "Created");
            if !req.no_start {
                e.start_container(c.id.as_str(), &StartContainer::default())?;
                progress("Container", &c.name, "Started");
            }
        }
        // Scaled down: the highest numbers go.
        for c in mine.iter().filter(|c| c.config.labels.get(NUMBER).and_then(|x| x.parse::<u32>().ok()).is_some_and(|x| x > replicas)) {
            e.remove_container(c.id.as_str(), true, false)?;
            progress("Container", &c.name, "Removed");
        }
        Ok(())
    }

    /// How deep a service sits in the dependency graph: 0 for one that depends on nothing.
    /// Containers stop from the deepest level up, each level at once (dependents before
    /// what they depend on, as docker compose stops them).
    fn depth(&self, name: &str, seen: &mut Vec<String>) -> usize {
        let Some(s) = self.model.service(name) else { return usize::MAX };
        if seen.iter().any(|n| n == name) {
            return 0;
        }
        seen.push(name.to_string());
        let d = service::dependencies(s, name)
            .unwrap_or_default()
            .iter()
            .filter(|(dep, _, _)| self.model.service(dep).is_some())
            .map(|(dep, _, _)| self.depth(dep, seen) + 1)
            .max()
            .unwrap_or(0);
        seen.pop();
        d
    }

    pub fn down(&self, e: &mut Engine, req: &Down, progress: Progress) -> Result<(), ComposeError> {
        let cs: Vec<Container> = self
            .containers(e, true)?
            .into_iter()
            .filter(|c| {
                let known = c.config.labels.get(SERVICE).is_some_and(|s| self.model.service(s).is_some());
                known || req.remove_orphans || c.config.labels.get(ONEOFF).map(String::as_str) == Some("True")
            })
            .collect();
        // By level, deepest first (orphans, of no level, first of all); each level in parallel,
        // every thread with an engine of its own, so that stop timeouts overlap.
        let mut levels: BTreeMap<std::cmp::Reverse<usize>, Vec<Container>> = BTreeMap::new();
        for c in cs {
            let d = c.config.labels.get(SERVICE).map_or(usize::MAX, |s| self.depth(s, &mut Vec::new()));
            levels.entry(std::cmp::Reverse(d)).or_default().push(c);
        }
        let config = e.config().clone();
        for (_, level) in levels {
            let results: Vec<Result<Vec<(String, &'static str)>, EngineError>> = std::thread::scope(|scope| {
                let handles: Vec<_> = level
                    .iter()
                    .map(|c| {
                        let config = config.clone();
                        scope.spawn(move || -> Result<Vec<(String, &'static str)>, EngineError> {
                            let mut e = Engine::open(config)?;
                            let mut done = Vec::new();
                            if c.state.status.is_live() {
                                e.stop_container(c.id.as_str(), req.timeout, None)?;
                                done.push((c.name.clone(), "Stopped"));
                            }
                            e.remove_container(c.id.as_str(), true, false)?;
                            done.push((c.name.clone(), "Removed"));
                            Ok(done)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(EngineError::Internal("a stop failed".into())))).collect()
            });
            for r in results {
                for (name, what) in r? {
                    progress("Container", &name, what);
                }
            }
        }
        let filter = doca_engine::networks::NetworkFilter::parse(&format!("label={PROJECT}={}", self.project.name))?;
        for n in e.list_networks(&[filter])? {
            e.remove_network(&n.id)?;
            progress("Network", &n.name, "Removed");
        }
        if let Some(which) = &req.rmi {
            let ctx = self.ctx();
            let mut images: Vec<String> =
                self.model.services.iter().filter(|(_, s)| which == "all" || s.image.is_none()).map(|(n, s)| ctx.image(n, s)).collect();
            images.sort();
            images.dedup();
            for image in images {
                // An image already gone, or still used by another project's container, is left
                // as docker compose leaves it: said, not an error.
                match e.remove_image(&doca_engine::images::RemoveImage { name: image.clone(), force: false }) {
                    Ok(_) => progress("Image", &image, "Removed"),
                    Err(EngineError::NoSuchImage(_)) => {}
                    Err(err) => progress("Warning", &image, &format!("image {image} not removed: {err}")),
                }
            }
        }
        if req.volumes {
            let filter = doca_engine::volumes::VolumeFilter::parse(&format!("label={PROJECT}={}", self.project.name))?;
            for v in e.list_volumes(&[filter])? {
                e.remove_volume(&v.name, false)?;
                progress("Volume", &v.name, "Removed");
            }
        }
        Ok(())
    }
}
