//! A service as the engine's create request: compose's fields in the syntaxes `doca run`
//! parses (ports, volumes, sizes, durations through the engine's own parsers), the project's
//! names (`<project>_<volume>`, `<project>_<network>`, `<project>-<service>-<n>`) and compose's
//! labels, so that docker compose (through `doca serve`) and `doca compose` see one project.

use crate::model::{key_values, ModelError, Service, ServiceNetwork, StringOrList};
use doca_engine::containers::{CreateContainer, HealthSpec, MountKind, MountSpec, NetworkMode, Resources, RestartPolicy};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// compose's labels (what `docker compose` reads back to find a project's objects).
pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const IMAGE: &str = "com.docker.compose.image";
pub const VERSION: &str = "com.docker.compose.version";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";

/// The compose version doca's labels say (docker compose v2's format).
pub const COMPOSE_VERSION: &str = "2.24.0";

fn err(path: &str, message: impl Into<String>) -> ModelError {
    ModelError { path: path.to_string(), message: message.into() }
}

/// Where the project is and what names its objects get.
pub struct Context<'a> {
    pub project: &'a str,
    pub dir: &'a Path,
    pub config_files: &'a [String],
    pub model: &'a crate::model::Model,
    /// The project's environment, the shell over `.env` (a bare `environment: [KEY]` takes
    /// its value from there, as do `env_file`s' references and secrets' `environment`).
    pub env: &'a BTreeMap<String, String>,
}

impl Context<'_> {
    /// A top-level volume's name in the engine: `<project>_<name>`, or its `name:`.
    pub fn volume_name(&self, key: &str) -> String {
        match self.model.volumes.get(key) {
            Some(v) if v.name.is_some() => v.name.clone().unwrap_or_default(),
            Some(v) if v.external => key.to_string(),
            _ => format!("{}_{key}", self.project),
        }
    }

    pub fn network_name(&self, key: &str) -> String {
        match self.model.networks.get(key) {
            Some(n) if n.name.is_some() => n.name.clone().unwrap_or_default(),
            Some(n) if n.external => key.to_string(),
            _ => format!("{}_{key}", self.project),
        }
    }

    /// The image a service runs: its `image`, or `<project>-<service>` for a built one.
    pub fn image(&self, service: &str, s: &Service) -> String {
        s.image.clone().unwrap_or_else(|| format!("{}-{service}", self.project))
    }

    pub fn container_name(&self, service: &str, s: &Service, number: u32) -> String {
        s.container_name.clone().unwrap_or_else(|| format!("{}-{service}-{number}", self.project))
    }
}

/// A service's networks: (key, settings) by priority, then name (compose's order); the
/// project's default network when it names none.
pub fn networks(s: &Service, path: &str) -> Result<Vec<(String, ServiceNetwork)>, ModelError> {
    let mut out: Vec<(String, ServiceNetwork)> = match &s.networks {
        Value::Null => vec![("default".into(), ServiceNetwork::default())],
        Value::Array(a) => a
            .iter()
            .map(|n| n.as_str().map(|n| (n.to_string(), ServiceNetwork::default())).ok_or_else(|| err(path, "networks must be names")))
            .collect::<Result<_, _>>()?,
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                let n = if v.is_null() {
                    ServiceNetwork::default()
                } else {
                    serde_json::from_value(v.clone()).map_err(|e| err(&format!("{path}.networks.{k}"), e.to_string()))?
                };
                Ok((k.clone(), n))
            })
            .collect::<Result<_, ModelError>>()?,
        _ => return Err(err(path, "networks must be a list or a mapping")),
    };
    out.sort_by(|a, b| b.1.priority.cmp(&a.1.priority).then(a.0.cmp(&b.0)));
    Ok(out)
}

/// A service's dependencies: (service, condition, required). `depends_on`, then what
/// `links`, `volumes_from` and `network_mode`/`ipc`/`pid: service:NAME` imply (compose-go's
/// normalize adds those as started, required dependencies).
pub fn dependencies(s: &Service, path: &str) -> Result<Vec<(String, String, bool)>, ModelError> {
    let mut deps = declared_dependencies(s, path)?;
    let implied = s
        .links
        .iter()
        .map(|l| l.split(':').next().unwrap_or(l))
        .chain(s.volumes_from.iter().filter(|v| !v.starts_with("container:")).map(|v| v.split(':').next().unwrap_or(v)))
        .chain([&s.network_mode, &s.ipc, &s.pid].into_iter().filter_map(|m| m.as_deref().and_then(|m| m.strip_prefix("service:"))));
    for d in implied {
        if !deps.iter().any(|(n, _, _)| n == d) {
            deps.push((d.to_string(), "service_started".to_string(), true));
        }
    }
    Ok(deps)
}

fn declared_dependencies(s: &Service, path: &str) -> Result<Vec<(String, String, bool)>, ModelError> {
    match &s.depends_on {
        Value::Null => Ok(Vec::new()),
        Value::Array(a) => a
            .iter()
            .map(|n| {
                n.as_str()
                    .map(|n| (n.to_string(), "service_started".to_string(), true))
                    .ok_or_else(|| err(path, "depends_on must name services"))
            })
            .collect(),
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                let d: crate::model::Dependency =
                    serde_json::from_value(v.clone()).map_err(|e| err(&format!("{path}.depends_on.{k}"), e.to_string()))?;
                match d.condition.as_str() {
                    "service_started" | "service_healthy" | "service_completed_successfully" => Ok((k.clone(), d.condition, d.required)),
                    c => Err(err(&format!("{path}.depends_on.{k}.condition"), format!("invalid condition {c:?}"))),
                }
            })
            .collect(),
        _ => Err(err(path, "depends_on must be a list or a mapping")),
    }
}

pub(crate) fn size(v: &Value, path: &str) -> Result<i64, ModelError> {
    match v {
        Value::Number(n) => n.as_i64().ok_or_else(|| err(path, "must be a whole number of bytes")),
        Value::String(s) => doca_engine::containers::parse_size(s).map_err(|e| err(path, e)),
        _ => Err(err(path, "must be a size")),
    }
}

pub(crate) fn nano_cpus(v: &Value, path: &str) -> Result<i64, ModelError> {
    let f = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| err(path, "must be a number of CPUs"))?;
    Ok((f * 1e9) as i64)
}

pub(crate) fn duration_ns(s: Option<&String>, path: &str) -> Result<i64, ModelError> {
    match s {
        None => Ok(0),
        Some(s) => doca_engine::containers::parse_go_duration(s)
            .map(|d| d.as_nanos() as i64)
            .ok_or_else(|| err(path, format!("invalid duration {s:?}"))),
    }
}

/// A relative bind source made absolute from the project directory (`./data`, `../x`, `~/x`).
pub(crate) fn host_path(dir: &Path, src: &str) -> String {
    let p = match src.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(rest),
        None => dir.join(src),
    };
    crate::canonical::clean(&p.display().to_string())
}

fn mount(ctx: &Context, v: &Value, path: &str) -> Result<MountSpec, ModelError> {
    match v {
        Value::String(s) => {
            let parts: Vec<&str> = s.splitn(3, ':').collect();
            let spec = match parts.as_slice() {
                [src, rest @ ..] if !rest.is_empty() && (src.starts_with('.') || src.starts_with('~')) => {
                    format!("{}:{}", host_path(ctx.dir, src), rest.join(":"))
                }
                [src, rest @ ..] if !rest.is_empty() && !src.starts_with('/') => format!("{}:{}", ctx.volume_name(src), rest.join(":")),
                _ => s.clone(),
            };
            doca_engine::containers::parse_volume_flag(&spec).map_err(|e| err(path, e.to_string()))
        }
        Value::Object(m) => {
            let get = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let kind = match get("type").as_str() {
                "volume" => MountKind::Volume,
                "bind" => MountKind::Bind,
                "tmpfs" => MountKind::Tmpfs,
                t => return Err(err(path, format!("invalid mount type {t:?}"))),
            };
            let source = match kind {
                MountKind::Volume if !get("source").is_empty() => ctx.volume_name(&get("source")),
                MountKind::Bind => host_path(ctx.dir, &get("source")),
                _ => get("source"),
            };
            let mut spec = MountSpec::new(kind, source, get("target"), m.get("read_only").and_then(Value::as_bool).unwrap_or(false));
            if let Some(p) = m.get("bind").and_then(|b| b.get("propagation")).and_then(Value::as_str) {
                spec.propagation = Some(p.to_string());
            }
            // compose creates a missing bind source by default (bind.create_host_path: true).
            spec.create_source =
                kind == MountKind::Bind && m.get("bind").and_then(|b| b.get("create_host_path")).and_then(Value::as_bool).unwrap_or(true);
            spec.nocopy = m.get("volume").and_then(|b| b.get("nocopy")).and_then(Value::as_bool).unwrap_or(false);
            if let Some(sz) = m.get("tmpfs").and_then(|t| t.get("size")) {
                spec.tmpfs_options.push(format!("size={}", size(sz, path)?));
            }
            spec.anonymous = kind == MountKind::Volume && spec.source.is_empty();
            doca_engine::containers::check_mount(spec, &format!("{path}: {}", Value::Object(m.clone())))
                .map_err(|e| err(path, e.to_string()))
        }
        _ => Err(err(path, "must be a string or a mapping")),
    }
}

fn port_specs(v: &Value, path: &str) -> Result<Vec<doca_engine::PortBinding>, ModelError> {
    let spec = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Object(m) => {
            let target = m.get("target").map(crate::model::text).ok_or_else(|| err(path, "target is required"))?;
            let published = m.get("published").map(crate::model::text).unwrap_or_default();
            let proto = m.get("protocol").and_then(Value::as_str).unwrap_or("tcp");
            match (m.get("host_ip").and_then(Value::as_str), published.is_empty()) {
                (Some(ip), _) => format!("{ip}:{published}:{target}/{proto}"),
                (None, false) => format!("{published}:{target}/{proto}"),
                (None, true) => format!("{target}/{proto}"),
            }
        }
        _ => return Err(err(path, "must be a string, a number or a mapping")),
    };
    doca_engine::parse_publish(&spec).map_err(|e| err(path, format!("invalid port {spec:?}: {e}")))
}

/// The engine's create request for container `number` of service `name`.
pub fn request(
    ctx: &Context,
    name: &str,
    s: &Service,
    number: u32,
    hash: &str,
) -> Result<(CreateContainer, Vec<doca_engine::networks::ConnectNetwork>), ModelError> {
    let path = format!("services.{name}");
    let p = path.as_str();
    if let Some(pl) = s.platform.as_deref().filter(|pl| !matches!(*pl, "linux" | "linux/amd64" | "linux/x86_64")) {
        return Err(err(
            &format!("{p}.platform"),
            format!("platform {pl:?} does not match this host (linux/amd64), and doca does not emulate others"),
        ));
    }
    // logging: json-file (doca's one driver) and its rotation options.
    let (mut log_max_size, mut log_max_files, mut log_driver) = (None, None, None);
    if let Some(l) = &s.logging {
        let driver = l.get("driver").and_then(Value::as_str).unwrap_or("json-file");
        if driver != "json-file" {
            return Err(err(&format!("{p}.logging.driver"), format!("log driver {driver:?} is not supported: doca writes json-file logs")));
        }
        log_driver = Some(driver.to_string());
        for (k, v) in l.get("options").and_then(Value::as_object).into_iter().flatten() {
            let text = crate::model::text(v);
            match k.as_str() {
                "max-size" => log_max_size = Some(size(&Value::String(text), &format!("{p}.logging.options.max-size"))?.max(0) as u64),
                "max-file" => {
                    log_max_files =
                        Some(text.parse().map_err(|_| err(&format!("{p}.logging.options.max-file"), format!("invalid value {text:?}")))?);
                }
                _ => return Err(err(&format!("{p}.logging.options"), format!("unknown log opt {k:?} for json-file log driver"))),
            }
        }
    }
    // volumes_from: `service[:ro|rw]` (its first container) or `container:NAME[:ro|rw]`.
    let mut volumes_from = Vec::new();
    for v in &s.volumes_from {
        let (target, mode) = match v.rsplit_once(':').filter(|(_, m)| matches!(*m, "ro" | "rw")) {
            Some((t, m)) => (t, Some(m)),
            None => (v.as_str(), None),
        };
        let name = match target.strip_prefix("container:") {
            Some(c) => c.to_string(),
            None => {
                let other =
                    ctx.model.service(target).ok_or_else(|| err(&format!("{p}.volumes_from"), format!("service {target:?} not found")))?;
                ctx.container_name(target, other, 1)
            }
        };
        volumes_from.push(mode.map_or(name.clone(), |m| format!("{name}:{m}")));
    }
    // links: `service[:alias]` to its first container, the alias this container's own.
    let mut links = Vec::new();
    for l in &s.links {
        let (svc, alias) = l.split_once(':').unwrap_or((l, l));
        let other = ctx.model.service(svc).ok_or_else(|| err(&format!("{p}.links"), format!("service {svc:?} not found")))?;
        links.push(format!("{}:{alias}", ctx.container_name(svc, other, 1)));
    }
    // Unset in the project's environment too: not set in the container (compose's rule).
    let env: Vec<String> = crate::canonical::environment(ctx.dir, ctx.env, s.env_file.as_ref(), Some(&s.environment), p)?
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
        .collect();
    let mut labels: BTreeMap<String, String> =
        key_values(&s.labels, &format!("{p}.labels"))?.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect();
    let deps = dependencies(s, p)?;
    for (k, v) in [
        (PROJECT, ctx.project.to_string()),
        (SERVICE, name.to_string()),
        (NUMBER, number.to_string()),
        (ONEOFF, "False".to_string()),
        (CONFIG_HASH, hash.to_string()),
        (WORKING_DIR, ctx.dir.display().to_string()),
        (CONFIG_FILES, ctx.config_files.join(",")),
        (DEPENDS_ON, deps.iter().map(|(d, c, r)| format!("{d}:{c}:{r}")).collect::<Vec<_>>().join(",")),
        (IMAGE, ctx.image(name, s)),
        (VERSION, COMPOSE_VERSION.to_string()),
    ] {
        labels.insert(k.to_string(), v);
    }
    let mut publish = Vec::new();
    for (i, port) in s.ports.iter().enumerate() {
        publish.extend(port_specs(port, &format!("{p}.ports[{i}]"))?);
    }
    let expose = s
        .expose
        .iter()
        .map(|e| doca_engine::Port::parse(&crate::model::text(e)).map_err(|x| err(&format!("{p}.expose"), x.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let mut mounts = Vec::new();
    for (i, v) in s.volumes.iter().enumerate() {
        mounts.push(mount(ctx, v, &format!("{p}.volumes[{i}]"))?);
    }
    let mut connect = Vec::new();
    let (network, ip, aliases) = match s.network_mode.as_deref() {
        Some(mode) => {
            let mode = match mode.strip_prefix("service:") {
                Some(other) => {
                    let o = ctx
                        .model
                        .service(other)
                        .ok_or_else(|| err(&format!("{p}.network_mode"), format!("service {other:?} not found")))?;
                    NetworkMode::Container(ctx.container_name(other, o, 1))
                }
                None => NetworkMode::parse(mode),
            };
            (mode, None, Vec::new())
        }
        None => {
            let nets = networks(s, p)?;
            let mut first = None;
            for (key, n) in nets {
                if key != "default" && !ctx.model.networks.contains_key(&key) {
                    return Err(err(&format!("{p}.networks.{key}"), "service refers to undefined network"));
                }
                let ipv4 = match n.ipv4_address.as_deref() {
                    Some(a) => Some(
                        a.parse().map_err(|_| err(&format!("{p}.networks.{key}.ipv4_address"), format!("invalid IPv4 address {a:?}")))?,
                    ),
                    None => None,
                };
                let mut aliases = vec![name.to_string()];
                aliases.extend(n.aliases.clone());
                let engine_name = ctx.network_name(&key);
                if first.is_none() {
                    first = Some((engine_name, ipv4, aliases));
                } else {
                    connect.push(doca_engine::networks::ConnectNetwork {
                        network: engine_name,
                        container: String::new(),
                        ip: ipv4,
                        aliases,
                    });
                }
            }
            let (net, ip, aliases) = first.unwrap_or_default();
            (NetworkMode::Bridge(net), ip, aliases)
        }
    };
    let deploy_limits = s.deploy.as_ref().and_then(|d| d.get("resources")).and_then(|r| r.get("limits"));
    let mut resources = Resources::default();
    if let Some(m) = s.mem_limit.as_ref().or(deploy_limits.and_then(|l| l.get("memory"))) {
        resources.memory = size(m, &format!("{p}.mem_limit"))?;
    }
    if let Some(m) = &s.memswap_limit {
        resources.memory_swap = size(m, &format!("{p}.memswap_limit"))?;
    }
    if let Some(c) = s.cpus.as_ref().or(deploy_limits.and_then(|l| l.get("cpus"))) {
        resources.nano_cpus = nano_cpus(c, &format!("{p}.cpus"))?;
    }
    resources.cpu_shares = s.cpu_shares.unwrap_or(0);
    resources.cpuset_cpus = s.cpuset.clone().unwrap_or_default();
    resources.pids_limit = s.pids_limit.or(deploy_limits.and_then(|l| l.get("pids")).and_then(Value::as_i64)).unwrap_or(0);
    for (k, v) in &s.ulimits {
        let (soft, hard) = match v {
            Value::Number(n) => (n.as_i64().unwrap_or(0), n.as_i64().unwrap_or(0)),
            Value::Object(m) => (m.get("soft").and_then(Value::as_i64).unwrap_or(0), m.get("hard").and_then(Value::as_i64).unwrap_or(0)),
            _ => return Err(err(&format!("{p}.ulimits.{k}"), "must be a number or {soft, hard}")),
        };
        resources.ulimits.push((k.clone(), soft, hard));
    }
    let healthcheck = match &s.healthcheck {
        None => None,
        Some(h) if h.disable => Some(HealthSpec { test: Some(vec!["NONE".into()]), ..Default::default() }),
        Some(h) => Some(HealthSpec {
            test: h.test.clone().map(|t| match t {
                StringOrList::One(cmd) => vec!["CMD-SHELL".to_string(), cmd],
                StringOrList::Many(v) => v,
            }),
            interval_ns: duration_ns(h.interval.as_ref(), &format!("{p}.healthcheck.interval"))?,
            timeout_ns: duration_ns(h.timeout.as_ref(), &format!("{p}.healthcheck.timeout"))?,
            start_period_ns: duration_ns(h.start_period.as_ref(), &format!("{p}.healthcheck.start_period"))?,
            retries: h.retries.unwrap_or(0),
        }),
    };
    let restart = match s.restart.as_deref() {
        Some(r) => RestartPolicy::parse(r).map_err(|e| err(&format!("{p}.restart"), e.to_string()))?,
        None => RestartPolicy::No,
    };
    // deploy.restart_policy, when given, decides (docker compose's getRestartPolicy): `any`
    // is always, `on-failure` counts max_attempts, `none` is no.
    let restart = match s.deploy.as_ref().and_then(|d| d.get("restart_policy")) {
        None => restart,
        Some(rp) => {
            let attempts = rp.get("max_attempts").and_then(Value::as_u64).unwrap_or(0) as u32;
            match rp.get("condition").and_then(Value::as_str).unwrap_or("any") {
                "any" => RestartPolicy::Always,
                "on-failure" => RestartPolicy::OnFailure { max_retries: attempts },
                "none" => RestartPolicy::No,
                c => {
                    return Err(err(
                        &format!("{p}.deploy.restart_policy.condition"),
                        format!("invalid condition {c:?}: any, on-failure or none"),
                    ))
                }
            }
        }
    };
    let mut req = CreateContainer {
        image: ctx.image(name, s),
        name: Some(ctx.container_name(name, s, number)),
        cmd: s.command.as_ref().map(crate::model::Command::argv).unwrap_or_default(),
        entrypoint: s.entrypoint.as_ref().map(crate::model::Command::argv),
        env,
        working_dir: s.working_dir.clone(),
        user: s.user.clone(),
        group_add: s.group_add.iter().map(crate::model::text).collect(),
        hostname: s.hostname.clone(),
        domainname: s.domainname.clone(),
        tty: s.tty,
        open_stdin: s.stdin_open,
        network,
        ip,
        network_aliases: aliases,
        userns: s.userns_mode.clone().unwrap_or_default(),
        mac_address: s.mac_address.clone(),
        dns: s.dns.clone().map(StringOrList::into_vec).unwrap_or_default(),
        dns_search: s.dns_search.clone().map(StringOrList::into_vec).unwrap_or_default(),
        dns_options: s.dns_opt.clone(),
        extra_hosts: key_values(&s.extra_hosts, &format!("{p}.extra_hosts"))?
            .into_iter()
            .map(|(h, ip)| format!("{h}:{}", ip.unwrap_or_default()))
            .collect(),
        publish,
        expose,
        privileged: s.privileged,
        read_only: s.read_only,
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        labels,
        restart,
        resources,
        tmpfs: s.tmpfs.clone().map(StringOrList::into_vec).unwrap_or_default().into_iter().map(|t| (t, String::new())).collect(),
        sysctls: key_values(&s.sysctls, &format!("{p}.sysctls"))?.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect(),
        shm_size: s.shm_size.as_ref().map(|v| size(v, &format!("{p}.shm_size"))).transpose()?,
        oom_score_adj: s.oom_score_adj.unwrap_or(0),
        init: s.init.unwrap_or(false),
        healthcheck,
        stop_signal: s.stop_signal.clone(),
        stop_timeout: s
            .stop_grace_period
            .as_ref()
            .map(|g| duration_ns(Some(g), &format!("{p}.stop_grace_period")).map(|ns| ns / 1_000_000_000))
            .transpose()?,
        ipc_host: s.ipc.as_deref() == Some("host"),
        pid_host: s.pid.as_deref() == Some("host"),
        cgroup_parent: s.cgroup_parent.clone(),
        files: secret_files(ctx, name, s)?,
        devices: s.devices.clone(),
        volumes_from,
        links,
        log_max_size,
        log_max_files,
        log_driver,
        mounts,
        ..Default::default()
    };
    for o in &s.security_opt {
        req.security_opt(o).map_err(|e| err(&format!("{p}.security_opt"), e.to_string()))?;
    }
    Ok((req, connect))
}

/// A secret or config a service uses: which, where in the container, and the file's owner and
/// mode there.
struct Grant {
    source: String,
    target: String,
    uid: u32,
    gid: u32,
    mode: u32,
}

fn grant(v: &Value, secret: bool, path: &str) -> Result<Grant, ModelError> {
    let dir = if secret { "/run/secrets/" } else { "/" };
    let (source, target, uid, gid, mode) = match v {
        Value::String(s) => (s.clone(), None, 0, 0, None),
        Value::Object(m) => {
            let s = |k: &str| m.get(k).and_then(Value::as_str).map(String::from);
            let n =
                |k: &str| m.get(k).and_then(|x| x.as_str().and_then(|t| t.parse().ok()).or(x.as_u64().and_then(|v| u32::try_from(v).ok())));
            let mode = match m.get("mode") {
                // `0440` arrives as its octal value (the parser reads 0-prefixed numbers as
                // compose-go does); a string is read as octal too.
                Some(Value::String(t)) => {
                    Some(u32::from_str_radix(t.trim_start_matches("0o"), 8).map_err(|_| err(path, format!("invalid mode {t:?}")))?)
                }
                Some(Value::Number(x)) => x.as_u64().and_then(|v| u32::try_from(v).ok()),
                _ => None,
            };
            (s("source").ok_or_else(|| err(path, "source is required"))?, s("target"), n("uid").unwrap_or(0), n("gid").unwrap_or(0), mode)
        }
        _ => return Err(err(path, "must be a name or a mapping")),
    };
    let target = match target {
        Some(t) if t.starts_with('/') => t,
        Some(t) => format!("{dir}{t}"),
        None => format!("{dir}{source}"),
    };
    Ok(Grant { source, target, uid, gid, mode: mode.unwrap_or(0o444) })
}

/// The service's secrets and configs as files the engine gives the container (read-only, with
/// the owner and mode asked for): the content of their source (a file of the project, a
/// variable of the shell, or a config's `content`).
pub fn secret_files(ctx: &Context, name: &str, s: &Service) -> Result<Vec<doca_engine::containers::ContainerFile>, ModelError> {
    let mut out = Vec::new();
    for (secret, list, specs) in [(true, &s.secrets, &ctx.model.secrets), (false, &s.configs, &ctx.model.configs)] {
        let kind = if secret { "secrets" } else { "configs" };
        for (i, v) in list.iter().enumerate() {
            let path = format!("services.{name}.{kind}[{i}]");
            let g = grant(v, secret, &path)?;
            let spec = specs.get(&g.source).ok_or_else(|| err(&path, format!("undefined {} {:?}", &kind[..kind.len() - 1], g.source)))?;
            let content: Vec<u8> = match (&spec.file, &spec.environment, &spec.content) {
                (Some(f), _, _) => {
                    let file = host_path(ctx.dir, f);
                    std::fs::read(&file).map_err(|e| err(&path, format!("{file}: {e}")))?
                }
                (_, Some(var), _) => {
                    ctx.env.get(var).cloned().ok_or_else(|| err(&path, format!("environment variable {var} is not set")))?.into_bytes()
                }
                (_, _, Some(text)) if !secret => text.clone().into_bytes(),
                _ => return Err(err(&path, format!("{kind}.{}: no file, environment or content", g.source))),
            };
            out.push(doca_engine::containers::ContainerFile { target: g.target, content, uid: g.uid, gid: g.gid, mode: g.mode });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_of(yaml: &str, service: &str) -> Result<CreateContainer, ModelError> {
        let tree = crate::node::parse(yaml, "compose.yaml").unwrap().to_json();
        let model = crate::model::model(&tree).unwrap();
        let env = BTreeMap::new();
        let ctx = Context { project: "p", dir: Path::new("/srv/p"), config_files: &[], model: &model, env: &env };
        let s = model.service(service).unwrap();
        request(&ctx, service, s, 1, "hash").map(|(r, _)| r)
    }

    #[test]
    fn deploy_restart_policy_decides_the_restart_policy() {
        let r = |policy: &str| {
            request_of(&format!("services:\n  a:\n    image: x\n    restart: always\n    deploy: {{restart_policy: {policy}}}\n"), "a")
                .map(|r| r.restart)
        };
        assert_eq!(r("{condition: on-failure, max_attempts: 3}").unwrap(), RestartPolicy::OnFailure { max_retries: 3 });
        assert_eq!(r("{condition: none}").unwrap(), RestartPolicy::No);
        assert_eq!(r("{}").unwrap(), RestartPolicy::Always);
        assert!(r("{condition: sometimes}").unwrap_err().to_string().contains("services.a.deploy.restart_policy.condition"));
    }

    #[test]
    fn userns_mode_reaches_the_request() {
        assert_eq!(request_of("services:\n  a:\n    image: x\n    userns_mode: auto\n", "a").unwrap().userns, "auto");
        assert_eq!(request_of("services:\n  a:\n    image: x\n", "a").unwrap().userns, "");
    }

    #[test]
    fn links_name_the_first_container_of_the_linked_service() {
        let yaml = "services:\n  db:\n    image: pg\n  web:\n    image: w\n    links: ['db:database', db]\n";
        assert_eq!(request_of(yaml, "web").unwrap().links, ["p-db-1:database", "p-db-1:db"]);
        let bad = "services:\n  web:\n    image: w\n    links: [nope]\n";
        assert!(request_of(bad, "web").unwrap_err().to_string().contains("service \"nope\" not found"));
    }
}
