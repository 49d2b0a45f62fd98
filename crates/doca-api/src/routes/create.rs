//! `POST /containers/create`: docker's Config + HostConfig + NetworkingConfig, read into the
//! engine's `CreateContainer` (the request `doca create` builds from its flags), with every
//! value syntax parsed by the same engine functions the CLI uses.

use super::Ctx;
use crate::http::{self, json, ApiError, ApiResult};
use doca_engine::containers::{CreateContainer, HealthSpec, MountKind, MountSpec, NetworkMode, RestartPolicy};
use doca_engine::networks::ConnectNetwork;
use hyper::StatusCode;
use serde::de::Deserializer;
use serde::Deserialize;
use std::collections::BTreeMap;

/// docker's strslice: a JSON string or an array of strings.
fn strslice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum S {
        One(String),
        Many(Vec<String>),
    }
    Ok(Option::<S>::deserialize(d)?.map(|s| match s {
        S::One(s) => vec![s],
        S::Many(v) => v,
    }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct HealthBody {
    test: Vec<String>,
    interval: i64,
    timeout: i64,
    start_period: i64,
    retries: u32,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    hostname: String,
    domainname: String,
    user: String,
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    exposed_ports: BTreeMap<String, serde_json::Value>,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    env: Vec<String>,
    #[serde(deserialize_with = "strslice")]
    cmd: Option<Vec<String>>,
    healthcheck: Option<HealthBody>,
    image: String,
    volumes: BTreeMap<String, serde_json::Value>,
    working_dir: String,
    #[serde(deserialize_with = "strslice")]
    entrypoint: Option<Vec<String>>,
    network_disabled: bool,
    mac_address: String,
    labels: BTreeMap<String, String>,
    stop_signal: String,
    stop_timeout: Option<i64>,
    host_config: Option<HostConfigBody>,
    networking_config: Option<NetworkingConfigBody>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicyBody {
    pub name: String,
    pub maximum_retry_count: u32,
}

impl RestartPolicyBody {
    pub fn policy(&self) -> ApiResult<RestartPolicy> {
        let text = match (self.name.as_str(), self.maximum_retry_count) {
            ("on-failure", n) if n > 0 => format!("on-failure:{n}"),
            (_, n) if n > 0 => {
                return Err(ApiError::bad_request("invalid restart policy: maximum retry count can only be used with 'on-failure'"))
            }
            (name, _) => name.to_string(),
        };
        RestartPolicy::parse(&text).map_err(ApiError::from)
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct PortBindingBody {
    host_ip: String,
    host_port: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct MountBody {
    #[serde(rename = "Type")]
    kind: String,
    source: String,
    target: String,
    read_only: bool,
    bind_options: Option<BindOptions>,
    volume_options: Option<VolumeOptions>,
    tmpfs_options: Option<TmpfsOptions>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct BindOptions {
    propagation: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct VolumeOptions {
    no_copy: bool,
    driver_config: Option<DriverConfig>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DriverConfig {
    name: String,
    options: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct TmpfsOptions {
    size_bytes: i64,
    mode: u32,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct DeviceBody {
    path_on_host: String,
    path_in_container: String,
    cgroup_permissions: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct UlimitBody {
    name: String,
    soft: i64,
    hard: i64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct LogConfigBody {
    #[serde(rename = "Type")]
    kind: String,
    config: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfigBody {
    binds: Vec<String>,
    network_mode: String,
    port_bindings: BTreeMap<String, Option<Vec<PortBindingBody>>>,
    restart_policy: RestartPolicyBody,
    auto_remove: bool,
    volumes_from: Vec<String>,
    mounts: Vec<MountBody>,
    cap_add: Vec<String>,
    cap_drop: Vec<String>,
    dns: Vec<String>,
    dns_options: Vec<String>,
    dns_search: Vec<String>,
    extra_hosts: Vec<String>,
    group_add: Vec<String>,
    ipc_mode: String,
    pid_mode: String,
    #[serde(rename = "UTSMode")]
    uts_mode: String,
    userns_mode: String,
    privileged: bool,
    publish_all_ports: bool,
    readonly_rootfs: bool,
    security_opt: Vec<String>,
    tmpfs: BTreeMap<String, String>,
    shm_size: i64,
    sysctls: BTreeMap<String, String>,
    runtime: String,
    init: Option<bool>,
    log_config: LogConfigBody,
    oom_score_adj: i32,
    cgroup_parent: String,
    devices: Vec<DeviceBody>,
    memory: i64,
    memory_swap: i64,
    memory_reservation: i64,
    nano_cpus: i64,
    cpu_shares: i64,
    cpu_quota: i64,
    cpu_period: i64,
    cpuset_cpus: String,
    cpuset_mems: String,
    pids_limit: Option<i64>,
    oom_kill_disable: Option<bool>,
    ulimits: Vec<UlimitBody>,
    links: Vec<String>,
    console_size: Option<[u16; 2]>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NetworkingConfigBody {
    endpoints_config: BTreeMap<String, Option<EndpointBody>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct EndpointBody {
    #[serde(rename = "IPAMConfig")]
    ipam_config: Option<IpamBody>,
    aliases: Vec<String>,
    mac_address: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct IpamBody {
    #[serde(rename = "IPv4Address")]
    ipv4_address: String,
}

fn some(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// `--ipc`/`--pid`/`--uts` modes doca honours: host, or private (the default).
fn host_mode(what: &str, v: &str, private: &[&str]) -> ApiResult<bool> {
    match v {
        "" => Ok(false),
        "host" => Ok(true),
        m if private.contains(&m) => Ok(false),
        m => Err(ApiError::bad_request(format!("invalid {what} mode: {m}: doca supports host and private"))),
    }
}

fn mount(m: MountBody) -> ApiResult<MountSpec> {
    let kind = match m.kind.as_str() {
        "bind" => MountKind::Bind,
        "volume" | "" => MountKind::Volume,
        "tmpfs" => MountKind::Tmpfs,
        t => return Err(ApiError::bad_request(format!("invalid mount config for type \"{t}\": mount type unknown"))),
    };
    let described = format!("type={},source={},target={}", kind.name(), m.source, m.target);
    let mut spec = MountSpec::new(kind, m.source, m.target, m.read_only);
    if let Some(b) = m.bind_options.filter(|b| !b.propagation.is_empty()) {
        spec.propagation = Some(b.propagation);
    }
    if let Some(v) = m.volume_options {
        spec.nocopy = v.no_copy;
        if let Some(d) = v.driver_config {
            if !d.name.is_empty() && d.name != "local" {
                return Err(ApiError::bad_request(format!("error looking up volume plugin {0}: plugin \"{0}\" not found", d.name)));
            }
            spec.volume_options = d.options;
        }
    }
    if let Some(t) = m.tmpfs_options {
        if t.size_bytes > 0 {
            spec.tmpfs_options.push(format!("size={}", t.size_bytes));
        }
        if t.mode != 0 {
            spec.tmpfs_options.push(format!("mode={:o}", t.mode));
        }
    }
    Ok(doca_engine::containers::check_mount(spec, &described)?)
}

/// `80/tcp` → `[{"HostIp":"","HostPort":"8080"}]` in `-p`'s syntax, parsed as `-p` is.
fn publish(port: &str, bindings: Option<Vec<PortBindingBody>>) -> ApiResult<Vec<doca_engine::PortBinding>> {
    let mut out = Vec::new();
    for b in bindings.unwrap_or_default() {
        let ip = if b.host_ip.contains(':') { format!("[{}]", b.host_ip) } else { b.host_ip };
        let spec = match (ip.is_empty(), b.host_port.is_empty()) {
            (true, true) => port.to_string(),
            (true, false) => format!("{}:{port}", b.host_port),
            (false, _) => format!("{ip}:{}:{port}", b.host_port),
        };
        out.extend(doca_engine::parse_publish(&spec).map_err(|e| ApiError::bad_request(format!("invalid port binding {spec}: {e}")))?);
    }
    Ok(out)
}

impl CreateBody {
    /// The engine's request; the engine checks the rules between fields (`check_create`).
    /// The engine's request, and the further networks to join after create.
    pub fn into_request(self, name: Option<String>) -> ApiResult<(CreateContainer, Vec<ConnectNetwork>)> {
        let h = self.host_config.unwrap_or_default();
        let mut network = if self.network_disabled { NetworkMode::None } else { NetworkMode::parse(&h.network_mode) };
        let endpoints = self.networking_config.unwrap_or_default().endpoints_config;
        let mut ip = None;
        let mut aliases = Vec::new();
        let mut mac = some(self.mac_address);
        // The network of NetworkMode carries the endpoint's settings; a client that leaves
        // NetworkMode as "default" and names one network in EndpointsConfig means that one.
        if matches!(h.network_mode.as_str(), "" | "default") && !self.network_disabled {
            if let [(only, _)] = endpoints.iter().collect::<Vec<_>>().as_slice() {
                network = NetworkMode::parse(only);
            }
        }
        let mut extra = Vec::new();
        for (net, ep) in endpoints {
            let ep = ep.unwrap_or_default();
            let primary = network.networks().first().is_some_and(|n| *n == net) || network.name() == net;
            if !primary {
                // API 1.44+: more networks at create, joined as `network connect` joins them.
                let ip = match ep.ipam_config.map(|i| i.ipv4_address).filter(|a| !a.is_empty()) {
                    Some(a) => Some(a.parse().map_err(|_| ApiError::bad_request(format!("invalid IPv4 address: {a}")))?),
                    None => None,
                };
                extra.push(ConnectNetwork { network: net, container: String::new(), ip, aliases: ep.aliases });
                continue;
            }
            if let Some(a) = ep.ipam_config.map(|i| i.ipv4_address).filter(|a| !a.is_empty()) {
                ip = Some(a.parse::<std::net::Ipv4Addr>().map_err(|_| ApiError::bad_request(format!("invalid IPv4 address: {a}")))?);
            }
            aliases = ep.aliases;
            if !ep.mac_address.is_empty() {
                mac = Some(ep.mac_address);
            }
        }
        let mut mounts = Vec::new();
        for b in &h.binds {
            mounts.push(doca_engine::containers::parse_volume_flag(b)?);
        }
        for m in h.mounts {
            mounts.push(mount(m)?);
        }
        // Config.Volumes: anonymous volumes at these paths (`-v /path`).
        for path in self.volumes.keys() {
            if !mounts.iter().any(|m| m.target == *path) {
                mounts.push(doca_engine::containers::parse_volume_flag(path)?);
            }
        }
        let mut publish_list = Vec::new();
        for (port, bindings) in h.port_bindings {
            publish_list.extend(publish(&port, bindings)?);
        }
        let expose = self
            .exposed_ports
            .keys()
            .map(|p| doca_engine::Port::parse(p).map_err(|e| ApiError::bad_request(e.to_string())))
            .collect::<ApiResult<Vec<_>>>()?;
        let mut log_max_size = None;
        let mut log_max_files = None;
        for (k, v) in &h.log_config.config {
            match k.as_str() {
                "max-size" => log_max_size = Some(doca_engine::containers::parse_size(v).map_err(ApiError::bad_request)?.max(0) as u64),
                "max-file" => {
                    log_max_files = Some(v.parse().map_err(|_| ApiError::bad_request(format!("invalid value for max-file: {v}")))?);
                }
                _ => return Err(ApiError::bad_request(format!("unknown log opt '{k}' for json-file log driver"))),
            }
        }
        let healthcheck = self.healthcheck.map(|hc| HealthSpec {
            test: (!hc.test.is_empty()).then_some(hc.test),
            interval_ns: hc.interval,
            timeout_ns: hc.timeout,
            start_period_ns: hc.start_period,
            retries: hc.retries,
        });
        let devices = h
            .devices
            .into_iter()
            .map(|d| {
                let mut s = d.path_on_host;
                if !d.path_in_container.is_empty() {
                    s = format!("{s}:{}", d.path_in_container);
                }
                if !d.cgroup_permissions.is_empty() {
                    s = format!("{s}:{}", d.cgroup_permissions);
                }
                s
            })
            .collect();
        let mut req = CreateContainer {
            image: self.image,
            name,
            cmd: self.cmd.unwrap_or_default(),
            entrypoint: self.entrypoint,
            env: self.env,
            working_dir: some(self.working_dir),
            user: some(self.user),
            group_add: h.group_add,
            hostname: some(self.hostname),
            domainname: some(self.domainname),
            tty: self.tty,
            open_stdin: self.open_stdin,
            stdin_once: self.stdin_once,
            attach_stdin: self.attach_stdin,
            attach_stdout: self.attach_stdout,
            attach_stderr: self.attach_stderr,
            network,
            ip,
            network_aliases: aliases,
            links: h.links,
            userns: h.userns_mode,
            mac_address: mac,
            dns: h.dns,
            dns_search: h.dns_search,
            dns_options: h.dns_options,
            extra_hosts: h.extra_hosts,
            publish: publish_list,
            publish_all: h.publish_all_ports,
            expose,
            privileged: h.privileged,
            read_only: h.readonly_rootfs,
            cap_add: h.cap_add,
            cap_drop: h.cap_drop,
            labels: self.labels,
            restart: h.restart_policy.policy()?,
            auto_remove: h.auto_remove,
            runtime: h.runtime,
            log_max_size,
            log_max_files,
            log_driver: some(h.log_config.kind),
            stop_signal: some(self.stop_signal),
            stop_timeout: self.stop_timeout,
            cgroup_parent: some(h.cgroup_parent),
            resources: doca_engine::containers::Resources {
                memory: h.memory,
                memory_swap: h.memory_swap,
                memory_reservation: h.memory_reservation,
                nano_cpus: h.nano_cpus,
                cpu_shares: h.cpu_shares,
                cpu_quota: h.cpu_quota,
                cpu_period: h.cpu_period,
                cpuset_cpus: h.cpuset_cpus,
                cpuset_mems: h.cpuset_mems,
                pids_limit: h.pids_limit.unwrap_or(0),
                oom_kill_disable: h.oom_kill_disable.unwrap_or(false),
                ulimits: h.ulimits.into_iter().map(|u| (u.name, u.soft, u.hard)).collect(),
            },
            tmpfs: h.tmpfs,
            sysctls: h.sysctls,
            devices,
            shm_size: (h.shm_size > 0).then_some(h.shm_size),
            oom_score_adj: h.oom_score_adj,
            init: h.init.unwrap_or(false),
            ipc_host: host_mode("IPC", &h.ipc_mode, &["private", "shareable", "none"])?,
            pid_host: host_mode("PID", &h.pid_mode, &["private"])?,
            uts_host: host_mode("UTS", &h.uts_mode, &["private"])?,
            healthcheck,
            mounts,
            volumes_from: h.volumes_from,
            console_size: h.console_size.filter(|[rows, cols]| *rows > 0 && *cols > 0).map(|[rows, cols]| (rows, cols)),
            ..Default::default()
        };
        for o in &h.security_opt {
            req.security_opt(o)?;
        }
        Ok((req, extra))
    }
}

pub async fn create(ctx: Ctx) -> ApiResult {
    let name = ctx.query.get("name").filter(|n| !n.is_empty()).map(|n| n.trim_start_matches('/').to_string());
    if let Some(p) = ctx.query.get("platform").filter(|p| !p.is_empty()) {
        let host = format!("linux/{}", doca_engine::host_arch());
        if p != host && p != "linux" {
            return Err(ApiError::bad_request(format!(
                "image platform {p} does not match this host ({host}), and doca does not emulate others"
            )));
        }
    }
    let Ctx { state, req, .. } = ctx;
    let body: CreateBody = http::read_json(req.into_body()).await?;
    if body.image.is_empty() {
        return Err(ApiError::bad_request("No image was specified."));
    }
    let (request, extra) = body.into_request(name)?;
    let mut warnings: Vec<String> = Vec::new();
    if request.network == NetworkMode::Host && (!request.publish.is_empty() || request.publish_all) {
        warnings.push("Published ports are discarded when using host network mode".into());
    }
    let c = state
        .engine(move |e| {
            let c = e.create_container(&request)?;
            for mut n in extra {
                n.container = c.id.to_string();
                if let Err(err) = e.connect_network(&n) {
                    // All or nothing: a container that cannot join its networks is not made.
                    let _ = e.remove_container(c.id.as_str(), true, true);
                    return Err(err);
                }
            }
            Ok(c)
        })
        .await?;
    Ok(json(StatusCode::CREATED, &serde_json::json!({ "Id": c.id.as_str(), "Warnings": warnings })))
}
