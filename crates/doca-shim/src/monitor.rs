//! The monitor: creates the container through the runtime, then stays with it until its init
//! exits, moving output to the log and to attach clients and input from clients to the
//! container.

use crate::config::{rfc3339_now, ExitStatus, ShimConfig};
use crate::logfile::LogWriter;
use crate::proto::{self, FrameBuf};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// After the init has exited, output still in flight is read for at most this long: a process
/// that escaped the container's pid namespace (`--pid host`) may hold the pipes open forever.
const DRAIN: Duration = Duration::from_secs(2);

/// The container's output: two pipes, or one pty master.
enum Output {
    Pipes { out: Option<File>, err: Option<File> },
    Pty(Option<File>),
}

struct Client {
    sock: UnixStream,
    want: u8,
    frames: FrameBuf,
    wrote_stdin: bool,
}

pub struct Monitor {
    cfg: ShimConfig,
    pid: Pid,
    output: Output,
    /// The write side of the container's stdin (the pipe, or the pty master's dup).
    stdin: Option<File>,
    listener: UnixListener,
    signals: SignalFd,
    log: Option<LogWriter>,
    clients: Vec<Client>,
    /// Statuses of children that are not the init (health checks), for their waiter.
    reaped: crate::health::Reaped,
    stop_health: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// Why the shim could not create the container.
#[derive(Debug, thiserror::Error)]
pub enum ShimError {
    #[error("{what}: {source}")]
    Sys { what: String, source: std::io::Error },
    #[error("read {path}: {source}")]
    Config { path: std::path::PathBuf, source: std::io::Error },
    #[error("parse {path}: {source}")]
    BadConfig { path: std::path::PathBuf, source: serde_json::Error },
    #[error("{path}: not a pid: {text:?}")]
    BadPidFile { path: std::path::PathBuf, text: String },
    /// The runtime's `create` failed: its last error, and what its exit status says.
    #[error("{message}")]
    Runtime { message: String, cause: crate::StartCause },
}

impl ShimError {
    /// What the engine records: docker's cause for a runtime failure, else "other".
    pub fn cause(&self) -> crate::StartCause {
        match self {
            ShimError::Runtime { cause, .. } => *cause,
            _ => crate::StartCause::Other,
        }
    }
}

fn err<E: Into<std::io::Error>>(what: &str, e: E) -> ShimError {
    ShimError::Sys { what: what.to_string(), source: e.into() }
}

/// Creates the container and returns the monitor, with the container's init waiting for the
/// runtime's `start`.
pub fn start(cfg: ShimConfig) -> Result<Monitor, ShimError> {
    // The runtime's `create` forks the init and exits; as a child subreaper the shim inherits
    // the init and gets its exit status (prctl(2) PR_SET_CHILD_SUBREAPER).
    // SAFETY: plain prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(err("become a child subreaper", std::io::Error::last_os_error()));
    }
    let mut mask = SigSet::empty();
    mask.add(Signal::SIGCHLD);
    // Exactly SIGCHLD: whatever the caller had blocked (a CLI forwarding signals) must not
    // reach the runtime and the container through this process.
    mask.thread_set_mask().map_err(|e| err("block SIGCHLD", e))?;
    let signals = SignalFd::with_flags(&mask, SfdFlags::SFD_CLOEXEC | SfdFlags::SFD_NONBLOCK).map_err(|e| err("signalfd", e))?;

    let _ = std::fs::remove_file(&cfg.attach_socket);
    let listener = proto::bind(&cfg.attach_socket).map_err(|e| err(&format!("listen on {}", cfg.attach_socket.display()), e))?;

    // doca-runc from a sealed view of itself (it enters the container), held until it ran.
    let program = doca_mount::RuntimeProgram::new(&cfg.runtime, &cfg.runtime_root);
    let mut cmd = Command::new(program.path());
    cmd.arg("--root").arg(&cfg.runtime_root).arg("--log").arg(&cfg.runtime_log).args(["--log-format", "json"]);
    if cfg.debug {
        cmd.arg("--debug");
    }
    cmd.args(["create", "--bundle"]);
    cmd.arg(&cfg.bundle).arg("--pid-file").arg(&cfg.pid_file);
    let console = cfg.attach_socket.with_file_name("console.sock");
    // The runtime connects to the console socket by a path of its own: relative to the run
    // directory, its working directory, it is short whatever the run root's length.
    if let Some(dir) = cfg.attach_socket.parent() {
        cmd.current_dir(dir);
    }
    let console_listener;
    let mut stdin = None;
    let output;
    if cfg.tty {
        let _ = std::fs::remove_file(&console);
        console_listener = Some(proto::bind(&console).map_err(|e| err(&format!("listen on {}", console.display()), e))?);
        cmd.arg("--console-socket").arg("console.sock");
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        output = None;
    } else {
        console_listener = None;
        let (out_r, out_w) = pipe()?;
        let (err_r, err_w) = pipe()?;
        if cfg.stdin {
            let (in_r, in_w) = pipe()?;
            cmd.stdin(Stdio::from(in_r));
            stdin = Some(File::from(in_w));
        } else {
            cmd.stdin(Stdio::null());
        }
        // The write ends live only in the runtime (and so in the container): the shim sees end
        // of file when the last process holding them is gone.
        cmd.stdout(Stdio::from(out_w)).stderr(Stdio::from(err_w));
        output = Some(Output::Pipes { out: Some(File::from(out_r)), err: Some(File::from(err_r)) });
    }
    cmd.arg(&cfg.id);
    // The runtime log is the container's for its whole life (the engine's runtime commands
    // write there too): only what this create adds is its answer.
    let log_start = std::fs::metadata(&cfg.runtime_log).map(|m| m.len()).unwrap_or(0);
    let status = cmd.status().map_err(|e| err(&format!("run {}", cfg.runtime.display()), e))?;
    drop(cmd);
    if !status.success() {
        let message = runtime_error(&cfg, log_start).unwrap_or_else(|| format!("{} create exited with {status}", cfg.runtime.display()));
        let cause = crate::StartCause::of_runtime(status.code(), &message);
        return Err(ShimError::Runtime { message, cause });
    }
    let output = match (output, console_listener) {
        (Some(o), _) => o,
        (None, Some(l)) => {
            let (sock, _) = l.accept().map_err(|e| err("accept on the console socket", e))?;
            let master = crate::fdpass::recv_fd(&sock).map_err(|e| err("receive the pty master", e))?;
            let _ = std::fs::remove_file(&console);
            let master = File::from(master);
            stdin = Some(master.try_clone().map_err(|e| err("dup the pty master", e))?);
            Output::Pty(Some(master))
        }
        (None, None) => unreachable!("tty without a console socket"),
    };
    if !cfg.stdin {
        if let Output::Pty(_) = output {
            stdin = None;
        }
    }
    let pid_text = std::fs::read_to_string(&cfg.pid_file).map_err(|e| err(&format!("read {}", cfg.pid_file.display()), e))?;
    let pid =
        Pid::from_raw(pid_text.trim().parse().map_err(|_| ShimError::BadPidFile { path: cfg.pid_file.clone(), text: pid_text.clone() })?);
    crate::log::debug(|| format!("container {} created by {}: init pid {pid}", cfg.id, cfg.runtime.display()));
    let log = match &cfg.log {
        Some(l) => Some(LogWriter::open(l.clone()).map_err(|e| err(&format!("open {}", l.path.display()), e))?),
        None => None,
    };
    let reaped = crate::health::Reaped::default();
    let stop_health = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Some(d) = &cfg.dns {
        crate::dns::spawn(d.clone());
    }
    for p in &cfg.proxies {
        crate::proxy::spawn(p.clone());
    }
    if let Some(h) = &cfg.health {
        crate::health::spawn(
            h.clone(),
            (cfg.runtime.clone(), cfg.runtime_root.clone(), cfg.id.clone()),
            reaped.clone(),
            stop_health.clone(),
        );
    }
    Ok(Monitor { cfg, pid, output, stdin, listener, signals, log, clients: Vec::new(), reaped, stop_health })
}

fn pipe() -> Result<(OwnedFd, OwnedFd), ShimError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| err("pipe", e))
}

/// The runtime's last error message from its `--log` (JSON lines with a `msg`) after `from`.
fn runtime_error(cfg: &ShimConfig, from: u64) -> Option<String> {
    let text = std::fs::read(&cfg.runtime_log).ok()?;
    let text = String::from_utf8_lossy(text.get(from as usize..)?);
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| (v["level"] == "error" || v["level"] == "fatal").then(|| v["msg"].as_str().map(str::to_string)).flatten())
}

impl Monitor {
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Serves the container until its init exits, then records the exit; returns its code.
    pub fn run(mut self) -> i32 {
        let mut exited: Option<(WaitStatus, Instant)> = None;
        loop {
            if let Some((_, at)) = exited {
                if self.output_closed() || at.elapsed() >= DRAIN {
                    break;
                }
            }
            let timeout = match exited {
                Some((_, at)) => PollTimeout::try_from(DRAIN.saturating_sub(at.elapsed())).unwrap_or(PollTimeout::ZERO),
                None => PollTimeout::NONE,
            };
            let ready = {
                let mut fds =
                    vec![PollFd::new(self.signals.as_fd(), PollFlags::POLLIN), PollFd::new(self.listener.as_fd(), PollFlags::POLLIN)];
                let outputs = self.output_fds();
                for f in &outputs {
                    fds.push(PollFd::new(f.as_fd(), PollFlags::POLLIN));
                }
                for c in &self.clients {
                    fds.push(PollFd::new(c.sock.as_fd(), PollFlags::POLLIN));
                }
                match poll(&mut fds, timeout) {
                    Ok(_) | Err(nix::Error::EINTR) => {}
                    Err(e) => {
                        crate::log::error(format!("poll: {e}"));
                        break;
                    }
                }
                let hit = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
                let out: Vec<bool> = fds.iter().map(hit).collect();
                (out, outputs.len())
            };
            let (hits, n_out) = ready;
            if hits[0] {
                if let Some(status) = self.reap() {
                    exited = Some((status, Instant::now()));
                }
            }
            if hits[1] {
                if let Ok((sock, _)) = self.listener.accept() {
                    if let Some(c) = greet(sock) {
                        self.clients.push(c);
                    }
                }
            }
            for i in 0..n_out {
                if hits[2 + i] {
                    self.pump_output(i);
                }
            }
            // Clients are served in reverse so that removing one keeps the other indexes valid.
            for i in (0..hits.len() - 2 - n_out).rev() {
                if hits[2 + n_out + i] {
                    self.serve_client(i);
                }
            }
        }
        let status = exited.map(|(s, _)| s);
        self.finish(status)
    }

    fn output_fds(&self) -> Vec<&File> {
        match &self.output {
            Output::Pipes { out, err } => out.iter().chain(err.iter()).collect(),
            Output::Pty(m) => m.iter().collect(),
        }
    }

    fn output_closed(&self) -> bool {
        self.output_fds().is_empty()
    }

    /// Reaps every exited child; the init's status when it is among them.
    fn reap(&mut self) -> Option<WaitStatus> {
        while self.signals.read_signal().ok().flatten().is_some() {}
        let mut init = None;
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => return init,
                Ok(s) if s.pid() == Some(self.pid) && matches!(s, WaitStatus::Exited(..) | WaitStatus::Signaled(..)) => init = Some(s),
                Ok(s) => {
                    if let Some(p) = s.pid() {
                        let mut m = self.reaped.lock().expect("lock");
                        // Orphans that no one waits for (`--pid host`) must not pile up.
                        if m.len() > 256 {
                            m.clear();
                        }
                        m.insert(p.as_raw(), s);
                    }
                }
            }
        }
    }

    /// Reads what output index `i` has (stdout, stderr; or the pty).
    fn pump_output(&mut self, i: usize) {
        let (slot, stream) = match &mut self.output {
            Output::Pipes { out, err } => {
                if i == 0 && out.is_some() {
                    (out, 0)
                } else {
                    (err, 1)
                }
            }
            Output::Pty(m) => (m, 0),
        };
        let Some(f) = slot.as_mut() else { return };
        let mut buf = [0u8; 64 * 1024];
        let n = match f.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return,
            // A pty master reads EIO once no process holds the slave open.
            Err(_) => 0,
        };
        if n == 0 {
            *slot = None;
            return;
        }
        if let Some(log) = &mut self.log {
            if let Err(e) = log.write(stream, &buf[..n]) {
                crate::log::error(format!("write log: {e}"));
            }
        }
        let (kind, want) = if stream == 0 { (proto::STDOUT, proto::WANT_STDOUT) } else { (proto::STDERR, proto::WANT_STDERR) };
        // Blocking writes: a slow attach client slows the container's output, as docker's
        // attach does, rather than losing any of it.
        self.clients.retain_mut(|c| c.want & want == 0 || proto::write_frame(&mut c.sock, kind, &buf[..n]).is_ok());
    }

    fn serve_client(&mut self, i: usize) {
        let mut buf = [0u8; 64 * 1024];
        let n = match self.clients[i].sock.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => return,
            Err(_) => 0,
        };
        if n == 0 {
            let c = self.clients.remove(i);
            if c.wrote_stdin {
                self.client_stdin_done();
            }
            return;
        }
        self.clients[i].frames.push(&buf[..n]);
        loop {
            let frame = match self.clients[i].frames.pop() {
                Ok(Some(f)) => f,
                Ok(None) => return,
                Err(e) => {
                    crate::log::error(format!("attach client: {e}"));
                    self.clients.remove(i);
                    return;
                }
            };
            match frame {
                (proto::STDIN, data) if self.clients[i].want & proto::WANT_STDIN != 0 => {
                    self.clients[i].wrote_stdin = true;
                    if let Some(f) = &mut self.stdin {
                        if f.write_all(&data).is_err() {
                            self.stdin = None;
                        }
                    }
                }
                (proto::CLOSE_STDIN, _) => {
                    self.clients[i].wrote_stdin = false;
                    self.client_stdin_done();
                }
                (proto::RESIZE, p) if p.len() == 4 => self.resize(u16::from_be_bytes([p[0], p[1]]), u16::from_be_bytes([p[2], p[3]])),
                _ => {}
            }
        }
    }

    /// An attach client is done writing: with StdinOnce (`run -i`) the container's stdin closes,
    /// so that `echo x | doca run -i img cat` ends. A pty has no end of file to give; its stdin
    /// stays open.
    fn client_stdin_done(&mut self) {
        if self.cfg.stdin_once && matches!(self.output, Output::Pipes { .. }) {
            self.stdin = None;
        }
    }

    fn resize(&self, rows: u16, cols: u16) {
        if let Output::Pty(Some(m)) = &self.output {
            let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
            // SAFETY: TIOCSWINSZ reads one winsize from the pointer (tty_ioctl(4)).
            unsafe { libc::ioctl(m.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
        }
    }

    fn finish(mut self, status: Option<WaitStatus>) -> i32 {
        self.stop_health.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(log) = &mut self.log {
            let _ = log.flush_partial();
        }
        let exit_code = match status {
            Some(WaitStatus::Exited(_, c)) => c,
            Some(WaitStatus::Signaled(_, sig, _)) => 128 + sig as i32,
            _ => 255,
        };
        let oom_killed = self.cfg.oom_file.as_ref().is_some_and(|f| oom_kills(f) > 0);
        let exit = ExitStatus { exit_code, oom_killed, finished_at: rfc3339_now() };
        crate::log::debug(|| format!("container {} exited with {exit_code} (oom killed: {oom_killed})", self.cfg.id));
        if let Err(e) = write_atomic(&self.cfg.exit_file, &serde_json::to_vec(&exit).expect("json")) {
            crate::log::error(format!("write {}: {e}", self.cfg.exit_file.display()));
        }
        // The runtime's state and cgroup are the monitor's to delete. Without a cleaning
        // client that comes before the exit command, which may restart the container. A
        // cleaning client (the foreground `run`) hears the exit first and records it while the
        // runtime deletes, and leaves the runtime alone.
        let delete = || {
            let _ = Command::new(&self.cfg.runtime)
                .arg("--root")
                .arg(&self.cfg.runtime_root)
                .args(["delete", "--force", &self.cfg.id])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .status();
        };
        let cleaner = self.clients.iter().position(|c| c.want & proto::WANT_CLEANUP != 0);
        if cleaner.is_none() {
            delete();
            self.exit_command();
        }
        for c in &mut self.clients {
            let _ = proto::write_frame(&mut c.sock, proto::EXIT, &exit_code.to_be_bytes());
        }
        if cleaner.is_some() {
            delete();
        }
        if let Some(i) = cleaner {
            // The client's word, or its end (killed meanwhile): then the exit command runs.
            let c = &mut self.clients[i];
            let _ = c.sock.set_read_timeout(None);
            let cleaned = loop {
                match proto::read_frame(&mut c.sock) {
                    Ok(Some((proto::CLEANED, _))) => break true,
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break false,
                }
            };
            if !cleaned {
                self.exit_command();
            }
        }
        let _ = std::fs::remove_file(&self.cfg.attach_socket);
        exit_code
    }
}

/// Reads a new client's HELLO before anything else happens: output that arrives in the same
/// poll round must already know which streams the client wants (`run` attaches, then starts
/// the process, and must not miss its first line). A client has a second to say it.
fn greet(mut sock: UnixStream) -> Option<Client> {
    sock.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    let (kind, payload) = proto::read_frame(&mut sock).ok().flatten()?;
    sock.set_read_timeout(None).ok()?;
    (kind == proto::HELLO).then(|| Client {
        want: payload.first().copied().unwrap_or(0),
        sock,
        frames: FrameBuf::default(),
        wrote_stdin: false,
    })
}

impl Monitor {
    fn exit_command(&self) {
        if let Some((prog, args)) = self.cfg.exit_command.split_first() {
            match Command::new(prog).args(args).stdin(Stdio::null()).stdout(Stdio::null()).status() {
                Ok(s) if !s.success() => crate::log::error(format!("exit command {prog} exited with {s}")),
                Err(e) => crate::log::error(format!("run exit command {prog}: {e}")),
                Ok(_) => {}
            }
        }
    }
}

/// The `oom_kill N` count in a memory cgroup's oom_control (v1) or memory.events (v2).
fn oom_kills(path: &std::path::Path) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().find_map(|l| l.strip_prefix("oom_kill ")).and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

/// Written beside and renamed: a reader sees the whole status or none. Not fsynced: the run
/// root is volatile by design, and after a crash a missing status reads as "interrupted".
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    #[test]
    fn oom_kill_counts_from_v1_and_v2_files() {
        let t = tempfile::tempdir().unwrap();
        let v1 = t.path().join("memory.oom_control");
        std::fs::write(&v1, "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n").unwrap();
        assert_eq!(super::oom_kills(&v1), 2);
        let v2 = t.path().join("memory.events");
        std::fs::write(&v2, "low 0\nhigh 0\nmax 4\noom 1\noom_kill 0\n").unwrap();
        assert_eq!(super::oom_kills(&v2), 0);
        assert_eq!(super::oom_kills(&t.path().join("missing")), 0);
    }
}
