//! What the engine tells the shim, and what the shim leaves behind.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The shim's whole configuration: written by the engine as `shim.json` in the container's run
/// directory, passed as the shim's only argument.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShimConfig {
    /// The runtime's container id.
    pub id: String,
    /// The OCI bundle (config.json; the rootfs path inside it is absolute).
    pub bundle: PathBuf,
    /// A runc-compatible executable (doca-runc, runc, crun) and its `--root`.
    pub runtime: PathBuf,
    pub runtime_root: PathBuf,
    /// process.terminal: the runtime hands the pty master over a console socket.
    pub tty: bool,
    /// Keep the container's stdin open for attach clients (`-i`); otherwise it is /dev/null.
    pub stdin: bool,
    /// Close the container's stdin when the first attach client that wrote to it detaches
    /// (docker's StdinOnce, set by `run -i`).
    pub stdin_once: bool,
    pub log: Option<LogConfig>,
    /// Where the runtime's own errors go (`--log`, JSON lines), read back when create fails.
    pub runtime_log: PathBuf,
    pub pid_file: PathBuf,
    pub attach_socket: PathBuf,
    pub exit_file: PathBuf,
    /// A cgroup file with an `oom_kill N` line (v1 memory.oom_control, v2 memory.events): a
    /// count that grew while the container ran means the kernel killed it for memory.
    pub oom_file: Option<PathBuf>,
    /// Run after the exit file is written and before attach clients hear the exit code, so that
    /// what they read next (the engine's state) already says the container exited.
    pub exit_command: Vec<String>,
    pub health: Option<HealthConfig>,
    /// The embedded DNS server of user-defined networks.
    #[serde(default)]
    pub dns: Option<DnsConfig>,
    /// Write debug lines to the monitor's log (the engine runs at debug level), and run the
    /// runtime with `--debug`.
    #[serde(default)]
    pub debug: bool,
    /// Published ports relayed from `[::]` to the container (docker-proxy's IPv6 side).
    #[serde(default)]
    pub proxies: Vec<ProxyConfig>,
}

/// One published port's relay: `[::]:port` → `target` (the container's address).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProxyConfig {
    /// "tcp" or "udp".
    pub proto: String,
    pub port: u16,
    pub target: String,
    /// The socket to relay from, inherited from the engine (rootless: one the port helper made
    /// on the host's network, `hostports`); else the monitor binds `[::]:port`, IPv6 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fd: Option<i32>,
}

/// 127.0.0.11:53 inside the container's network namespace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DnsConfig {
    /// The pinned namespace file.
    pub netns: PathBuf,
    /// A file naming, a path a line, the records files ("NAME IP" lines) of the container's
    /// networks; rewritten when it joins or leaves one.
    pub records_list: PathBuf,
    /// The host's resolvers ("IP:53"), reached from the host's namespace.
    pub upstream: Vec<String>,
}

/// A HEALTHCHECK: the process to exec (a runtime process.json), its timing in milliseconds,
/// and where Docker's Health object is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HealthConfig {
    pub process_file: PathBuf,
    pub state_file: PathBuf,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    pub start_period_ms: u64,
    pub retries: u32,
}

/// Docker's json-file log driver: `<id>-json.log`, rotated to `.1`, `.2`, ... at `max_size`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogConfig {
    pub path: PathBuf,
    /// Bytes; 0 means never rotate.
    pub max_size: u64,
    /// Files kept, the current one included (docker's max-file, at least 1).
    pub max_files: u32,
}

/// Written atomically to `exit_file` when the container's init has exited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// The process's exit code, or 128 + the signal that killed it (a shell's convention, and
    /// docker's: 137 after SIGKILL).
    pub exit_code: i32,
    pub oom_killed: bool,
    /// RFC 3339 with nanoseconds, UTC.
    pub finished_at: String,
}

impl ShimConfig {
    pub fn load(path: &std::path::Path) -> Result<ShimConfig, crate::ShimError> {
        let bytes = std::fs::read(path).map_err(|source| crate::ShimError::Config { path: path.into(), source })?;
        serde_json::from_slice(&bytes).map_err(|source| crate::ShimError::BadConfig { path: path.into(), source })
    }
}

pub(crate) fn rfc3339_now() -> String {
    let now = time::OffsetDateTime::now_utc();
    // Docker's timestamps: always nine fractional digits, 'Z'.
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        now.year(),
        now.month() as u8,
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        now.nanosecond()
    )
}
