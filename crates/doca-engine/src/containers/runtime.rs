//! The OCI runtime, always driven through runc's command line: doca's own `doca-runc` by
//! default, or any runc-compatible binary (`--runtime runc`, `--runtime crun`). The monitor must
//! outlive the `doca` command, so the runtime runs as a process either way; one code path for
//! all runtimes means doca's runtime is tested the way other engines use it.

use crate::EngineError;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// doca's helper executables, found next to the running `doca` (they are built and installed
/// together), else in PATH.
#[derive(Debug, Clone)]
pub struct Helpers {
    pub doca: PathBuf,
    pub shim: PathBuf,
    pub runc: PathBuf,
}

pub(crate) fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| std::env::split_paths(&p).map(|d| d.join(name)).find(|c| is_executable(c)))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

impl Helpers {
    pub fn locate() -> Result<Helpers, EngineError> {
        let doca = std::env::current_exe().map_err(|e| EngineError::Internal(format!("find the doca executable: {e}")))?;
        let dir = doca.parent().map(Path::to_path_buf).unwrap_or_default();
        let find = |name: &str| {
            let sibling = dir.join(name);
            if is_executable(&sibling) {
                return Ok(sibling);
            }
            find_in_path(name).ok_or_else(|| EngineError::MissingHelper { name: name.to_string(), beside: doca.clone() })
        };
        Ok(Helpers { shim: find("doca-shim")?, runc: find("doca-runc")?, doca: doca.clone() })
    }
}

/// One runc-compatible runtime and its state directory.
#[derive(Debug, Clone)]
pub struct OciRuntime {
    pub binary: PathBuf,
    pub root: PathBuf,
    /// runc's `--log` (JSON lines): where the runtime's errors for one container are kept,
    /// beside the monitor's `shim.log`.
    pub log: Option<PathBuf>,
}

impl OciRuntime {
    /// `name` as `--runtime` gives it: "doca" (or empty) for doca-runc, a path, or a name in
    /// PATH. Each runtime keeps its state under `<run_root>/runtime/<name>`.
    pub fn resolve(name: &str, helpers: &Helpers, run_root: &Path) -> Result<OciRuntime, EngineError> {
        let name = if name.is_empty() { "doca" } else { name };
        let binary = if name == "doca" {
            helpers.runc.clone()
        } else if name.contains('/') {
            PathBuf::from(name)
        } else {
            find_in_path(name).ok_or_else(|| EngineError::InvalidArgument(format!("unknown or invalid runtime name: {name}")))?
        };
        if !is_executable(&binary) {
            return Err(EngineError::InvalidArgument(format!("runtime {}: not an executable", binary.display())));
        }
        let key = binary.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "runtime".into());
        Ok(OciRuntime { binary, root: run_root.join("runtime").join(key), log: None })
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.binary);
        c.arg("--root").arg(&self.root).stdin(Stdio::null());
        if let Some(log) = &self.log {
            c.arg("--log").arg(log).args(["--log-format", "json"]);
        }
        // runc's --debug, when doca itself logs at debug.
        if tracing::enabled!(tracing::Level::DEBUG) {
            c.arg("--debug");
        }
        c
    }

    /// Runs one runtime command; its stderr becomes the error.
    fn run(&self, args: &[&str]) -> Result<(), EngineError> {
        self.output(args).map(|_| ())
    }

    /// Runs one runtime command and returns its stdout.
    fn output(&self, args: &[&str]) -> Result<Vec<u8>, EngineError> {
        let started = std::time::Instant::now();
        let out = self.command().args(args).output().map_err(EngineError::io("run", &self.binary))?;
        tracing::debug!(runtime = %self.binary.display(), ?args, status = %out.status, elapsed = ?started.elapsed(), "runtime command");
        if out.status.success() {
            return Ok(out.stdout);
        }
        let err = String::from_utf8_lossy(&out.stderr);
        tracing::debug!(stderr = %err.trim(), "runtime command failed");
        let msg = err.trim().lines().last().unwrap_or("").trim_start_matches("doca-runc: ").to_string();
        Err(EngineError::Runtime {
            runtime: self.binary.file_name().unwrap_or_default().to_string_lossy().into_owned(),
            command: args[0].to_string(),
            message: msg,
        })
    }

    /// The same runtime, keeping its errors in `log`.
    pub fn logging_to(self, log: PathBuf) -> OciRuntime {
        OciRuntime { log: Some(log), ..self }
    }

    pub fn start(&self, id: &str) -> Result<(), EngineError> {
        self.run(&["start", id])
    }

    pub fn kill(&self, id: &str, signal: &str, all: bool) -> Result<(), EngineError> {
        if all {
            self.run(&["kill", "--all", id, signal])
        } else {
            self.run(&["kill", id, signal])
        }
    }

    pub fn pause(&self, id: &str) -> Result<(), EngineError> {
        self.run(&["pause", id])
    }

    pub fn resume(&self, id: &str) -> Result<(), EngineError> {
        self.run(&["resume", id])
    }

    /// `ps`: the container's processes as ps(1) prints them with `ps_args` (`-ef` by default).
    pub fn ps(&self, id: &str, ps_args: &[String]) -> Result<String, EngineError> {
        let mut args = vec!["ps", id, "--"];
        args.extend(ps_args.iter().map(String::as_str));
        Ok(String::from_utf8_lossy(&self.output(&args)?).into_owned())
    }

    /// `events --stats`: one sample of the cgroup's figures (runc's stats JSON).
    pub fn stats(&self, id: &str) -> Result<RuntimeStats, EngineError> {
        let out = self.output(&["events", "--stats", id])?;
        let event: StatsEvent = serde_json::from_slice(&out).map_err(|e| EngineError::Internal(format!("runtime stats for {id}: {e}")))?;
        Ok(event.data)
    }

    /// `update` with runc's flags.
    pub fn update(&self, id: &str, flags: &[String]) -> Result<(), EngineError> {
        let mut args = vec!["update"];
        args.extend(flags.iter().map(String::as_str));
        args.push(id);
        self.run(&args)
    }

    pub fn delete_force(&self, id: &str) -> Result<(), EngineError> {
        self.run(&["delete", "--force", id])
    }

    /// `exec`, for the caller to run with its own stdio. doca-runc is started from a sealed
    /// view of itself: it enters the container, and would otherwise
    /// re-execute itself sealed first (~1.5 ms).
    /// (`doca_mount::RuntimeProgram`: keep it until the command is spawned)
    pub fn exec_command(
        &self,
        id: &str,
        process_json: &Path,
        tty_socket: Option<&Path>,
        detach: bool,
    ) -> (Command, doca_mount::RuntimeProgram) {
        let program = doca_mount::RuntimeProgram::new(&self.binary, &self.root);
        let mut c = Command::new(program.path());
        c.arg("--root").arg(&self.root).stdin(Stdio::null());
        if let Some(log) = &self.log {
            c.arg("--log").arg(log).args(["--log-format", "json"]);
        }
        c.stdin(Stdio::inherit());
        c.arg("exec").arg("--process").arg(process_json);
        if let Some(s) = tty_socket {
            // Relative to the runtime's working directory: short whatever the run root.
            if let (Some(dir), Some(name)) = (s.parent(), s.file_name()) {
                c.current_dir(dir).arg("--console-socket").arg(name);
            }
        }
        if detach {
            c.arg("--detach");
        }
        c.arg(id);
        (c, program)
    }
}

/// runc's `events --stats` line (runc's types/events.go): the figures doca reads; what a
/// runtime leaves out is zero.
#[derive(Debug, Default, serde::Deserialize)]
struct StatsEvent {
    #[serde(default)]
    data: RuntimeStats,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct RuntimeStats {
    pub cpu: RuntimeCpu,
    pub memory: RuntimeMemory,
    pub pids: RuntimePids,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct RuntimeCpu {
    pub usage: RuntimeCpuUsage,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct RuntimeCpuUsage {
    pub total: u64,
    pub percpu: Vec<u64>,
    pub kernel: u64,
    pub user: u64,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct RuntimeMemory {
    pub usage: RuntimeMemoryEntry,
    /// The cgroup's memory.stat, by name.
    pub raw: std::collections::BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct RuntimeMemoryEntry {
    pub limit: u64,
    pub usage: u64,
    pub max: u64,
    pub failcnt: u64,
}

#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default)]
pub struct RuntimePids {
    pub current: u64,
    pub limit: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runcs_stats_event_reads_with_what_it_leaves_out_as_zero() {
        let line = br#"{"type":"stats","id":"c1","data":{"cpu":{"usage":{"total":5,"percpu":[2,3]},"throttling":{}},"memory":{"usage":{"limit":9,"usage":4},"raw":{"cache":1}},"pids":{"current":2},"blkio":{}}}"#;
        let s: StatsEvent = serde_json::from_slice(line).unwrap();
        assert_eq!((s.data.cpu.usage.total, s.data.cpu.usage.percpu.len(), s.data.cpu.usage.kernel), (5, 2, 0));
        assert_eq!((s.data.memory.usage.usage, s.data.memory.usage.limit, s.data.memory.usage.max), (4, 9, 0));
        assert_eq!((s.data.pids.current, s.data.pids.limit, s.data.memory.raw["cache"]), (2, 0, 1));
    }
}
