//! `doca info` and `doca version`: what docker's `/info` and `/version` say, with docker's field
//! names (api/types/types.go `Info`, `Version`), from this store and this host. Every value is
//! read, none assumed: what doca has no equivalent for is left out, not invented.

use crate::containers::record::Status;
use crate::{Engine, EngineError};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Info {
    pub containers: usize,
    pub containers_running: usize,
    pub containers_paused: usize,
    pub containers_stopped: usize,
    pub images: usize,
    pub driver: String,
    pub driver_status: Vec<[String; 2]>,
    pub plugins: Plugins,
    pub memory_limit: bool,
    pub swap_limit: bool,
    pub cpu_cfs_period: bool,
    pub cpu_cfs_quota: bool,
    #[serde(rename = "CPUShares")]
    pub cpu_shares: bool,
    #[serde(rename = "CPUSet")]
    pub cpu_set: bool,
    pub pids_limit: bool,
    #[serde(rename = "IPv4Forwarding")]
    pub ipv4_forwarding: bool,
    pub debug: bool,
    pub system_time: String,
    pub logging_driver: String,
    pub cgroup_driver: String,
    pub cgroup_version: String,
    pub kernel_version: String,
    pub operating_system: String,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    pub architecture: String,
    pub index_server_address: String,
    pub registry_config: RegistryInfo,
    #[serde(rename = "NCPU")]
    pub ncpu: usize,
    pub mem_total: u64,
    pub docker_root_dir: String,
    pub http_proxy: String,
    pub https_proxy: String,
    pub no_proxy: String,
    pub name: String,
    pub labels: Vec<String>,
    pub experimental_build: bool,
    pub server_version: String,
    pub runtimes: BTreeMap<String, RuntimeInfo>,
    pub default_runtime: String,
    pub live_restore_enabled: bool,
    pub security_options: Vec<String>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Plugins {
    pub volume: Vec<String>,
    pub network: Vec<String>,
    pub log: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegistryInfo {
    #[serde(rename = "InsecureRegistryCIDRs")]
    pub insecure_registry_cidrs: Vec<String>,
    pub insecure_registries: Vec<String>,
    pub mirrors: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuntimeInfo {
    pub path: String,
}

/// docker's `/version` for a daemonless engine: the engine is this program, so its components
/// are doca itself and its runtime.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Version {
    pub version: String,
    pub os: String,
    pub arch: String,
    pub kernel_version: String,
    pub components: Vec<Component>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Component {
    pub name: String,
    pub version: String,
}

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

fn uname() -> (String, String) {
    let u = rustix::system::uname();
    (u.release().to_string_lossy().into_owned(), u.machine().to_string_lossy().into_owned())
}

/// docker's GOARCH names for the machine's.
fn go_arch(machine: &str) -> &str {
    match machine {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "i686" | "i386" => "386",
        other => other,
    }
}

/// PRETTY_NAME and VERSION_ID from os-release(5).
fn os_release() -> (String, String) {
    let text = std::fs::read_to_string("/etc/os-release").or_else(|_| std::fs::read_to_string("/usr/lib/os-release")).unwrap_or_default();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|v| v.strip_prefix('=')))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_default()
    };
    let pretty = get("PRETTY_NAME");
    (if pretty.is_empty() { "Linux".into() } else { pretty }, get("VERSION_ID"))
}

fn mem_total() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| l.strip_prefix("MemTotal:").and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok()))
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

/// The filesystem under `path`, by statfs magic, with docker's names for the common ones.
fn backing_fs(path: &std::path::Path) -> String {
    let mut p = path.to_path_buf();
    // The store may not exist yet: its nearest existing parent is where it will live.
    while !p.exists() && p.pop() {}
    match rustix::fs::statfs(&p) {
        Ok(s) => match s.f_type as u64 {
            0xef53 => "extfs".into(),
            0x5846_5342 => "xfs".into(),
            0x9123_683e => "btrfs".into(),
            0x0102_1994 => "tmpfs".into(),
            0x2fc1_2fc1 => "zfs".into(),
            0x794c_7630 => "overlayfs".into(),
            other => format!("0x{other:x}"),
        },
        Err(_) => "unknown".into(),
    }
}

/// Which limits the host's cgroups can apply: on v1 (and the hybrid) a hierarchy per controller
/// with the file the limit is written to; on v2 the controllers the root offers.
struct Cgroups {
    v2_controllers: Option<String>,
}

impl Cgroups {
    fn read() -> Cgroups {
        Cgroups { v2_controllers: std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").ok() }
    }
    fn supports(&self, controller: &str, v1_file: &str) -> bool {
        match &self.v2_controllers {
            Some(c) => c.split_whitespace().any(|x| x == controller),
            None => std::path::Path::new("/sys/fs/cgroup").join(controller).join(v1_file).exists(),
        }
    }
}

impl Engine {
    pub fn info(&mut self) -> Result<Info, EngineError> {
        let containers = self.containers()?;
        let count = |f: fn(&Status) -> bool| containers.iter().filter(|c| f(&c.state.status)).count();
        let running = count(|s| matches!(s, Status::Running | Status::Restarting));
        let paused = count(|s| matches!(s, Status::Paused));
        let images = self.store.db.read(|tx| tx.images())?.len();
        let (kernel, machine) = uname();
        let (os, os_version) = os_release();
        let registry = crate::images::pull::registry_config()?;
        let cg = Cgroups::read();
        let swap = cg.supports("memory", "memory.memsw.limit_in_bytes");
        let mut warnings = Vec::new();
        let mut runtimes = BTreeMap::new();
        match crate::containers::runtime::Helpers::locate() {
            Ok(h) => {
                runtimes.insert("doca".to_string(), RuntimeInfo { path: h.runc.display().to_string() });
            }
            Err(e) => warnings.push(format!("WARNING: {e}")),
        }
        // `--runtime NAME` takes any runc-compatible program in PATH; these two are the usual.
        for name in ["runc", "crun"] {
            if let Some(p) = crate::containers::runtime::find_in_path(name) {
                runtimes.insert(name.to_string(), RuntimeInfo { path: p.display().to_string() });
            }
        }
        if !swap {
            warnings.push("WARNING: No swap limit support".to_string());
        }
        let no_cgroups = crate::rootless::no_cgroups();
        if crate::rootless::is_rootless() {
            warnings.extend(crate::rootless::warnings(&self.config().run_root));
        }
        let limits = no_cgroups.is_none();
        let mut driver_status =
            vec![["Backing Filesystem".into(), backing_fs(&self.config().root)], ["Supports d_type".into(), "true".into()]];
        // A configured FUSE mounter (rootfs.rs), as `podman info` names its mount program.
        if let Ok(Some(p)) = crate::containers::rootfs::mount_program(false) {
            driver_status.push(["Mount Program".into(), p.display().to_string()]);
        }
        let env = |k: &str| std::env::var(k).or_else(|_| std::env::var(k.to_lowercase())).unwrap_or_default();
        Ok(Info {
            containers: containers.len(),
            containers_running: running,
            containers_paused: paused,
            containers_stopped: containers.len() - running - paused,
            images,
            driver: "overlay2".into(),
            driver_status,
            plugins: Plugins {
                volume: vec!["local".into()],
                network: vec!["bridge".into(), "host".into(), "null".into()],
                log: vec!["json-file".into()],
            },
            memory_limit: limits && cg.supports("memory", "memory.limit_in_bytes"),
            swap_limit: limits && swap,
            cpu_cfs_period: limits && cg.supports("cpu", "cpu.cfs_period_us"),
            cpu_cfs_quota: limits && cg.supports("cpu", "cpu.cfs_quota_us"),
            cpu_shares: limits && cg.supports("cpu", "cpu.shares"),
            cpu_set: limits && cg.supports("cpuset", "cpuset.cpus"),
            pids_limit: limits && cg.supports("pids", "pids.max"),
            ipv4_forwarding: std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").is_ok_and(|v| v.trim() == "1"),
            debug: false,
            system_time: time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            logging_driver: "json-file".into(),
            cgroup_driver: "cgroupfs".into(),
            cgroup_version: if cg.v2_controllers.is_some() { "2" } else { "1" }.into(),
            kernel_version: kernel,
            operating_system: os,
            os_version,
            os_type: "linux".into(),
            architecture: machine,
            index_server_address: "https://index.docker.io/v1/".into(),
            registry_config: RegistryInfo {
                // Loopback registries are insecure unless certs.d says otherwise, as in docker.
                insecure_registry_cidrs: vec!["127.0.0.0/8".into()],
                insecure_registries: registry.insecure_registries.clone(),
                mirrors: registry.registry_mirrors.clone(),
            },
            ncpu: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            mem_total: mem_total(),
            docker_root_dir: self.config().root.display().to_string(),
            http_proxy: env("HTTP_PROXY"),
            https_proxy: env("HTTPS_PROXY"),
            no_proxy: env("NO_PROXY"),
            name: rustix::system::uname().nodename().to_string_lossy().into_owned(),
            labels: Vec::new(),
            experimental_build: false,
            server_version: VERSION.into(),
            runtimes,
            default_runtime: "doca".into(),
            // No daemon: containers never depend on a doca process staying up.
            live_restore_enabled: true,
            // dockerd lists "name=userns" when containers get a user namespace by default.
            security_options: {
                let mut o = vec!["name=seccomp,profile=builtin".to_string()];
                // As dockerd in rootless mode lists it.
                if crate::rootless::is_rootless() {
                    o.push("name=rootless".into());
                }
                if crate::containers::userns::Settings::load().is_ok_and(|s| !s.userns_remap.is_empty()) {
                    o.push("name=userns".into());
                }
                o
            },
            warnings,
        })
    }
}

/// doca's version, and its runtime's as `doca-runc --version` reports it ("unknown" when the
/// runtime cannot be found or run: the client's part is still worth printing, as docker does).
pub fn version() -> Version {
    let (kernel, machine) = uname();
    let runc = crate::containers::runtime::Helpers::locate()
        .ok()
        .and_then(|h| std::process::Command::new(&h.runc).arg("--version").output().ok())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().last()).map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    Version {
        version: VERSION.into(),
        os: "linux".into(),
        arch: go_arch(&machine).into(),
        kernel_version: kernel,
        components: vec![
            Component { name: "Engine".into(), version: VERSION.into() },
            Component { name: "doca-runc".into(), version: runc },
        ],
    }
}
