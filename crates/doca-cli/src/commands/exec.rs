//! `doca exec`: the runtime's exec with doca's stdio, or with a pty whose master comes back
//! over a console socket and is copied to and from this terminal.

use super::attach_io::terminal_size;
use super::run_opts::env_list;
use crate::cli::ExecArgs;
use crate::{CmdResult, Failure};
use doca_engine::containers::ExecContainer;
use doca_engine::Engine;
use nix::sys::termios;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::process::Stdio;

pub fn run(e: &mut Engine, a: ExecArgs) -> CmdResult {
    let container = a.container_and_command[0].clone();
    let req = ExecContainer {
        cmd: a.container_and_command[1..].to_vec(),
        env: env_list(&a.env, &a.env_file)?,
        working_dir: a.workdir.clone(),
        user: a.user.clone(),
        tty: a.tty,
        privileged: a.privileged,
        detach: a.detach,
        console_size: if a.tty { terminal_size() } else { None },
    };
    let mut plan = e.exec_container(&container, &req)?;
    // Without -t the process gets pipes, never this command's own descriptors: a terminal
    // handed to a container process lets it type into the user's shell (TIOCSTI) or change
    // the terminal's settings. docker relays exec's streams the same way.
    let relay = !a.tty && !a.detach;
    plan.command.stdin(if a.interactive && !a.tty {
        Stdio::piped()
    } else if a.interactive {
        Stdio::inherit()
    } else {
        Stdio::null()
    });
    if relay {
        plan.command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let listener = plan.console().map_err(crate::exit::run_failure)?;
    if a.detach {
        plan.command.stdout(Stdio::null()).stderr(Stdio::piped());
    }
    let mut child = plan.command.spawn().map_err(|e| Failure::new(crate::exit::CANNOT_INVOKE, format!("run the runtime: {e}")))?;
    if let Some(l) = listener {
        if let Some(master) = l.master(child.id()).map_err(crate::exit::run_failure)? {
            proxy_pty(master, a.interactive);
        }
    }
    if relay {
        relay_pipes(&mut child)?;
    }
    let status = child.wait()?;
    // docker exits 126 for an exec whose process could not be started, found or not (the
    // runtime's error is already on stderr); `run` keeps 127 for a missing command.
    if plan.start_failure().is_some() {
        return super::run::exit_with(i32::from(crate::exit::CANNOT_INVOKE));
    }
    let code = status.code().unwrap_or(128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0));
    super::run::exit_with(code)
}

/// Copies this command's stdin to the runtime's and the runtime's stdout and stderr to ours,
/// until the runtime exits (the process has ended then); what is already in the pipes is
/// drained, what a background child of the process writes later is not waited for.
fn relay_pipes(child: &mut std::process::Child) -> Result<(), Failure> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::{FromRawFd, OwnedFd};
    if let Some(mut to) = child.stdin.take() {
        std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin().lock(), &mut to);
        });
    }
    let mut outs: Vec<(std::fs::File, Box<dyn Write>)> = Vec::new();
    if let Some(o) = child.stdout.take() {
        outs.push((std::fs::File::from(OwnedFd::from(o)), Box::new(std::io::stdout())));
    }
    if let Some(e) = child.stderr.take() {
        outs.push((std::fs::File::from(OwnedFd::from(e)), Box::new(std::io::stderr())));
    }
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) } as i32;
    if raw < 0 {
        return Err(Failure::new(crate::exit::CANNOT_INVOKE, format!("pidfd_open: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: `raw` is a descriptor pidfd_open just returned, owned by nothing else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut buf = vec![0u8; 32 * 1024];
    while !outs.is_empty() {
        let mut fds: Vec<PollFd> = outs.iter().map(|(f, _)| PollFd::new(f.as_fd(), PollFlags::POLLIN)).collect();
        fds.push(PollFd::new(pidfd.as_fd(), PollFlags::POLLIN));
        match poll(&mut fds, PollTimeout::NONE) {
            Ok(_) | Err(nix::Error::EINTR) => {}
            Err(e) => return Err(Failure::new(crate::exit::CANNOT_INVOKE, format!("poll: {e}"))),
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        let exited = ready[outs.len()];
        let mut keep = Vec::new();
        for ((mut f, mut to), ready) in outs.drain(..).zip(ready) {
            // Once the runtime is gone, take what is buffered without waiting for more.
            if exited {
                let _ = nix::fcntl::fcntl(&f, nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK));
            }
            let open = !(ready || exited)
                || loop {
                    match f.read(&mut buf) {
                        Ok(0) => break false,
                        Ok(n) if to.write_all(&buf[..n]).and_then(|_| to.flush()).is_err() => break false,
                        Ok(_) if !exited => break true,
                        Ok(_) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(_) => break false,
                    }
                };
            if open && !exited {
                keep.push((f, to));
            }
        }
        outs = keep;
    }
    Ok(())
}

/// Copies the user's terminal to the exec's pty and back until the process closes it.
/// Gives the exec's pty the user's terminal size.
fn resize(master: &std::fs::File) {
    if let Some((rows, cols)) = terminal_size() {
        let ws = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ reads one winsize from the pointer.
        unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(master), libc::TIOCSWINSZ, &ws) };
    }
}

fn proxy_pty(master: std::fs::File, interactive: bool) {
    // The terminal's size follows the user's window: SIGWINCH, blocked here before any thread
    // exists so that only the waiting thread takes it.
    let mut winch = nix::sys::signal::SigSet::empty();
    winch.add(nix::sys::signal::Signal::SIGWINCH);
    if winch.thread_block().is_ok() {
        if let Ok(m) = master.try_clone() {
            std::thread::spawn(move || {
                while winch.wait().is_ok() {
                    resize(&m);
                }
            });
        }
    }
    resize(&master);
    let saved = if interactive { termios::tcgetattr(std::io::stdin().as_fd()).ok() } else { None };
    if let Some(t) = &saved {
        let mut r = t.clone();
        termios::cfmakeraw(&mut r);
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), termios::SetArg::TCSANOW, &r);
    }
    if interactive {
        if let Ok(mut to_pty) = master.try_clone() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                let mut stdin = std::io::stdin().lock();
                while let Ok(n) = stdin.read(&mut buf) {
                    if n == 0 || to_pty.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    }
    let mut from = master;
    let mut out = std::io::stdout();
    let mut buf = [0u8; 32 * 1024];
    // The master reads EIO once the process and its children have closed the pty.
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 || out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
            break;
        }
    }
    if let Some(t) = saved {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), termios::SetArg::TCSANOW, &t);
    }
}
