//! `doca-shim <shim.json>`: started by the engine for each container start. Prints one JSON
//! line on stdout, a [`doca_shim::Reply`]: created, or why not; then serves the container in
//! the background until it exits.

use doca_shim::Reply;
use std::io::Write;
use std::os::fd::AsRawFd;

fn main() {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: doca-shim SHIM.JSON");
        std::process::exit(2);
    };
    // What the monitor writes (logs, exit status, health) is root's alone; the container's own
    // processes get their umask from the runtime (0022 unless the spec says otherwise).
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    let cfg = doca_shim::ShimConfig::load(std::path::Path::new(&path)).unwrap_or_else(|e| fail(&e));
    doca_shim::log::set_debug(cfg.debug);
    // The relays' inherited sockets are this monitor's alone: nothing it starts (the runtime,
    // health checks, the exit command) may hold a published port.
    for fd in cfg.proxies.iter().filter_map(|p| p.fd) {
        // SAFETY: the engine passed this descriptor open for this process (ProxyConfig::fd).
        let owned = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let _ = nix::fcntl::fcntl(owned, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC));
    }
    // Fork once so that the engine's wait for this process returns at once and the monitor is
    // reparented away from the engine; the new session leaves any terminal behind.
    // SAFETY: the process is single-threaded here.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Parent { .. }) => std::process::exit(0),
        Ok(nix::unistd::ForkResult::Child) => {}
        Err(e) => fail(&doca_shim::ShimError::Sys { what: "fork".into(), source: e.into() }),
    }
    let _ = nix::unistd::setsid();
    let monitor = doca_shim::monitor::start(cfg).unwrap_or_else(|e| fail(&e));
    say(&Reply::Created { pid: monitor.pid(), monitor: std::process::id() as i32 });
    // The engine may exit now: stdout leaves with it.
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 onto fd 1, which this process owns; no Rust object wraps it.
        unsafe { libc::dup2(null.as_raw_fd(), 1) };
    }
    std::process::exit(monitor.run());
}

fn say(reply: &Reply) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", serde_json::to_string(reply).expect("a reply serializes"));
    let _ = out.flush();
}

/// Tells the engine why the container could not be created.
fn fail(e: &doca_shim::ShimError) -> ! {
    say(&Reply::Failed { error: e.to_string(), cause: e.cause() });
    std::process::exit(1);
}
