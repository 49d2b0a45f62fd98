//! Image config + run options → OCI runtime spec, as dockerd builds it
//! (daemon/oci_linux.go, oci/defaults.go): command resolution, environment, user, working
//! directory, Docker's default capabilities, mounts, masked and read-only paths.

use super::user::ExecUser;
use crate::EngineError;
use doca_image::config::ContainerConfig;
use oci_spec::runtime::Spec;
use serde_json::{json, Value};
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

const MASKED_PATHS: [&str; 11] = [
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

const READONLY_PATHS: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `--security-opt seccomp=...`.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Seccomp {
    /// Docker's default profile, resolved for the container's capabilities.
    #[default]
    Default,
    /// `seccomp=unconfined`.
    Unconfined,
    /// `seccomp=profile.json`: an OCI linux.seccomp object.
    Profile(Value),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// A network namespace of its own with only loopback (`--network none`).
    #[default]
    None,
    /// The host's network namespace (`--network host`).
    Host,
}

/// The `docker run` options that shape the spec (the rest arrive with their features).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Arguments after the image name.
    pub cmd: Vec<String>,
    /// `--entrypoint`: `Some(vec![])` for `--entrypoint ""`, which clears the image's.
    pub entrypoint: Option<Vec<String>>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub hostname: String,
    pub tty: bool,
    pub network: NetworkMode,
    pub privileged: bool,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// The user, already resolved against the image's passwd/group files.
    pub user: ExecUser,
    pub rootfs: PathBuf,
    pub cgroups_path: String,
    pub seccomp: Seccomp,
}

/// The process's argv: Docker's rules (an `--entrypoint` given on the command line drops the
/// image's Cmd unless a command is given too).
pub fn command(image: &ContainerConfig, o: &RunOptions) -> Result<Vec<String>, EngineError> {
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

/// The environment as dockerd builds it: PATH, HOSTNAME (and TERM with a tty), then the image's
/// and the run options' variables, each replacing an earlier one of the same name in place
/// (ReplaceOrAppendEnvValues); HOME from the user's passwd entry when none is set, as runc's
/// init adds it.
pub fn environment(image: &ContainerConfig, o: &RunOptions) -> Vec<String> {
    let mut env: Vec<String> = vec![DEFAULT_PATH.into(), format!("HOSTNAME={}", o.hostname)];
    if o.tty {
        env.push("TERM=xterm".into());
    }
    for kv in image.env.iter().flatten().chain(&o.env) {
        let key = kv.split('=').next().unwrap_or("");
        match env.iter_mut().find(|e| e.split('=').next() == Some(key)) {
            Some(slot) => *slot = kv.clone(),
            None => env.push(kv.clone()),
        }
    }
    if !env.iter().any(|e| e.starts_with("HOME=")) {
        env.push(format!("HOME={}", o.user.home));
    }
    env
}

fn capabilities(o: &RunOptions) -> Result<Vec<String>, EngineError> {
    let all = || caps_all();
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
        } else if !all().contains(&c) {
            return Err(EngineError::InvalidArgument(format!("invalid capability: {c}")));
        } else if !set.contains(&c) {
            set.push(c);
        }
    }
    for c in &o.cap_drop {
        let c = norm(c);
        if c == "ALL" {
            set.clear();
        } else if !all().contains(&c) {
            return Err(EngineError::InvalidArgument(format!("invalid capability: {c}")));
        } else {
            set.retain(|x| *x != c);
        }
    }
    Ok(set)
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

/// The OCI spec for a container of `image` run with `o`.
pub fn oci_spec(image: &ContainerConfig, o: &RunOptions) -> Result<Spec, EngineError> {
    let args = command(image, o)?;
    let caps = capabilities(o)?;
    let cwd = o.working_dir.clone().or_else(|| image.working_dir.clone()).filter(|w| !w.is_empty()).unwrap_or_else(|| "/".into());
    if !cwd.starts_with('/') {
        return Err(EngineError::InvalidArgument(format!("the working directory '{cwd}' is invalid, it needs to be an absolute path")));
    }
    let mut namespaces = vec![json!({"type": "pid"}), json!({"type": "ipc"}), json!({"type": "uts"}), json!({"type": "mount"})];
    if o.network == NetworkMode::None {
        namespaces.push(json!({"type": "network"}));
    }
    let sys_ro = if o.privileged { "rw" } else { "ro" };
    let v = json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": o.tty,
            "user": {"uid": o.user.uid, "gid": o.user.gid, "additionalGids": o.user.additional_gids},
            "args": args,
            "env": environment(image, o),
            "cwd": cwd,
            "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
            "noNewPrivileges": false,
        },
        "root": {"path": o.rootfs, "readonly": o.read_only},
        "hostname": o.hostname,
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", sys_ro]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", sys_ro]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=67108864"]}
        ],
        "linux": {
            "namespaces": namespaces,
            "cgroupsPath": o.cgroups_path,
            "maskedPaths": if o.privileged { json!([]) } else { json!(MASKED_PATHS) },
            "readonlyPaths": if o.privileged { json!([]) } else { json!(READONLY_PATHS) },
            "resources": {"devices": [{"allow": o.privileged, "access": "rwm"}]},
        }
    });
    let mut v = v;
    // --privileged turns seccomp off, as in docker.
    let profile = match (&o.seccomp, o.privileged) {
        (_, true) | (Seccomp::Unconfined, _) => None,
        (Seccomp::Default, false) => Some(super::seccomp::default_profile(&caps)),
        (Seccomp::Profile(p), false) => Some(p.clone()),
    };
    if let Some(p) = profile {
        v["linux"]["seccomp"] = p;
    }
    serde_json::from_value::<Spec>(v).map_err(|e| EngineError::InvalidArgument(format!("container spec: {e}")))
}

/// A JSON view, for tests and `inspect`-style output.
pub fn to_value(spec: &Spec) -> Value {
    serde_json::to_value(spec).expect("json")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> ContainerConfig {
        ContainerConfig {
            entrypoint: entrypoint.map(|e| e.iter().map(|s| s.to_string()).collect()),
            cmd: cmd.map(|e| e.iter().map(|s| s.to_string()).collect()),
            env: Some(vec!["PATH=/custom/bin".into(), "LANG=C.UTF-8".into()]),
            working_dir: Some("/srv".into()),
            ..Default::default()
        }
    }

    fn opts() -> RunOptions {
        RunOptions {
            hostname: "abc123".into(),
            rootfs: "/r".into(),
            cgroups_path: "/doca/abc".into(),
            user: ExecUser { home: "/root".into(), ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn entrypoint_and_cmd_combine_as_docker_does() {
        let img = image(Some(&["/entry"]), Some(&["default-arg"]));
        let s = |cmd: &[&str], ep: Option<&[&str]>| {
            let o = RunOptions {
                cmd: cmd.iter().map(|s| s.to_string()).collect(),
                entrypoint: ep.map(|e| e.iter().map(|s| s.to_string()).collect()),
                ..opts()
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
        assert_eq!(command(&ContainerConfig::default(), &opts()).unwrap_err().to_string(), "No command specified");
    }

    #[test]
    fn environment_layers_as_docker_does() {
        let o = RunOptions { env: vec!["LANG=fr".into(), "EXTRA=1".into()], tty: true, ..opts() };
        let env = environment(&image(None, Some(&["sh"])), &o);
        assert_eq!(env, ["PATH=/custom/bin", "HOSTNAME=abc123", "TERM=xterm", "LANG=fr", "EXTRA=1", "HOME=/root"]);
        let env = environment(&ContainerConfig::default(), &opts());
        assert!(env.contains(&DEFAULT_PATH.to_string()));
    }

    #[test]
    fn spec_has_dockers_defaults() {
        let spec = to_value(&oci_spec(&image(None, Some(&["sh"])), &opts()).unwrap());
        assert_eq!(spec["process"]["cwd"], "/srv");
        assert_eq!(spec["process"]["capabilities"]["bounding"].as_array().unwrap().len(), 14);
        assert_eq!(spec["linux"]["maskedPaths"].as_array().unwrap().len(), MASKED_PATHS.len());
        assert!(spec["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n["type"] == "network"));
        assert_eq!(spec["root"]["readonly"], false);
        let priv_spec = to_value(
            &oci_spec(&image(None, Some(&["sh"])), &RunOptions { privileged: true, network: NetworkMode::Host, ..opts() }).unwrap(),
        );
        assert_eq!(priv_spec["process"]["capabilities"]["bounding"].as_array().unwrap().len(), caps_all().len());
        assert!(priv_spec["linux"]["maskedPaths"].as_array().unwrap().is_empty());
        assert!(!priv_spec["linux"]["namespaces"].as_array().unwrap().iter().any(|n| n["type"] == "network"));
        let dropped = to_value(
            &oci_spec(
                &image(None, Some(&["sh"])),
                &RunOptions { cap_drop: vec!["net_raw".into()], cap_add: vec!["SYS_ADMIN".into()], ..opts() },
            )
            .unwrap(),
        );
        let b: Vec<&str> = dropped["process"]["capabilities"]["bounding"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert!(b.contains(&"CAP_SYS_ADMIN") && !b.contains(&"CAP_NET_RAW"));
        assert!(oci_spec(&image(None, Some(&["sh"])), &RunOptions { cap_add: vec!["BOGUS".into()], ..opts() })
            .unwrap_err()
            .to_string()
            .contains("invalid capability: CAP_BOGUS"));
        assert!(oci_spec(&image(None, Some(&["sh"])), &RunOptions { working_dir: Some("rel".into()), ..opts() }).is_err());
        assert_eq!(spec["linux"]["seccomp"]["defaultAction"], "SCMP_ACT_ERRNO");
        assert!(priv_spec["linux"]["seccomp"].is_null(), "--privileged keeps seccomp off");
        let unconfined = to_value(&oci_spec(&image(None, Some(&["sh"])), &RunOptions { seccomp: Seccomp::Unconfined, ..opts() }).unwrap());
        assert!(unconfined["linux"]["seccomp"].is_null());
    }
}
