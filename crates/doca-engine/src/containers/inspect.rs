//! `doca inspect` for a container: docker's ContainerJSON (`crate::docker`), with the image's
//! config merged under the container's as docker merges it at create.

use super::mounts::MountKind;
use super::record::{Container, RestartPolicy as Restart, Status, ZERO_TIME};
use super::spec;
use crate::docker::{
    nil_if_empty, Config, ContainerJson, ContainerState, DeviceMapping, EndpointSettings, GraphDriver, HostConfig, LogConfig, MountPoint,
    NetworkSettings, PortBinding, PortMap, RestartPolicy, Ulimit,
};
use crate::{Engine, EngineError};
use std::collections::BTreeMap;

impl Engine {
    pub fn inspect_container(&mut self, name: &str) -> Result<ContainerJson, EngineError> {
        let c = self.container(name)?;
        let image = self.image_config(&c.image_id)?.config.unwrap_or_default();
        let paths = self.container_paths(&c.id);
        let layers = self.store.db.read(|tx| tx.layers(&c.image_id))?;
        let lower: Vec<String> = layers.iter().rev().map(|l| self.store.snapshots.path(&l.chain_id).display().to_string()).collect();
        let argv = spec::command(&image, &c.config).unwrap_or_default();
        let st = &c.state;
        let graph_driver = GraphDriver {
            data: [
                ("LowerDir", lower.join(":")),
                ("MergedDir", paths.merged().display().to_string()),
                ("UpperDir", paths.dir.join("upper").display().to_string()),
                ("WorkDir", paths.dir.join("work").display().to_string()),
            ]
            .map(|(k, v)| (k.to_string(), v))
            .into(),
            name: "overlay2".into(),
        };
        let mounts = c.config.mounts.iter().map(|m| self.mount_point(m)).collect();
        Ok(ContainerJson {
            id: c.id.to_string(),
            created: c.created.clone(),
            path: argv.first().cloned().unwrap_or_default(),
            args: argv.iter().skip(1).cloned().collect(),
            state: ContainerState {
                status: st.status.as_str().into(),
                running: st.status.is_live(),
                paused: st.status == Status::Paused,
                restarting: st.status == Status::Restarting,
                oom_killed: st.oom_killed,
                dead: st.status == Status::Dead,
                pid: st.pid,
                exit_code: st.exit_code,
                error: st.error.clone(),
                started_at: st.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
                finished_at: st.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
                health: self.container_health(&c),
            },
            image: c.image_id.to_string(),
            // Where the engine writes them at each start (bind-mounted at /etc/...).
            resolv_conf_path: paths.dir.join("resolv.conf").display().to_string(),
            hostname_path: paths.dir.join("hostname").display().to_string(),
            hosts_path: paths.dir.join("hosts").display().to_string(),
            log_path: paths.log(&c.id).display().to_string(),
            name: format!("/{}", c.name),
            restart_count: st.restart_count,
            driver: "overlay2".into(),
            platform: "linux".into(),
            mount_label: String::new(),
            process_label: String::new(),
            app_armor_profile: String::new(),
            exec_ids: None,
            host_config: host_config(&c),
            graph_driver,
            mounts,
            config: container_config(&c, &image),
            network_settings: self.network_settings(&c)?,
        })
    }

    pub(crate) fn mount_point(&self, m: &super::mounts::MountSpec) -> MountPoint {
        let volume = m.kind == MountKind::Volume;
        MountPoint {
            kind: m.kind.name().into(),
            name: volume.then(|| m.source.clone()),
            source: if volume { self.volume_data(&m.source).display().to_string() } else { m.source.clone() },
            destination: m.target.clone(),
            driver: volume.then(|| "local".into()),
            // docker's default mode for a volume is "z" (its SELinux relabel flag), none for a bind.
            mode: match (m.readonly, volume) {
                (true, _) => "ro",
                (false, true) => "z",
                (false, false) => "",
            }
            .into(),
            rw: !m.readonly,
            propagation: if m.kind == MountKind::Bind { m.propagation.clone().unwrap_or_else(|| "rprivate".into()) } else { String::new() },
        }
    }
}

/// Config: the container's settings over the image's, as docker merges them at create.
fn container_config(c: &Container, image: &doca_image::config::ContainerConfig) -> Config {
    let r = &c.config;
    let mut env: Vec<String> = Vec::new();
    spec::merge_env(&mut env, image.env.iter().flatten().chain(&r.env));
    let mut labels: BTreeMap<String, String> = image.labels.clone().unwrap_or_default();
    labels.extend(r.labels.clone());
    Config {
        hostname: r.hostname.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| c.id.short().to_string()),
        domainname: r.domainname.clone().unwrap_or_default(),
        user: r.user.clone().or(image.user.clone()).unwrap_or_default(),
        attach_stdin: r.attach_stdin,
        attach_stdout: r.attach_stdout,
        attach_stderr: r.attach_stderr,
        // The image's, --expose's and the published ports, as docker merges them at create.
        exposed_ports: {
            let mut ports = image.exposed_ports.clone().unwrap_or_default();
            for p in r.expose.iter().chain(r.publish.iter().map(|b| &b.container)) {
                ports.entry(p.to_string()).or_insert_with(|| serde_json::json!({}));
            }
            (!ports.is_empty()).then_some(ports)
        },
        tty: r.tty,
        open_stdin: r.open_stdin,
        stdin_once: r.stdin_once,
        env: nil_if_empty(env),
        cmd: if r.cmd.is_empty() && r.entrypoint.is_none() { image.cmd.clone() } else { Some(r.cmd.clone()) },
        healthcheck: super::health::config_json(image, r),
        args_escaped: None,
        image: r.image.clone(),
        volumes: image.volumes.clone(),
        working_dir: r.working_dir.clone().or(image.working_dir.clone()).unwrap_or_default(),
        entrypoint: r.entrypoint.clone().or(image.entrypoint.clone()),
        on_build: image.on_build.clone(),
        labels: Some(labels),
        stop_signal: r.stop_signal.clone().or(image.stop_signal.clone()),
        stop_timeout: r.stop_timeout,
        shell: None,
    }
}

fn host_config(c: &Container) -> HostConfig {
    let r = &c.config;
    let res = &r.resources;
    // The options given (--log-opt), not doca's defaults, as docker shows them.
    let log_opts: Vec<(&str, String)> =
        [("max-size", r.log_max_size.map(|v| v.to_string())), ("max-file", r.log_max_files.map(|v| v.to_string()))]
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
    HostConfig {
        binds: nil_if_empty(r.mounts.iter().filter_map(|m| m.bind_spec.clone()).collect()),
        container_id_file: String::new(),
        log_config: LogConfig { kind: "json-file".into(), config: log_opts.into_iter().map(|(k, v)| (k.to_string(), v)).collect() },
        network_mode: r.network.name(),
        port_bindings: port_bindings(r),
        restart_policy: RestartPolicy {
            name: r.restart.name().into(),
            maximum_retry_count: match r.restart {
                Restart::OnFailure { max_retries } => max_retries,
                _ => 0,
            },
        },
        auto_remove: r.auto_remove,
        volume_driver: String::new(),
        volumes_from: nil_if_empty(r.volumes_from.clone()),
        cap_add: nil_if_empty(r.cap_add.clone()),
        cap_drop: nil_if_empty(r.cap_drop.clone()),
        cgroupns_mode: "private".into(),
        dns: r.dns.clone(),
        dns_options: r.dns_options.clone(),
        dns_search: r.dns_search.clone(),
        extra_hosts: nil_if_empty(r.extra_hosts.clone()),
        group_add: nil_if_empty(r.group_add.clone()),
        ipc_mode: if r.ipc_host { "host" } else { "private" }.into(),
        cgroup: String::new(),
        // docker's form: `/NAME:/SELF/ALIAS`.
        links: nil_if_empty(r.links.iter().filter_map(|l| l.split_once(':')).map(|(n, a)| format!("/{n}:/{}/{a}", c.name)).collect()),
        oom_score_adj: r.oom_score_adj,
        pid_mode: if r.pid_host { "host" } else { "" }.into(),
        privileged: r.privileged,
        publish_all_ports: r.publish_all,
        readonly_rootfs: r.read_only,
        security_opt: nil_if_empty(security_opts(c)),
        tmpfs: r.tmpfs.clone(),
        uts_mode: if r.uts_host { "host" } else { "" }.into(),
        userns_mode: r.userns.clone(),
        shm_size: r.shm_size.unwrap_or(64 << 20),
        sysctls: r.sysctls.clone(),
        runtime: if r.runtime.is_empty() { "doca".into() } else { r.runtime.clone() },
        console_size: r.console_size.map_or([0, 0], |(h, w)| [u32::from(h), u32::from(w)]),
        isolation: String::new(),
        cpu_shares: res.cpu_shares,
        memory: res.memory,
        nano_cpus: res.nano_cpus,
        cgroup_parent: r.cgroup_parent.clone().unwrap_or_default(),
        blkio_weight: 0,
        blkio_weight_device: Vec::new(),
        blkio_device_read_bps: None,
        blkio_device_write_bps: None,
        blkio_device_read_iops: None,
        blkio_device_write_iops: None,
        cpu_period: res.cpu_period,
        cpu_quota: res.cpu_quota,
        cpu_realtime_period: 0,
        cpu_realtime_runtime: 0,
        cpuset_cpus: res.cpuset_cpus.clone(),
        cpuset_mems: res.cpuset_mems.clone(),
        // Checked at create; a record from an older doca is shown as given.
        devices: r
            .devices
            .iter()
            .map(|d| {
                DeviceMapping::parse(d).unwrap_or_else(|_| DeviceMapping {
                    path_on_host: d.clone(),
                    path_in_container: d.clone(),
                    cgroup_permissions: "rwm".into(),
                })
            })
            .collect(),
        device_cgroup_rules: None,
        device_requests: None,
        kernel_memory: 0,
        kernel_memory_tcp: 0,
        memory_reservation: res.memory_reservation,
        memory_swap: res.memory_swap,
        memory_swappiness: None,
        oom_kill_disable: res.oom_kill_disable,
        pids_limit: (res.pids_limit > 0).then_some(res.pids_limit),
        ulimits: nil_if_empty(res.ulimits.iter().map(|(n, s, h)| Ulimit { name: n.clone(), soft: *s, hard: *h }).collect()),
        cpu_count: 0,
        cpu_percent: 0,
        io_maximum_iops: 0,
        io_maximum_bandwidth: 0,
        // What the runtime masks and makes read-only (none when privileged).
        masked_paths: (!r.privileged).then(|| spec::MASKED_PATHS.map(String::from).to_vec()),
        readonly_paths: (!r.privileged).then(|| spec::READONLY_PATHS.map(String::from).to_vec()),
        init: r.init.then_some(true),
    }
}

fn security_opts(c: &Container) -> Vec<String> {
    let mut v = Vec::new();
    match &c.config.seccomp {
        spec::Seccomp::Unconfined => v.push("seccomp=unconfined".to_string()),
        spec::Seccomp::Profile(_) => v.push("seccomp=<profile>".to_string()),
        spec::Seccomp::Default => {}
    }
    if c.config.no_new_privileges {
        v.push("no-new-privileges".into());
    }
    v
}

/// HostConfig.PortBindings as asked (host port "" when any).
fn port_bindings(r: &super::CreateContainer) -> PortMap {
    let mut m = PortMap::new();
    for b in &r.publish {
        let host_port = if b.host_port_start == 0 {
            String::new()
        } else if b.host_port_start == b.host_port_end {
            b.host_port_start.to_string()
        } else {
            format!("{}-{}", b.host_port_start, b.host_port_end)
        };
        let entry = PortBinding { host_ip: b.host_ip.map(|i| i.to_string()).unwrap_or_default(), host_port };
        m.entry(b.container.to_string()).or_insert_with(|| Some(Vec::new())).get_or_insert_with(Vec::new).push(entry);
    }
    m
}

impl Engine {
    /// Docker's NetworkSettings: the running endpoints' addresses, published ports (exposed
    /// ones unpublished show null), the namespace.
    fn network_settings(&mut self, c: &super::Container) -> Result<NetworkSettings, EngineError> {
        let endpoints = self.endpoints_of(c)?;
        let mut ports = PortMap::new();
        for p in self.exposed_ports(c)? {
            ports.insert(p.to_string(), None);
        }
        for e in &endpoints {
            for p in &e.config.ports {
                for host_ip in crate::networks::host_addresses(p) {
                    let entry = PortBinding { host_ip, host_port: p.host_port.to_string() };
                    ports.entry(p.container.to_string()).or_default().get_or_insert_with(Vec::new).push(entry);
                }
            }
        }
        let networks = endpoint_networks(c, &endpoints);
        let sandbox = self.netns_path(c);
        let mut s = NetworkSettings {
            sandbox_id: if sandbox.exists() { c.id.to_string() } else { String::new() },
            ports,
            sandbox_key: if sandbox.exists() { sandbox.display().to_string() } else { String::new() },
            ..NetworkSettings::default()
        };
        // The default bridge's endpoint, repeated at the top as docker does.
        if let Some(e) = endpoints.iter().find(|e| e.network.name == "bridge") {
            let b = &networks["bridge"];
            s.endpoint_id = b.endpoint_id.clone();
            s.gateway = b.gateway.clone();
            s.global_ipv6_address = b.global_ipv6_address.clone();
            s.global_ipv6_prefix_len = b.global_ipv6_prefix_len;
            s.ip_address = e.ip.to_string();
            s.ip_prefix_len = e.config.prefix;
            s.ipv6_gateway = b.ipv6_gateway.clone();
            s.mac_address = e.config.mac.clone();
        }
        s.networks = networks;
        Ok(s)
    }
}

/// NetworkSettings.Networks: each running endpoint's settings, or (not running) the networks
/// the container will join, empty, as docker shows them.
pub(crate) fn endpoint_networks(
    c: &super::Container,
    endpoints: &[crate::networks::attach::Endpoint],
) -> BTreeMap<String, EndpointSettings> {
    let mut networks = BTreeMap::new();
    for e in endpoints {
        networks.insert(
            e.network.name.clone(),
            EndpointSettings {
                ipam_config: c.config.ip.map(|ip| [("IPv4Address".to_string(), ip.to_string())].into()),
                links: None,
                // On a user-defined network the short id is an alias, listed first (docker).
                aliases: if e.network.name == "bridge" {
                    nil_if_empty(e.config.aliases.clone())
                } else {
                    Some(std::iter::once(c.id.short().to_string()).chain(e.config.aliases.iter().cloned()).collect())
                },
                network_id: e.network.id.clone(),
                endpoint_id: endpoint_id(&e.network.id, c.id.as_str()),
                gateway: e.config.gateway.map(|g| g.to_string()).unwrap_or_default(),
                ip_address: e.ip.to_string(),
                ip_prefix_len: e.config.prefix,
                ipv6_gateway: e.config.gateway6.map(|g| g.to_string()).unwrap_or_default(),
                global_ipv6_address: e.config.ip6.map(|a| a.to_string()).unwrap_or_default(),
                global_ipv6_prefix_len: e.config.prefix6.unwrap_or(0),
                mac_address: e.config.mac.clone(),
                driver_opts: None,
            },
        );
    }
    if networks.is_empty() {
        // Not running: the networks it will join, empty as docker shows them.
        for n in c
            .config
            .network
            .networks()
            .into_iter()
            .chain(matches!(c.config.network, super::NetworkMode::None | super::NetworkMode::Host).then(|| c.config.network.name()))
        {
            networks.insert(n, EndpointSettings::default());
        }
    }
    networks
}

/// An endpoint's id: stable for a container on a network, as docker's is for its life there.
pub(crate) fn endpoint_id(network_id: &str, container_id: &str) -> String {
    doca_store::Digest::of(format!("{network_id}/{container_id}").as_bytes()).hex().to_string()
}
