//! `doca exec`: a new process in a running container, as the runtime's `exec` runs it. The
//! process starts from the container's own (its environment, user, capabilities), changed by
//! the request, as dockerd's exec does.

use super::record::Status;
use super::start::resolve_user_in;
use crate::{Engine, EngineError};
use oci_spec::runtime::{Process, Spec};
use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, Clone, Default)]
pub struct ExecContainer {
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub tty: bool,
    pub privileged: bool,
    pub detach: bool,
    /// The user's terminal (rows, columns): the exec's pty is made with this size, so the
    /// process never sees an unsized terminal.
    pub console_size: Option<(u16, u16)>,
}

/// The runtime command to run, with its process file (removed when the plan is dropped).
pub struct ExecPlan {
    pub command: Command,
    /// What `command` executes (doca-runc's sealed view): alive until the plan is dropped.
    _program: doca_mount::RuntimeProgram,
    /// Where the runtime sends the pty master when `tty`: the caller listens here first.
    pub console_socket: Option<PathBuf>,
    process_file: PathBuf,
    /// The runtime's `--log` for this exec alone: an error there means the process never
    /// started (whatever the exit status says).
    runtime_log: PathBuf,
}

/// Where the runtime hands over the pty of a `-t` exec: listening before the runtime starts.
pub struct ConsoleListener(std::os::unix::net::UnixListener);

impl ConsoleListener {
    /// The pty master, once the runtime (process `runtime`) connects with it (runc's
    /// console-socket protocol); `None` when the runtime exits first, as it does when it cannot
    /// start the process.
    pub fn master(self, runtime: u32) -> Result<Option<std::fs::File>, EngineError> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        use std::os::fd::AsFd;
        let cannot = |e: std::io::Error| EngineError::StartFailed {
            message: format!("console socket: {e}"),
            cause: doca_shim::StartCause::CannotInvoke,
        };
        let pid = rustix::process::Pid::from_raw(i32::try_from(runtime).unwrap_or(i32::MAX))
            .ok_or_else(|| cannot(std::io::Error::from(std::io::ErrorKind::InvalidInput)))?;
        let pidfd = rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).map_err(|e| cannot(e.into()))?;
        loop {
            let mut fds = [PollFd::new(self.0.as_fd(), PollFlags::POLLIN), PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::NONE) {
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(cannot(e.into())),
                Ok(_) => {}
            }
            if fds[0].any().unwrap_or(false) {
                break;
            }
            if fds[1].any().unwrap_or(false) {
                return Ok(None);
            }
        }
        let (sock, _) = self.0.accept().map_err(cannot)?;
        Ok(Some(std::fs::File::from(doca_shim::fdpass::recv_fd(&sock).map_err(cannot)?)))
    }
}

impl ExecPlan {
    /// With `-t`: binds the console socket, which must happen before `command` runs.
    pub fn console(&self) -> Result<Option<ConsoleListener>, EngineError> {
        let Some(path) = &self.console_socket else { return Ok(None) };
        let l = doca_shim::proto::bind(path).map_err(|e| EngineError::StartFailed {
            message: format!("console socket {}: {e}", path.display()),
            cause: doca_shim::StartCause::CannotInvoke,
        })?;
        Ok(Some(ConsoleListener(l)))
    }

    /// After `command` ran: why the runtime could not start the process, if it could not
    /// (its `--log-format json` error line). A process that ran and exited with 126 or 127
    /// leaves no such line, so the two are never confused.
    pub fn start_failure(&self) -> Option<String> {
        let log = std::fs::read_to_string(&self.runtime_log).ok()?;
        log.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(|v| v["level"] == "error" || v["level"] == "fatal")
            .find_map(|v| v["msg"].as_str().map(str::to_string))
    }
}

impl Drop for ExecPlan {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.process_file);
        let _ = std::fs::remove_file(&self.runtime_log);
        if let Some(s) = &self.console_socket {
            let _ = std::fs::remove_file(s);
        }
    }
}

impl Engine {
    #[tracing::instrument(level = "debug", skip_all, fields(container = name), err(level = "debug"))]
    pub fn exec_container(&mut self, name: &str, req: &ExecContainer) -> Result<ExecPlan, EngineError> {
        let c = self.container(name)?;
        match c.state.status {
            Status::Running => {}
            Status::Paused => {
                return Err(EngineError::Conflict(format!("Container {} is paused, unpause the container before exec", c.id)))
            }
            _ => return Err(EngineError::Conflict(format!("Container {} is not running", c.id))),
        }
        if req.cmd.is_empty() {
            return Err(EngineError::InvalidArgument("No exec command specified".into()));
        }
        let paths = self.container_paths(&c.id);
        let bundle = paths.dir.join("config.json");
        let spec = Spec::load(&bundle).map_err(|e| EngineError::Internal(format!("read {}: {e}", bundle.display())))?;
        let mut p: Process = spec.process().clone().unwrap_or_default();
        p.set_args(Some(req.cmd.clone()));
        p.set_terminal(Some(req.tty));
        p.set_console_size(match (req.tty, req.console_size) {
            (true, Some((rows, cols))) => {
                oci_spec::runtime::BoxBuilder::default().height(u64::from(rows)).width(u64::from(cols)).build().ok()
            }
            _ => None,
        });
        let mut env = p.env().clone().unwrap_or_default();
        if req.tty && !env.iter().any(|e| e.starts_with("TERM=")) {
            env.push("TERM=xterm".into());
        }
        super::spec::merge_env(&mut env, &req.env);
        if let Some(u) = req.user.as_deref().filter(|u| !u.is_empty()) {
            let (passwd, group) = self.user_files(&c, &paths.merged());
            let user = resolve_user_in(passwd.as_deref(), group.as_deref(), u, &[])?;
            let mut ou = p.user().clone();
            ou.set_uid(user.uid);
            ou.set_gid(user.gid);
            ou.set_additional_gids(Some(user.additional_gids.clone()));
            p.set_user(ou);
            // HOME follows the exec's user, unless the request sets it.
            if !req.env.iter().any(|e| e.starts_with("HOME=")) {
                env.retain(|e| !e.starts_with("HOME="));
                env.push(format!("HOME={}", user.home));
            }
        }
        p.set_env(Some(env));
        if let Some(w) = req.working_dir.as_deref().filter(|w| !w.is_empty()) {
            if !w.starts_with('/') {
                return Err(EngineError::InvalidArgument(format!(
                    "the working directory '{w}' is invalid, it needs to be an absolute path"
                )));
            }
            p.set_cwd(w.into());
        }
        if req.privileged {
            let all = super::spec::all_capabilities();
            let mut caps = p.capabilities().clone().unwrap_or_default();
            caps.set_bounding(Some(all.clone()));
            caps.set_effective(Some(all.clone()));
            caps.set_permitted(Some(all));
            p.set_capabilities(Some(caps));
        }
        let nonce = super::record::ContainerId::random()?;
        let process_file = paths.run.join(format!("exec-{}.json", nonce.short()));
        std::fs::write(&process_file, serde_json::to_vec(&p).expect("json")).map_err(EngineError::io("write", &process_file))?;
        let console_socket = req.tty.then(|| paths.run.join(format!("exec-{}.sock", nonce.short())));
        let rt = self.runtime_of(&c)?;
        let runtime_log = paths.run.join(format!("exec-{}.log", nonce.short()));
        let rt = rt.logging_to(runtime_log.clone());
        let (command, program) = rt.exec_command(c.id.as_str(), &process_file, console_socket.as_deref(), req.detach);
        let cmdline = req.cmd.join(" ");
        self.container_event(&c, &format!("exec_create: {cmdline}"), &[]);
        self.container_event(&c, &format!("exec_start: {cmdline}"), &[]);
        Ok(ExecPlan { command, _program: program, console_socket, process_file, runtime_log })
    }
}
