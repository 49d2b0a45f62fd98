//! Image config + run options → OCI runtime spec, as dockerd builds it
//! (daemon/oci_linux.go, oci/defaults.go): command resolution, environment, user, working
//! directory, Docker's default capabilities, mounts, masked and read-only paths.

use super::config::CreateContainer;
pub use super::config::{NetworkMode, Seccomp};
use super::user::ExecUser;
use crate::docker::DeviceMapping;
use crate::EngineError;
use doca_image::config::ContainerConfig;
use oci_spec::runtime::{
    Capabilities, Capability, LinuxBuilder, LinuxCapabilitiesBuilder, LinuxCpu, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup,
    LinuxDeviceType, LinuxMemory, LinuxNamespace, LinuxNamespaceBuilder, LinuxNamespaceType, LinuxPidsBuilder, LinuxResources,
    LinuxSeccomp, Mount, MountBuilder, PosixRlimit, PosixRlimitBuilder, PosixRlimitType, ProcessBuilder, RootBuilder, Spec, SpecBuilder,
    UserBuilder,
};
use std::path::PathBuf;

/// Docker's default capability set (oci/caps/defaults.go).
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

pub(crate) const MASKED_PATHS: [&str; 11] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

pub(crate) const READONLY_PATHS: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a start adds to the create request: the resolved user, the mounted rootfs, the
/// hostname and the cgroup.
#[derive(Debug, Clone)]
pub struct RunOptions<'a> {
    pub req: &'a CreateContainer,
    pub hostname: String,
    /// The user, already resolved against the image's passwd/group files.
    pub user: ExecUser,
    pub rootfs: PathBuf,
    pub cgroups_path: String,
    /// doca's init on the host, for `--init`: mounted at /sbin/docker-init, run as PID 1.
    pub init: Option<PathBuf>,
    /// Volumes, bind mounts and tmpfs, after the default mounts.
    pub mounts: Vec<Mount>,
    /// The network namespace to join (made and configured by the engine before start).
    pub netns: Option<PathBuf>,
    /// `--userns=keep-id`'s user namespace (rootless).
    pub keep_id: Option<super::keepid::KeepId>,
}

impl<'a> RunOptions<'a> {
    pub fn from_request(req: &'a CreateContainer, hostname: &str, user: ExecUser, rootfs: PathBuf, cgroups_path: String) -> Self {
        RunOptions {
            req,
            hostname: hostname.to_string(),
            user,
            rootfs,
            cgroups_path,
            init: None,
            mounts: Vec::new(),
            netns: None,
            keep_id: None,
        }
    }
}

/// Where `--init` puts doca's init in the container (docker's path for tini).
pub const INIT_PATH: &str = "/sbin/docker-init";

/// The process's argv: Docker's rules (an `--entrypoint` given on the command line drops the
/// image's Cmd unless a command is given too).
pub fn command(image: &ContainerConfig, o: &CreateContainer) -> Result<Vec<String>, EngineError> {
    let entrypoint = o.entrypoint.clone().or_else(|| image.entrypoint.clone()).unwrap_or_default();
    let cmd = if !o.cmd.is_empty() {
        o.cmd.clone()
    } else if o.entrypoint.is_some() {
        Vec::new()
    } else {
        image.cmd.clone().unwrap_or_default()
    };
    let argv: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if argv.is_empty() {
        return Err(EngineError::InvalidArgument("No command specified".into()));
    }
    Ok(argv)
}

/// docker's ReplaceOrAppendEnvValues: each `KEY=VALUE` replaces an earlier one of the same
/// name in place, or is appended.
pub fn merge_env<'a>(env: &mut Vec<String>, more: impl IntoIterator<Item = &'a String>) {
    for kv in more {
        let key = kv.split('=').next().unwrap_or("");
        match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
            Some(slot) => *slot = kv.clone(),
            None => env.push(kv.clone()),
        }
    }
}

/// The environment as dockerd builds it: PATH, HOSTNAME (and TERM with a tty), then the image's
/// and the run options' variables, each replacing an earlier one of the same name in place
/// (ReplaceOrAppendEnvValues); HOME from the user's passwd entry when none is set, as runc's
/// init adds it.
pub fn environment(image: &ContainerConfig, o: &RunOptions) -> Vec<String> {
    let mut env: Vec<String> = vec![DEFAULT_PATH.into(), format!("HOSTNAME={}", o.hostname)];
    if o.req.tty {
        env.push("TERM=xterm".into());
    }
    merge_env(&mut env, image.env.iter().flatten().chain(&o.req.env));
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", o.user.home));
    }
    env
}

fn capabilities(o: &CreateContainer) -> Result<Vec<String>, EngineError> {
    let all = caps_available;
    let norm = |c: &str| {
        let up = c.to_ascii_uppercase();
        if up == "ALL" || up.starts_with("CAP_") {
            up
        } else {
            format!("CAP_{up}")
        }
    };
    let mut set: Vec<String> = if o.privileged { all() } else { DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect() };
    for c in &o.cap_add {
        let c = norm(c);
        if c == "ALL" {
            set = all();
        } else if !caps_all().contains(&c) {
            return Err(EngineError::InvalidArgument(format!("invalid capability: {c}")));
        } else if !set.contains(&c) {
            set.push(c);
        }
    }
    for c in &o.cap_drop {
        let c = norm(c);
        if c == "ALL" {
            set.clear();
        } else if !caps_all().contains(&c) {
            return Err(EngineError::InvalidArgument(format!("invalid capability: {c}")));
        } else {
            set.retain(|x| *x != c);
        }
    }
    Ok(set)
}

/// Every capability, as the runtime spec's set type (`exec --privileged`).
pub fn all_capabilities() -> oci_spec::runtime::Capabilities {
    caps_available().iter().filter_map(|c| c.parse().ok()).collect()
}

/// "All" capabilities, as `--privileged` and `--cap-add ALL` mean them: those in doca's own
/// bounding set (no process can give more; moby filters the same way, so that a privileged
/// container starts where the engine itself runs with fewer, as in a user namespace or a
/// sandbox without CAP_SYS_RESOURCE).
fn caps_available() -> Vec<String> {
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("CapBnd:").map(|v| u64::from_str_radix(v.trim(), 16).ok())).flatten())
        .unwrap_or(u64::MAX);
    // caps_all() is in the kernel's numbering order (linux/capability.h).
    caps_all().into_iter().enumerate().filter(|(bit, _)| bounding & (1 << bit) != 0).map(|(_, c)| c).collect()
}

/// Every capability Linux 6.x knows (capabilities(7)).
fn caps_all() -> Vec<String> {
    [
        "CHOWN",
        "DAC_OVERRIDE",
        "DAC_READ_SEARCH",
        "FOWNER",
        "FSETID",
        "KILL",
        "SETGID",
        "SETUID",
        "SETPCAP",
        "LINUX_IMMUTABLE",
        "NET_BIND_SERVICE",
        "NET_BROADCAST",
        "NET_ADMIN",
        "NET_RAW",
        "IPC_LOCK",
        "IPC_OWNER",
        "SYS_MODULE",
        "SYS_RAWIO",
        "SYS_CHROOT",
        "SYS_PTRACE",
        "SYS_PACCT",
        "SYS_ADMIN",
        "SYS_BOOT",
        "SYS_NICE",
        "SYS_RESOURCE",
        "SYS_TIME",
        "SYS_TTY_CONFIG",
        "MKNOD",
        "LEASE",
        "AUDIT_WRITE",
        "AUDIT_CONTROL",
        "SETFCAP",
        "MAC_OVERRIDE",
        "MAC_ADMIN",
        "SYSLOG",
        "WAKE_ALARM",
        "BLOCK_SUSPEND",
        "AUDIT_READ",
        "PERFMON",
        "BPF",
        "CHECKPOINT_RESTORE",
    ]
    .iter()
    .map(|c| format!("CAP_{c}"))
    .collect()
}

/// The OCI spec for a container of `image` run with `o`, built with oci-spec's types.
pub fn oci_spec(image: &ContainerConfig, o: &RunOptions) -> Result<Spec, EngineError> {
    let r = o.req;
    let mut args = command(image, r)?;
    if o.init.is_some() {
        args.splice(0..0, [INIT_PATH.to_string(), "--".to_string()]);
    }
    let cap_names = capabilities(r)?;
    let cwd = r.working_dir.clone().or_else(|| image.working_dir.clone()).filter(|w| !w.is_empty()).unwrap_or_else(|| "/".into());
    if !cwd.starts_with('/') {
        return Err(EngineError::InvalidArgument(format!("the working directory '{cwd}' is invalid, it needs to be an absolute path")));
    }
    let mut namespaces = vec![namespace(LinuxNamespaceType::Mount, None)?];
    for (kind, host) in [
        (LinuxNamespaceType::Pid, r.pid_host),
        (LinuxNamespaceType::Ipc, r.ipc_host),
        (LinuxNamespaceType::Uts, r.uts_host),
        (LinuxNamespaceType::Network, r.network == NetworkMode::Host),
    ] {
        if !host {
            let path = if kind == LinuxNamespaceType::Network { o.netns.clone() } else { None };
            namespaces.push(namespace(kind, path)?);
        }
    }
    let sys_ro = if r.privileged { "rw" } else { "ro" };
    let shm_size = r.shm_size.filter(|s| *s > 0).unwrap_or(64 << 20);
    let shm = format!("size={shm_size}");
    // Terminals belong to the tty group (5), unless the user namespace doca runs in has no
    // such group (rootless with only the user's id mapped): devpts then refuses the option
    // (runc's rootless spec drops it too).
    let pts: &[&str] = if doca_mount::userns::in_initial() || doca_mount::userns::gid_mapped(5) {
        &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]
    } else {
        &["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]
    };
    let mut mounts = vec![
        mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?,
        mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"])?,
        mount("/dev/pts", "devpts", "devpts", pts)?,
        mount("/sys", "sysfs", "sysfs", &["nosuid", "noexec", "nodev", sys_ro])?,
        mount("/sys/fs/cgroup", "cgroup", "cgroup", &["nosuid", "noexec", "nodev", "relatime", sys_ro])?,
        mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"])?,
        mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", &shm])?,
    ];
    for (dest, opts) in &r.tmpfs {
        mounts.push(tmpfs_mount(dest, opts)?);
    }
    mounts.extend(o.mounts.iter().cloned());
    if let Some(init) = &o.init {
        mounts.push(bind_mount(INIT_PATH, init, &["rbind", "ro", "nosuid", "nodev"])?);
    }
    let caps: Capabilities = cap_names.iter().map(|c| capability(c)).collect::<Result<_, _>>()?;
    let mut capabilities =
        LinuxCapabilitiesBuilder::default().bounding(caps.clone()).effective(caps.clone()).permitted(caps).build().map_err(bad)?;
    // Docker's process has no inheritable or ambient capabilities (the builder's defaults
    // would give it some, which an unprivileged user in the container would keep across exec).
    capabilities.set_inheritable(None);
    capabilities.set_ambient(None);
    let mut process = ProcessBuilder::default()
        .terminal(r.tty)
        .user(UserBuilder::default().uid(o.user.uid).gid(o.user.gid).additional_gids(o.user.additional_gids.clone()).build().map_err(bad)?)
        .args(args)
        .env(environment(image, o))
        .cwd(cwd)
        .capabilities(capabilities)
        .no_new_privileges(r.no_new_privileges)
        .rlimits(rlimits(&r.resources.ulimits)?)
        .build()
        .map_err(bad)?;
    // Unset unless given: the runtime leaves the score it inherits.
    if r.oom_score_adj != 0 {
        process.set_oom_score_adj(Some(r.oom_score_adj));
    }
    let (masked, readonly): (Vec<String>, Vec<String>) = if r.privileged {
        (Vec::new(), Vec::new())
    } else {
        (MASKED_PATHS.map(String::from).to_vec(), READONLY_PATHS.map(String::from).to_vec())
    };
    let mut resources = resources(r)?;
    let devices = r.devices.iter().map(|d| device(d)).collect::<Result<Vec<_>, _>>()?;
    let (nodes, rules): (Vec<LinuxDevice>, Vec<LinuxDeviceCgroup>) = devices.into_iter().unzip();
    if let Some(d) = resources.devices_mut() {
        d.extend(rules);
    }
    // --privileged turns seccomp off, as in docker.
    let profile = match (&r.seccomp, r.privileged) {
        (_, true) | (Seccomp::Unconfined, _) => None,
        (Seccomp::Default, false) => Some(super::seccomp::default_profile(&cap_names)),
        (Seccomp::Profile(p), false) => Some(p.clone()),
    };
    let mut linux = LinuxBuilder::default()
        .namespaces(namespaces)
        .cgroups_path(PathBuf::from(&o.cgroups_path))
        .masked_paths(masked)
        .readonly_paths(readonly)
        .resources(resources)
        .sysctl(r.sysctls.clone().into_iter().collect::<std::collections::HashMap<_, _>>())
        .build()
        .map_err(bad)?;
    if !nodes.is_empty() {
        linux.set_devices(Some(nodes));
    }
    // A user namespace of its own: the container's ids are its range on the host.
    if let Some(map) = &r.id_map {
        let mapping = |host: u32| {
            oci_spec::runtime::LinuxIdMappingBuilder::default().container_id(0u32).host_id(host).size(map.size).build().map_err(bad)
        };
        let mut ns = linux.namespaces().clone().unwrap_or_default();
        ns.push(namespace(LinuxNamespaceType::User, None)?);
        linux.set_namespaces(Some(ns));
        linux.set_uid_mappings(Some(vec![mapping(map.uid)?]));
        linux.set_gid_mappings(Some(vec![mapping(map.gid)?]));
    }
    // keep-id: a user namespace inside the rootless user's, the user's id moved back to its
    // host value (keepid.rs).
    if let Some(k) = &o.keep_id {
        let ranges = |map: &[doca_fs::IdRange]| {
            map.iter()
                .map(|r| {
                    oci_spec::runtime::LinuxIdMappingBuilder::default()
                        .container_id(r.inside)
                        .host_id(r.outside)
                        .size(r.size)
                        .build()
                        .map_err(bad)
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let mut ns = linux.namespaces().clone().unwrap_or_default();
        ns.push(namespace(LinuxNamespaceType::User, None)?);
        linux.set_namespaces(Some(ns));
        linux.set_uid_mappings(Some(ranges(&k.uid_map)?));
        linux.set_gid_mappings(Some(ranges(&k.gid_map)?));
    }
    if let Some(p) = profile {
        let seccomp: LinuxSeccomp =
            serde_json::from_value(p).map_err(|e| EngineError::InvalidArgument(format!("container spec: seccomp profile: {e}")))?;
        linux.set_seccomp(Some(seccomp));
    }
    let mut spec = SpecBuilder::default()
        .version("1.0.2")
        .process(process)
        .root(RootBuilder::default().path(o.rootfs.clone()).readonly(r.read_only).build().map_err(bad)?)
        .mounts(mounts)
        .linux(linux)
        .build()
        .map_err(bad)?;
    // The default spec's hostname ("youki") must not reach a container: set or cleared.
    spec.set_hostname(None);
    if !r.uts_host {
        spec.set_hostname(Some(o.hostname.clone()));
        if let Some(d) = r.domainname.as_ref().filter(|d| !d.is_empty()) {
            spec.set_domainname(Some(d.clone()));
        }
    }
    // What the builder's defaults would add and docker's spec does not have.
    spec.set_hooks(None);
    spec.set_annotations(None);
    Ok(spec)
}

/// An oci-spec builder's refusal: a bug in how doca fills the spec, named as a spec error.
fn bad(e: oci_spec::OciSpecError) -> EngineError {
    EngineError::InvalidArgument(format!("container spec: {e}"))
}

fn namespace(kind: LinuxNamespaceType, path: Option<PathBuf>) -> Result<LinuxNamespace, EngineError> {
    let b = LinuxNamespaceBuilder::default().typ(kind);
    match path {
        Some(p) => b.path(p).build(),
        None => b.build(),
    }
    .map_err(bad)
}

pub(crate) fn mount(dest: &str, kind: &str, source: &str, options: &[&str]) -> Result<Mount, EngineError> {
    MountBuilder::default()
        .destination(dest)
        .typ(kind)
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(bad)
}

/// A bind mount of a host path (a volume's data, a bind source, doca's init, /etc files).
pub(crate) fn bind_mount(dest: &str, source: &std::path::Path, options: &[&str]) -> Result<Mount, EngineError> {
    MountBuilder::default()
        .destination(dest)
        .typ("bind")
        .source(source)
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(bad)
}

fn capability(name: &str) -> Result<Capability, EngineError> {
    name.strip_prefix("CAP_")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| EngineError::InvalidArgument(format!("invalid capability: {name}")))
}

/// `--tmpfs /path[:opts]`: docker mounts it noexec,nosuid,nodev unless the options say otherwise.
fn tmpfs_mount(dest: &str, opts: &str) -> Result<Mount, EngineError> {
    if !dest.starts_with('/') {
        return Err(EngineError::InvalidArgument(format!("invalid mount path for --tmpfs: {dest}: it must be absolute")));
    }
    let mut options: Vec<String> = vec!["noexec".into(), "nosuid".into(), "nodev".into()];
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        let opposite = match o {
            "exec" => Some("noexec"),
            "suid" => Some("nosuid"),
            "dev" => Some("nodev"),
            _ => None,
        };
        if let Some(x) = opposite {
            options.retain(|p| p != x);
        }
        options.push(o.to_string());
    }
    MountBuilder::default().destination(dest).typ("tmpfs").source("tmpfs").options(options).build().map_err(bad)
}

/// `--ulimit name=soft[:hard]` → process.rlimits (setrlimit(2) names).
fn rlimits(ulimits: &[(String, i64, i64)]) -> Result<Vec<PosixRlimit>, EngineError> {
    const NAMES: [&str; 16] = [
        "core",
        "cpu",
        "data",
        "fsize",
        "locks",
        "memlock",
        "msgqueue",
        "nice",
        "nofile",
        "nproc",
        "rss",
        "rtprio",
        "rttime",
        "sigpending",
        "stack",
        "as",
    ];
    ulimits
        .iter()
        .map(|(name, soft, hard)| {
            if !NAMES.contains(&name.as_str()) {
                return Err(EngineError::InvalidArgument(format!("invalid ulimit type: {name}")));
            }
            if soft > hard && *hard >= 0 {
                return Err(EngineError::InvalidArgument(format!(
                    "ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
                )));
            }
            let kind: PosixRlimitType = format!("RLIMIT_{}", name.to_ascii_uppercase())
                .parse()
                .map_err(|_| EngineError::InvalidArgument(format!("invalid ulimit type: {name}")))?;
            let unl = |v: i64| if v < 0 { u64::MAX } else { v as u64 };
            PosixRlimitBuilder::default().typ(kind).soft(unl(*soft)).hard(unl(*hard)).build().map_err(bad)
        })
        .collect()
}

fn device_rule(allow: bool, kind: Option<LinuxDeviceType>, major_minor: Option<(i64, i64)>, access: &str) -> LinuxDeviceCgroup {
    let mut rule = LinuxDeviceCgroup::default();
    rule.set_allow(allow);
    rule.set_typ(kind);
    rule.set_major(major_minor.map(|m| m.0));
    rule.set_minor(major_minor.map(|m| m.1));
    rule.set_access(Some(access.to_string()));
    rule
}

/// HostConfig.Resources → linux.resources, with docker's conversions: `--cpus` is a quota over
/// a 100ms period; `-m` without `--memory-swap` allows as much swap as memory (total 2×).
fn resources(r: &CreateContainer) -> Result<LinuxResources, EngineError> {
    let x = &r.resources;
    let mut out = LinuxResources::default();
    // Docker's device rules: deny everything, then let CAP_MKNOD (a default capability) make
    // any node, while opening one stays limited to the default devices and `--device`s (moby
    // oci/devices_linux.go).
    out.set_devices(Some(vec![
        device_rule(r.privileged, None, None, "rwm"),
        device_rule(true, Some(LinuxDeviceType::C), None, "m"),
        device_rule(true, Some(LinuxDeviceType::B), None, "m"),
    ]));
    if x.memory < 0 || (x.memory > 0 && x.memory < 6 << 20) {
        return Err(EngineError::InvalidArgument("Minimum memory limit allowed is 6MB".into()));
    }
    let mut memory = LinuxMemory::default();
    if x.memory > 0 {
        memory.set_limit(Some(x.memory));
        let swap = match x.memory_swap {
            0 => 2 * x.memory,
            -1 => -1,
            s if s < x.memory => {
                return Err(EngineError::InvalidArgument("Minimum memoryswap limit should be larger than memory limit, see usage".into()))
            }
            s => s,
        };
        memory.set_swap(Some(swap));
    } else if x.memory_swap > 0 {
        return Err(EngineError::InvalidArgument("You should always set the Memory limit when using Memoryswap limit, see usage".into()));
    }
    if x.memory_reservation > 0 {
        memory.set_reservation(Some(x.memory_reservation));
    }
    if x.oom_kill_disable {
        memory.set_disable_oom_killer(Some(true));
    }
    if memory != LinuxMemory::default() {
        out.set_memory(Some(memory));
    }
    let mut cpu = LinuxCpu::default();
    let ncpu = std::thread::available_parallelism().map(|n| n.get() as i64).unwrap_or(1);
    if x.nano_cpus < 0 || x.nano_cpus > ncpu * 1_000_000_000 {
        return Err(EngineError::InvalidArgument(format!(
            "range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )));
    }
    if x.nano_cpus > 0 {
        if x.cpu_quota > 0 || x.cpu_period > 0 {
            return Err(EngineError::InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set".into()));
        }
        cpu.set_period(Some(100_000));
        cpu.set_quota(Some(x.nano_cpus * 100_000 / 1_000_000_000));
    }
    if x.cpu_quota > 0 {
        cpu.set_quota(Some(x.cpu_quota));
    }
    if x.cpu_period > 0 {
        cpu.set_period(Some(x.cpu_period as u64));
    }
    if x.cpu_shares > 0 {
        cpu.set_shares(Some(x.cpu_shares as u64));
    }
    if !x.cpuset_cpus.is_empty() {
        cpu.set_cpus(Some(x.cpuset_cpus.clone()));
    }
    if !x.cpuset_mems.is_empty() {
        cpu.set_mems(Some(x.cpuset_mems.clone()));
    }
    if cpu != LinuxCpu::default() {
        out.set_cpu(Some(cpu));
    }
    if x.pids_limit > 0 {
        out.set_pids(Some(LinuxPidsBuilder::default().limit(x.pids_limit).build().map_err(bad)?));
    }
    Ok(out)
}

/// `--device /dev/host[:/dev/container][:rwm]`: the node, made in the container as the host
/// has it, and the cgroup rule that lets the container use it.
fn device(spec: &str) -> Result<(LinuxDevice, LinuxDeviceCgroup), EngineError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let d = DeviceMapping::parse(spec)?;
    let (host, dest, perms) = (&d.path_on_host, &d.path_in_container, &d.cgroup_permissions);
    let md = std::fs::metadata(host).map_err(|e| {
        EngineError::InvalidArgument(format!("error gathering device information while adding custom device \"{host}\": {e}"))
    })?;
    let ft = md.file_type();
    let kind = if ft.is_char_device() {
        LinuxDeviceType::C
    } else if ft.is_block_device() {
        LinuxDeviceType::B
    } else {
        return Err(EngineError::InvalidArgument(format!(
            "error gathering device information while adding custom device \"{host}\": not a device node"
        )));
    };
    let rdev = md.rdev();
    let (major, minor) = (nix::sys::stat::major(rdev) as i64, nix::sys::stat::minor(rdev) as i64);
    let node = LinuxDeviceBuilder::default()
        .path(dest)
        .typ(kind)
        .major(major)
        .minor(minor)
        .file_mode(md.mode() & 0o7777)
        .uid(md.uid())
        .gid(md.gid())
        .build()
        .map_err(bad)?;
    Ok((node, device_rule(true, Some(kind), Some((major, minor)), perms)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::containers::record::Resources;
    use serde_json::{json, Value};

    fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> ContainerConfig {
        ContainerConfig {
            entrypoint: entrypoint.map(|e| e.iter().map(|s| s.to_string()).collect()),
            cmd: cmd.map(|e| e.iter().map(|s| s.to_string()).collect()),
            env: Some(vec!["PATH=/custom/bin".into(), "LANG=C.UTF-8".into()]),
            working_dir: Some("/srv".into()),
            ..Default::default()
        }
    }

    fn opts(req: &CreateContainer) -> RunOptions<'_> {
        RunOptions::from_request(req, "abc123", ExecUser { home: "/root".into(), ..Default::default() }, "/r".into(), "/doca/abc".into())
    }

    fn spec_of(img: &ContainerConfig, req: CreateContainer) -> Result<Value, EngineError> {
        oci_spec(img, &opts(&req)).map(|s| serde_json::to_value(&s).expect("json"))
    }

    #[test]
    fn entrypoint_and_cmd_combine_as_docker_does() {
        let img = image(Some(&["/entry"]), Some(&["default-arg"]));
        let s = |cmd: &[&str], ep: Option<&[&str]>| {
            let o = CreateContainer {
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                entrypoint: ep.map(|e| e.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            };
            command(&img, &o)
        };
        assert_eq!(s(&[], None).unwrap(), ["/entry", "default-arg"]);
        assert_eq!(s(&["x"], None).unwrap(), ["/entry", "x"]);
        // --entrypoint drops the image's Cmd.
        assert_eq!(s(&[], Some(&["/other"])).unwrap(), ["/other"]);
        assert_eq!(s(&["y"], Some(&["/other"])).unwrap(), ["/other", "y"]);
        // --entrypoint "" clears it.
        assert_eq!(s(&["sh"], Some(&[])).unwrap(), ["sh"]);
        assert_eq!(command(&ContainerConfig::default(), &CreateContainer::default()).unwrap_err().to_string(), "No command specified");
    }

    #[test]
    fn environment_layers_as_docker_does() {
        let req = CreateContainer { env: vec!["LANG=fr".into(), "EXTRA=1".into()], tty: true, ..Default::default() };
        let env = environment(&image(None, Some(&["sh"])), &opts(&req));
        assert_eq!(env, ["PATH=/custom/bin", "HOSTNAME=abc123", "TERM=xterm", "LANG=fr", "EXTRA=1", "HOME=/root"]);
        let env = environment(&ContainerConfig::default(), &opts(&CreateContainer::default()));
        assert!(env.contains(&DEFAULT_PATH.to_string()));
    }

    #[test]
    fn spec_has_dockers_defaults() {
        let img = image(None, Some(&["sh"]));
        let spec = spec_of(&img, CreateContainer::default()).unwrap();
        assert_eq!(spec["process"]["cwd"], "/srv");
        assert_eq!(spec["process"]["capabilities"]["bounding"].as_array().unwrap().len(), 14);
        assert_eq!(spec["linux"]["maskedPaths"].as_array().unwrap().len(), MASKED_PATHS.len());
        assert!(spec["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n["type"] == "network"));
        assert_eq!(spec["root"]["readonly"], false);
        assert_eq!(spec["hostname"], "abc123");
        let priv_spec = spec_of(&img, CreateContainer { privileged: true, network: NetworkMode::Host, ..Default::default() }).unwrap();
        assert_eq!(priv_spec["process"]["capabilities"]["bounding"].as_array().unwrap().len(), caps_available().len());
        assert!(priv_spec["linux"]["maskedPaths"].as_array().unwrap().is_empty());
        assert!(!priv_spec["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n["type"] == "network"));
        let dropped =
            spec_of(&img, CreateContainer { cap_drop: vec!["net_raw".into()], cap_add: vec!["SYS_ADMIN".into()], ..Default::default() })
                .unwrap();
        let b: Vec<&str> = dropped["process"]["capabilities"]["bounding"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(b.contains(&"CAP_SYS_ADMIN") && !b.contains(&"CAP_NET_RAW"));
        assert!(spec_of(&img, CreateContainer { cap_add: vec!["BOGUS".into()], ..Default::default() })
            .unwrap_err()
            .to_string()
            .contains("invalid capability: CAP_BOGUS"));
        assert!(spec_of(&img, CreateContainer { working_dir: Some("rel".into()), ..Default::default() }).is_err());
        assert_eq!(spec["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        assert!(priv_spec["linux"]["seccomp"].is_null(), "--privileged keeps seccomp off");
        let unconfined = spec_of(&img, CreateContainer { seccomp: Seccomp::Unconfined, ..Default::default() }).unwrap();
        assert!(unconfined["linux"]["seccomp"].is_null());
        let uts = spec_of(&img, CreateContainer { uts_host: true, pid_host: true, ..Default::default() }).unwrap();
        assert!(uts["hostname"].is_null(), "no hostname without a uts namespace of its own");
        let kinds: Vec<&str> = uts["linux"]["namespaces"].as_array().unwrap().iter().map(|n| n["type"].as_str().unwrap()).collect();
        assert_eq!(kinds, ["mount", "ipc", "network"]);
    }

    #[test]
    fn resources_convert_as_docker_does() {
        let img = image(None, Some(&["sh"]));
        let res = |r: Resources| spec_of(&img, CreateContainer { resources: r, ..Default::default() });
        let s = res(Resources { memory: 64 << 20, nano_cpus: 500_000_000, pids_limit: 10, cpu_shares: 512, ..Default::default() }).unwrap();
        let r = &s["linux"]["resources"];
        assert_eq!(r["memory"]["limit"], 64 << 20);
        assert_eq!(r["memory"]["swap"], 128 << 20, "-m alone allows as much swap as memory");
        assert_eq!(r["cpu"]["quota"], 50_000);
        assert_eq!(r["cpu"]["period"], 100_000);
        assert_eq!(r["cpu"]["shares"], 512);
        assert_eq!(r["pids"]["limit"], 10);
        assert!(res(Resources { memory: 1 << 20, ..Default::default() }).unwrap_err().to_string().contains("Minimum memory limit"));
        assert!(res(Resources { memory: 64 << 20, memory_swap: 32 << 20, ..Default::default() }).is_err());
        assert!(res(Resources { nano_cpus: 1_000_000_000_000, ..Default::default() }).unwrap_err().to_string().contains("range of CPUs"));
        assert!(res(Resources { nano_cpus: -1_000_000_000, ..Default::default() }).unwrap_err().to_string().contains("range of CPUs"));
        let u = res(Resources { ulimits: vec![("nofile".into(), 100, 200)], ..Default::default() }).unwrap();
        assert_eq!(u["process"]["rlimits"][0], json!({"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}));
        assert!(res(Resources { ulimits: vec![("bogus".into(), 1, 1)], ..Default::default() }).is_err());
    }

    #[test]
    fn tmpfs_and_devices() {
        let m = serde_json::to_value(tmpfs_mount("/run", "exec,size=64m").unwrap()).unwrap();
        assert_eq!(m["options"], json!(["nosuid", "nodev", "exec", "size=64m"]));
        assert!(tmpfs_mount("run", "").is_err());
        let (dev, rule) = device("/dev/null:/dev/mynull:rw").unwrap();
        let (dev, rule) = (serde_json::to_value(dev).unwrap(), serde_json::to_value(rule).unwrap());
        assert_eq!(dev["path"], "/dev/mynull");
        assert_eq!((dev["major"].as_i64(), dev["minor"].as_i64()), (Some(1), Some(3)));
        assert_eq!(rule["access"], "rw");
        assert!(device("/etc/passwd").is_err());
        assert!(device("/dev/null:/dev/x:rwz").is_err());
    }
}
