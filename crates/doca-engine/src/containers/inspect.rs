//! `doca inspect` for a container: Docker's ContainerJSON shape (api/types), with the image's
//! config merged under the container's as docker merges it at create.

use super::record::{Container, Status, ZERO_TIME};
use super::spec;
use crate::{Engine, EngineError};
use serde_json::{json, Value};
use std::collections::BTreeMap;

impl Engine {
    pub fn inspect_container(&mut self, name: &str) -> Result<Value, EngineError> {
        let c = self.container(name)?;
        let image = self.image_config(&c.image_id)?.config.unwrap_or_default();
        let paths = self.container_paths(&c.id);
        let r = &c.config;
        let argv = spec::command(&image, r).unwrap_or_default();
        let mut env: Vec<String> = Vec::new();
        spec::merge_env(&mut env, image.env.iter().flatten().chain(&r.env));
        let mut labels: BTreeMap<String, String> = image.labels.clone().unwrap_or_default();
        labels.extend(r.labels.clone());
        let layers = self.store.db.read(|tx| tx.layers(&c.image_id))?;
        let lower: Vec<String> = layers.iter().rev().map(|l| self.store.snapshots.path(&l.chain_id).display().to_string()).collect();
        let st = &c.state;
        let res = &r.resources;
        let log_opts = json!({
            "max-size": r.log_max_size.unwrap_or(super::start::DEFAULT_LOG_MAX_SIZE).to_string(),
            "max-file": r.log_max_files.unwrap_or(super::start::DEFAULT_LOG_MAX_FILES).to_string(),
        });
        let binds: Vec<&String> = r.mounts.iter().filter_map(|m| m.bind_spec.as_ref()).collect();
        let hostconfig = json!({
            "Binds": if binds.is_empty() { json!(null) } else { json!(binds) },
            "ContainerIDFile": "",
            "LogConfig": {"Type": "json-file", "Config": log_opts},
            "NetworkMode": r.network.name(),
            "PortBindings": {},
            "RestartPolicy": {"Name": r.restart.name(), "MaximumRetryCount": match r.restart {
                super::record::RestartPolicy::OnFailure { max_retries } => max_retries,
                _ => 0,
            }},
            "AutoRemove": r.auto_remove,
            "VolumeDriver": "",
            "VolumesFrom": null,
            "CapAdd": r.cap_add,
            "CapDrop": r.cap_drop,
            "CgroupnsMode": "private",
            "Dns": [],
            "DnsOptions": [],
            "DnsSearch": [],
            "ExtraHosts": null,
            "GroupAdd": r.group_add,
            "IpcMode": if r.ipc_host { "host" } else { "private" },
            "OomScoreAdj": r.oom_score_adj,
            "PidMode": if r.pid_host { "host" } else { "" },
            "Privileged": r.privileged,
            "PublishAllPorts": r.publish_all,
            "PortBindings": port_bindings(r),
            "Dns": r.dns,
            "DnsSearch": r.dns_search,
            "DnsOptions": r.dns_options,
            "ExtraHosts": if r.extra_hosts.is_empty() { Value::Null } else { json!(r.extra_hosts) },
            "ReadonlyRootfs": r.read_only,
            "SecurityOpt": security_opts(&c),
            "Tmpfs": r.tmpfs,
            "UTSMode": if r.uts_host { "host" } else { "" },
            "ShmSize": r.shm_size.unwrap_or(64 << 20),
            "Sysctls": r.sysctls,
            "Runtime": if r.runtime.is_empty() { "doca" } else { r.runtime.as_str() },
            "Init": r.init,
        });
        // Docker's HostConfig embeds Resources: its fields sit at the same level.
        let resources = json!({
            "Memory": res.memory,
            "MemoryReservation": res.memory_reservation,
            "MemorySwap": res.memory_swap,
            "NanoCpus": res.nano_cpus,
            "CpuShares": res.cpu_shares,
            "CpuPeriod": res.cpu_period,
            "CpuQuota": res.cpu_quota,
            "CpusetCpus": res.cpuset_cpus,
            "CpusetMems": res.cpuset_mems,
            "CgroupParent": r.cgroup_parent.clone().unwrap_or_default(),
            "Devices": r.devices,
            "OomKillDisable": res.oom_kill_disable,
            "PidsLimit": if res.pids_limit > 0 { json!(res.pids_limit) } else { Value::Null },
            "Ulimits": res.ulimits.iter().map(|(n, s, h)| json!({"Name": n, "Soft": s, "Hard": h})).collect::<Vec<_>>(),
        });
        let mut hostconfig = hostconfig;
        if let (Some(h), Value::Object(rs)) = (hostconfig.as_object_mut(), resources) {
            h.extend(rs);
        }
        let config = json!({
            "Hostname": r.hostname.clone().filter(|h| !h.is_empty()).unwrap_or_else(|| c.id.short().to_string()),
            "Domainname": r.domainname.clone().unwrap_or_default(),
            "User": r.user.clone().or(image.user.clone()).unwrap_or_default(),
            "AttachStdin": r.attach_stdin,
            "AttachStdout": r.attach_stdout,
            "AttachStderr": r.attach_stderr,
            "ExposedPorts": image.exposed_ports,
            "Tty": r.tty,
            "OpenStdin": r.open_stdin,
            "StdinOnce": r.stdin_once,
            "Env": env,
            "Cmd": if r.cmd.is_empty() && r.entrypoint.is_none() { json!(image.cmd) } else { json!(r.cmd) },
            "Healthcheck": image.healthcheck,
            "Image": r.image,
            "Volumes": image.volumes,
            "WorkingDir": r.working_dir.clone().or(image.working_dir.clone()).unwrap_or_default(),
            "Entrypoint": r.entrypoint.clone().or(image.entrypoint.clone()),
            "OnBuild": image.on_build,
            "Labels": labels,
            "StopSignal": r.stop_signal.clone().or(image.stop_signal.clone()),
            "StopTimeout": r.stop_timeout,
        });
        let mut out = json!({
            "Id": c.id.as_str(),
            "Created": c.created,
            "Path": argv.first().cloned().unwrap_or_default(),
            "Args": argv.iter().skip(1).collect::<Vec<_>>(),
            "State": {
                "Status": st.status.as_str(),
                "Running": st.status.is_live(),
                "Paused": st.status == Status::Paused,
                "Restarting": st.status == Status::Restarting,
                "OOMKilled": st.oom_killed,
                "Dead": st.status == Status::Dead,
                "Pid": st.pid,
                "ExitCode": st.exit_code,
                "Error": st.error,
                "StartedAt": st.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
                "FinishedAt": st.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            },
            "Image": c.image_id.as_str(),
            "ResolvConfPath": "",
            "HostnamePath": "",
            "HostsPath": "",
            "LogPath": paths.log(&c.id),
            "Name": format!("/{}", c.name),
            "RestartCount": st.restart_count,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": null,
            "HostConfig": hostconfig,
            "GraphDriver": {
                "Name": "overlay2",
                "Data": {
                    "LowerDir": lower.join(":"),
                    "MergedDir": paths.merged(),
                    "UpperDir": paths.dir.join("upper"),
                    "WorkDir": paths.dir.join("work"),
                },
            },
            "Mounts": c.config.mounts.iter().map(|m| {
                let (source, name) = match m.kind {
                    super::mounts::MountKind::Volume => {
                        (self.volume_data(&m.source).display().to_string(), Some(m.source.clone()))
                    }
                    _ => (m.source.clone(), None),
                };
                let mut j = json!({
                    "Type": m.kind.name(),
                    "Source": source,
                    "Destination": m.target,
                    "Mode": if m.readonly { "ro" } else { "" },
                    "RW": !m.readonly,
                    "Propagation": if m.kind == super::mounts::MountKind::Bind { m.propagation.clone().unwrap_or_else(|| "rprivate".into()) } else { String::new() },
                });
                if let Some(n) = name {
                    j["Name"] = json!(n);
                    j["Driver"] = json!("local");
                }
                j
            }).collect::<Vec<_>>(),
            "Config": config,
            "NetworkSettings": self.network_settings(&c)?,
        });
        if let Some(h) = self.container_health(&c) {
            out["State"]["Health"] = serde_json::to_value(h).expect("json");
        }
        // Docker leaves these out when unset.
        for k in ["ExposedPorts", "Healthcheck", "StopSignal", "StopTimeout", "Volumes"] {
            if out["Config"][k].is_null() {
                out["Config"].as_object_mut().expect("object").remove(k);
            }
        }
        Ok(out)
    }
}

fn security_opts(c: &Container) -> Value {
    let mut v = Vec::new();
    match &c.config.seccomp {
        spec::Seccomp::Unconfined => v.push("seccomp=unconfined".to_string()),
        spec::Seccomp::Profile(_) => v.push("seccomp=<profile>".to_string()),
        spec::Seccomp::Default => {}
    }
    if c.config.no_new_privileges {
        v.push("no-new-privileges".into());
    }
    if v.is_empty() {
        Value::Null
    } else {
        json!(v)
    }
}

/// HostConfig.PortBindings as asked (host port "" when any).
fn port_bindings(r: &super::CreateContainer) -> Value {
    let mut m = serde_json::Map::new();
    for b in &r.publish {
        let host_port = if b.host_port_start == 0 {
            String::new()
        } else if b.host_port_start == b.host_port_end {
            b.host_port_start.to_string()
        } else {
            format!("{}-{}", b.host_port_start, b.host_port_end)
        };
        let entry = json!({"HostIp": b.host_ip.map(|i| i.to_string()).unwrap_or_default(), "HostPort": host_port});
        m.entry(b.container.to_string()).or_insert_with(|| json!([])).as_array_mut().expect("array").push(entry);
    }
    Value::Object(m)
}

impl Engine {
    /// Docker's NetworkSettings: the running endpoints' addresses, published ports (exposed
    /// ones unpublished show null), the namespace.
    fn network_settings(&mut self, c: &super::Container) -> Result<Value, EngineError> {
        let endpoints = self.endpoints_of(c)?;
        let mut ports = serde_json::Map::new();
        for p in self.exposed_ports(c)? {
            ports.insert(p.to_string(), Value::Null);
        }
        let mut networks = serde_json::Map::new();
        for e in &endpoints {
            for p in &e.config.ports {
                let entry = json!({"HostIp": p.host_ip.unwrap_or(std::net::Ipv4Addr::UNSPECIFIED).to_string(), "HostPort": p.host_port.to_string()});
                let slot = ports.entry(p.container.to_string()).or_insert(Value::Null);
                if slot.is_null() {
                    *slot = json!([]);
                }
                slot.as_array_mut().expect("array").push(entry);
            }
            networks.insert(
                e.network.name.clone(),
                json!({
                    "IPAMConfig": c.config.ip.map(|ip| json!({"IPv4Address": ip.to_string()})),
                    "Links": null,
                    "Aliases": if e.config.aliases.is_empty() { Value::Null } else { json!(e.config.aliases) },
                    "NetworkID": e.network.id,
                    "EndpointID": doca_store::Digest::of(format!("{}/{}", e.network.id, c.id).as_bytes()).hex(),
                    "Gateway": e.config.gateway.map(|g| g.to_string()).unwrap_or_default(),
                    "IPAddress": e.ip.to_string(),
                    "IPPrefixLen": e.config.prefix,
                    "IPv6Gateway": e.config.gateway6.map(|g| g.to_string()).unwrap_or_default(),
                    "GlobalIPv6Address": e.config.ip6.map(|a| a.to_string()).unwrap_or_default(),
                    "GlobalIPv6PrefixLen": e.config.prefix6.unwrap_or(0),
                    "MacAddress": e.config.mac,
                }),
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
                networks.insert(
                    n,
                    json!({"NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""}),
                );
            }
        }
        let first = endpoints.iter().find(|e| e.network.name == "bridge");
        let sandbox = self.netns_path(c);
        Ok(json!({
            "Bridge": "",
            "SandboxID": if sandbox.exists() { c.id.to_string() } else { String::new() },
            "HairpinMode": false,
            "Ports": ports,
            "SandboxKey": if sandbox.exists() { sandbox.display().to_string() } else { String::new() },
            "Gateway": first.and_then(|e| e.config.gateway).map(|g| g.to_string()).unwrap_or_default(),
            "IPAddress": first.map(|e| e.ip.to_string()).unwrap_or_default(),
            "IPPrefixLen": first.map(|e| e.config.prefix).unwrap_or(0),
            "MacAddress": first.map(|e| e.config.mac.clone()).unwrap_or_default(),
            "Networks": networks,
        }))
    }
}
