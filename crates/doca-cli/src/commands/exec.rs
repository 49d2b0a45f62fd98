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
    if !a.interactive {
        plan.command.stdin(Stdio::null());
    }
    let listener = match &plan.console_socket {
        Some(path) => Some(doca_shim::proto::bind(path).map_err(|e| Failure::new(126, format!("console socket {}: {e}", path.display())))?),
        None => None,
    };
    if a.detach {
        plan.command.stdout(Stdio::null()).stderr(Stdio::piped());
    }
    let mut child = plan.command.spawn().map_err(|e| Failure::new(126, format!("run the runtime: {e}")))?;
    if let Some(l) = listener {
        let (sock, _) = l.accept().map_err(|e| Failure::new(126, format!("console socket: {e}")))?;
        let master = std::fs::File::from(doca_shim::fdpass::recv_fd(&sock).map_err(|e| Failure::new(126, format!("console socket: {e}")))?);
        proxy_pty(master, a.interactive);
    }
    let status = child.wait()?;
    let code = status.code().unwrap_or(128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0));
    super::run::exit_with(code)
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
