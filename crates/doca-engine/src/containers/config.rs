//! What a container is created with: the request as the user (or an API client) gave it and
//! the value types it is made of. A leaf: it imports no other container module but the mount
//! syntax, so the modules that read a request (the record, the OCI spec, health checks,
//! networks) depend on it and not on each other.

use super::mounts::MountSpec;
use crate::EngineError;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// `--restart`: docker's policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "Name")]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    OnFailure {
        #[serde(rename = "MaximumRetryCount")]
        max_retries: u32,
    },
}

impl RestartPolicy {
    /// `no`, `always`, `unless-stopped`, `on-failure[:N]`.
    pub fn parse(s: &str) -> Result<RestartPolicy, EngineError> {
        let bad = || EngineError::InvalidArgument(format!("invalid restart policy '{s}'"));
        let (name, count) = match s.split_once(':') {
            Some((n, c)) => (n, Some(c.parse::<u32>().map_err(|_| bad())?)),
            None => (s, None),
        };
        match (name, count) {
            ("" | "no", None) => Ok(RestartPolicy::No),
            ("always", None) => Ok(RestartPolicy::Always),
            ("unless-stopped", None) => Ok(RestartPolicy::UnlessStopped),
            ("on-failure", n) => Ok(RestartPolicy::OnFailure { max_retries: n.unwrap_or(0) }),
            ("always" | "unless-stopped" | "no", Some(_)) => {
                Err(EngineError::InvalidArgument(format!("maximum retry count cannot be used with restart policy '{name}'")))
            }
            _ => Err(bad()),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            RestartPolicy::No => "no",
            RestartPolicy::Always => "always",
            RestartPolicy::UnlessStopped => "unless-stopped",
            RestartPolicy::OnFailure { .. } => "on-failure",
        }
    }
}

/// Resource limits (`-m`, `--cpus`, ...): what docker's HostConfig.Resources carries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    pub memory: i64,
    pub memory_swap: i64,
    pub memory_reservation: i64,
    pub nano_cpus: i64,
    pub cpu_shares: i64,
    pub cpu_quota: i64,
    pub cpu_period: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub pids_limit: i64,
    pub oom_kill_disable: bool,
    /// (name, soft, hard) as `--ulimit nofile=1024:2048`.
    pub ulimits: Vec<(String, i64, i64)>,
}

/// What a container is created with: `doca create`/`run`'s options, or the API's create body.
/// Stored as given; the OCI spec is built from it at each start.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateContainer {
    pub image: String,
    pub name: Option<String>,
    pub cmd: Vec<String>,
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub group_add: Vec<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    pub network: NetworkMode,
    pub privileged: bool,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub seccomp: Seccomp,
    pub no_new_privileges: bool,
    pub labels: BTreeMap<String, String>,
    pub restart: RestartPolicy,
    pub auto_remove: bool,
    /// `--runtime`: "doca" (doca-runc), a name found in PATH (runc, crun) or a path.
    pub runtime: String,
    pub log_max_size: Option<u64>,
    pub log_max_files: Option<u32>,
    /// HostConfig.LogConfig.Type (`--log-driver`): json-file is the one doca writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_driver: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    pub cgroup_parent: Option<String>,
    pub resources: Resources,
    pub tmpfs: BTreeMap<String, String>,
    pub sysctls: BTreeMap<String, String>,
    pub devices: Vec<String>,
    pub shm_size: Option<i64>,
    pub oom_score_adj: i32,
    pub init: bool,
    pub healthcheck: Option<HealthSpec>,
    /// `-v`, `--mount`, and (after create) the image's VOLUME paths and `--volumes-from`.
    pub mounts: Vec<MountSpec>,
    /// `--volumes-from CONTAINER[:ro|rw]`.
    pub volumes_from: Vec<String>,
    /// `--ip`, `--network-alias`, `--dns`, `--dns-search`, `--dns-option`, `--add-host`.
    pub ip: Option<std::net::Ipv4Addr>,
    pub mac_address: Option<String>,
    /// Networks joined with `network connect`, beside the one of `--network`.
    pub connected: Vec<Attachment>,
    /// `network disconnect` from the network of `--network` (which stays its NetworkMode, as
    /// in docker's HostConfig).
    pub left_primary: bool,
    pub network_aliases: Vec<String>,
    /// `--link NAME[:ALIAS]`, stored as `NAME:ALIAS` with the linked container's name: the
    /// alias resolves, for this container only, to that container's address (through the
    /// embedded DNS server on user-defined networks, /etc/hosts on the default bridge).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub extra_hosts: Vec<String>,
    /// `-p`, `-P` (the image's and `--expose`'s ports on random host ports), `--expose`.
    pub publish: Vec<doca_net::PortBinding>,
    pub publish_all: bool,
    pub expose: Vec<doca_net::Port>,
    /// `--userns`: "" (the configured default), "host" or "auto" (a user namespace with a range
    /// of ids of its own).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub userns: String,
    /// The container's ids on the host, when it has a user namespace: chosen at create and
    /// kept for its life (userns.rs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_map: Option<super::userns::IdMap>,
    /// `--ipc host`, `--pid host`, `--uts host`.
    pub ipc_host: bool,
    pub pid_host: bool,
    pub uts_host: bool,
    /// Files the container gets, read-only, at their targets (compose's secrets and configs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ContainerFile>,
    /// HostConfig.ConsoleSize (rows, columns): a terminal's size at start when the starter
    /// gives none (an API client sends it at create, then starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console_size: Option<(u16, u16)>,
    /// A build step's container: the image's VOLUME paths get no anonymous volumes (what a
    /// step writes there belongs to its layer, as in BuildKit).
    pub no_image_volumes: bool,
}

impl CreateContainer {
    /// One `--security-opt` (HostConfig.SecurityOpt): `no-new-privileges[=bool]`,
    /// `seccomp=unconfined` or `seccomp=<profile JSON>` (docker's CLI sends the file's content,
    /// as doca's does), `label=...` (no SELinux here: ignored, as docker does), and
    /// `apparmor=unconfined`.
    pub fn security_opt(&mut self, o: &str) -> Result<(), EngineError> {
        let usage = |m: String| EngineError::Usage(m);
        let (k, v) = o.split_once(['=', ':']).unwrap_or((o, ""));
        match k {
            "no-new-privileges" => {
                self.no_new_privileges = match v {
                    "" | "true" => true,
                    "false" => false,
                    _ => return Err(usage(format!("invalid --security-opt 2: {o:?}"))),
                }
            }
            "seccomp" if v == "unconfined" => self.seccomp = Seccomp::Unconfined,
            "seccomp" if !v.is_empty() => {
                let profile: Value = serde_json::from_str(v).map_err(|e| usage(format!("decoding seccomp profile failed: {e}")))?;
                self.seccomp = Seccomp::Profile(profile);
            }
            "label" => {}
            "apparmor" if v == "unconfined" => {}
            "apparmor" => return Err(usage("AppArmor is not enabled on this host: only apparmor=unconfined can be honoured".into())),
            _ => return Err(usage(format!("invalid --security-opt: {o:?}"))),
        }
        Ok(())
    }
}

/// A file given to a container (a secret, a config): written by the engine at each start into
/// the container's own directory, with this owner and mode, and bind-mounted read-only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerFile {
    pub target: String,
    pub content: Vec<u8>,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// `--security-opt seccomp=...`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "profile")]
pub enum Seccomp {
    /// Docker's default profile, resolved for the container's capabilities.
    #[default]
    Default,
    /// `seccomp=unconfined`.
    Unconfined,
    /// `seccomp=profile.json`: an OCI linux.seccomp object.
    Profile(Value),
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// A network namespace of its own with only loopback (`--network none`).
    #[default]
    None,
    /// The host's network namespace (`--network host`).
    Host,
    /// Attached to a bridge network, by name or id (`bridge`, the default, or a user's).
    Bridge(String),
    /// Another container's network namespace (`--network container:NAME`).
    Container(String),
}

impl NetworkMode {
    /// docker's HostConfig.NetworkMode string.
    pub fn name(&self) -> String {
        match self {
            NetworkMode::None => "none".into(),
            NetworkMode::Host => "host".into(),
            NetworkMode::Bridge(n) => n.clone(),
            NetworkMode::Container(c) => format!("container:{c}"),
        }
    }

    /// `--network` as docker reads it.
    pub fn parse(s: &str) -> NetworkMode {
        match s {
            "none" => NetworkMode::None,
            "host" => NetworkMode::Host,
            "" | "default" => NetworkMode::Bridge("bridge".into()),
            _ => match s.strip_prefix("container:") {
                Some(c) => NetworkMode::Container(c.into()),
                None => NetworkMode::Bridge(s.into()),
            },
        }
    }

    /// The bridge networks (names or ids) the container attaches to.
    pub fn networks(&self) -> Vec<String> {
        match self {
            NetworkMode::Bridge(n) => vec![n.clone()],
            _ => Vec::new(),
        }
    }
}

/// `--health-*` as given: zero or `None` means "as the image says".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthSpec {
    /// `["CMD-SHELL", cmd]`, `["CMD", args...]`, or `["NONE"]` (`--no-healthcheck`).
    pub test: Option<Vec<String>>,
    pub interval_ns: i64,
    pub timeout_ns: i64,
    pub start_period_ns: i64,
    pub retries: u32,
}

/// A network a container joins, with its own address and aliases there.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub network: String,
    #[serde(default)]
    pub ip: Option<Ipv4Addr>,
    #[serde(default)]
    pub aliases: Vec<String>,
}

/// go-units RAMInBytes: "512m", "1.5g", "100", "64KiB" (binary multipliers).
pub fn parse_size(s: &str) -> Result<i64, String> {
    let bad = || format!("invalid size: '{s}'");
    let t = s.trim();
    let num_end = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(num_end);
    let n: f64 = num.parse().map_err(|_| bad())?;
    let unit = unit.trim_start().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let mul: f64 = match unit {
        "" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024f64.powi(4),
        "p" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    Ok((n * mul) as i64)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse_as_go_units() {
        assert_eq!(super::parse_size("512m").unwrap(), 512 << 20);
        assert_eq!(super::parse_size("1.5g").unwrap(), 3 << 29);
        assert_eq!(super::parse_size("100").unwrap(), 100);
        assert_eq!(super::parse_size("64KiB").unwrap(), 64 << 10);
        assert_eq!(super::parse_size("10MB").unwrap(), 10 << 20);
        assert!(super::parse_size("lots").is_err());
        assert!(super::parse_size("5x").is_err());
    }
}
