//! The terminal side of an attached container (`run`, `start -a`, `attach`): output to
//! stdout/stderr, the user's stdin to the container (raw mode under `-it`, detach keys),
//! terminal resizes, and signals forwarded to the container (`--sig-proxy`).

use crate::Failure;
use doca_engine::containers::{Attach, AttachEvent, AttachInput};
use doca_engine::{Engine, EngineConfig};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::termios;
use std::io::{Read, Write};
use std::os::fd::AsFd;

pub struct Pump {
    /// Copy the user's stdin to the container.
    pub stdin: bool,
    /// The container has a terminal.
    pub tty: bool,
    pub detach_keys: Vec<u8>,
    /// Forward the signals doca receives to the container.
    pub sig_proxy: bool,
    /// For the signal thread, which opens its own engine.
    pub engine: EngineConfig,
    pub container: String,
}

/// Restores the terminal when the pump ends, however it ends.
struct RawMode(Option<termios::Termios>);

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), termios::SetArg::TCSANOW, &t);
        }
    }
}

pub fn is_tty(fd: i32) -> bool {
    // SAFETY: isatty only inspects the descriptor.
    unsafe { libc::isatty(fd) == 1 }
}

pub fn terminal_size() -> Option<(u16, u16)> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    for fd in [1, 0, 2] {
        // SAFETY: TIOCGWINSZ writes one winsize to the pointer (tty_ioctl(4)).
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0 {
            return Some((ws.ws_row, ws.ws_col));
        }
    }
    None
}

/// Signals a foreground client forwards (docker's ForwardAllSignals leaves out SIGCHLD,
/// SIGPIPE, SIGURG and SIGWINCH, which concern the client itself).
const PROXIED: [Signal; 8] =
    [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP, Signal::SIGQUIT, Signal::SIGUSR1, Signal::SIGUSR2, Signal::SIGALRM, Signal::SIGCONT];

/// Blocks the signals the pump handles; call before any thread starts so that all inherit
/// the mask and only the signal thread receives them.
pub fn block_signals(p: &Pump) -> Option<SigSet> {
    let mut set = SigSet::empty();
    if p.tty {
        set.add(Signal::SIGWINCH);
    }
    if p.sig_proxy {
        for s in PROXIED {
            set.add(s);
        }
    }
    if !p.tty && !p.sig_proxy {
        return None;
    }
    let _ = set.thread_block();
    Some(set)
}

/// Runs until the container exits (`Ok(Some(code))`), the user detaches or the monitor goes
/// away (`Ok(None)`).
pub fn pump(p: Pump, signals: Option<SigSet>, attach: &mut Attach) -> Result<Option<i32>, Failure> {
    let mut input = attach.input()?;
    let raw = if p.tty && p.stdin && is_tty(0) {
        let saved = termios::tcgetattr(std::io::stdin().as_fd()).ok();
        if let Some(t) = &saved {
            let mut r = t.clone();
            termios::cfmakeraw(&mut r);
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), termios::SetArg::TCSANOW, &r);
        }
        RawMode(saved)
    } else {
        RawMode(None)
    };
    if p.tty {
        if let Some((rows, cols)) = terminal_size() {
            let _ = input.resize(rows, cols);
        }
    }
    let detached = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Some(signals) = signals {
        let mut resizer = attach.input()?;
        let (engine, container, tty) = (p.engine.clone(), p.container.clone(), p.tty);
        std::thread::spawn(move || loop {
            let Ok(sig) = signals.wait() else { return };
            if sig == Signal::SIGWINCH && tty {
                if let Some((rows, cols)) = terminal_size() {
                    let _ = resizer.resize(rows, cols);
                }
            } else if let Ok(mut e) = Engine::open(engine.clone()) {
                let _ = e.kill_container(&container, Some(sig.as_str()));
            }
        });
    }
    if p.stdin {
        let keys = if p.tty { p.detach_keys.clone() } else { Vec::new() };
        let detached = detached.clone();
        std::thread::spawn(move || copy_stdin(&mut input, &keys, &detached));
    }
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    let code = loop {
        match attach.next_event() {
            Ok(Some(AttachEvent::Stdout(b))) => {
                let _ = stdout.write_all(&b).and_then(|_| stdout.flush());
            }
            Ok(Some(AttachEvent::Stderr(b))) => {
                let _ = stderr.write_all(&b);
            }
            Ok(Some(AttachEvent::Exit(code))) => break Some(code),
            Ok(None) | Err(_) => break None,
        }
    };
    drop(raw);
    if detached.load(std::sync::atomic::Ordering::SeqCst) {
        // docker prints this after the detach keys, on a fresh line.
        eprintln!("\r");
        return Ok(None);
    }
    Ok(code)
}

fn copy_stdin(input: &mut AttachInput, keys: &[u8], detached: &std::sync::atomic::AtomicBool) {
    let mut stdin = std::io::stdin().lock();
    let mut buf = [0u8; 32 * 1024];
    let mut keys = doca_engine::containers::DetachKeys::with_keys(keys);
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => {
                let _ = input.close();
                return;
            }
            Ok(n) => n,
        };
        let (out, detach) = keys.feed(&buf[..n]);
        if detach {
            detached.store(true, std::sync::atomic::Ordering::SeqCst);
            let _ = input.write(&out);
            input.detach();
            return;
        }
        if !out.is_empty() && input.write(&out).is_err() {
            return;
        }
    }
}

/// SIGINT, SIGTERM or SIGHUP: `then` runs on a thread of its own (the signals blocked in every
/// other thread made after this call), then doca exits as a shell does on that signal.
pub fn on_interrupt(then: impl FnOnce() + Send + 'static) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for s in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        set.add(s);
    }
    if set.thread_block().is_err() {
        return;
    }
    std::thread::spawn(move || {
        if let Ok(sig) = set.wait() {
            then();
            std::process::exit(128 + sig as i32);
        }
    });
}
