//! Foreground `run` and `exec` pass the signals they get on to the container's process, as runc
//! does.

use std::sync::atomic::{AtomicI32, Ordering};

static TARGET: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = TARGET.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(pid, sig) };
    }
}

pub fn forward_to(pid: i32) {
    TARGET.store(pid, Ordering::Relaxed);
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2, libc::SIGWINCH] {
        // SAFETY: installs a handler that only calls an async-signal-safe function.
        unsafe { libc::signal(sig, forward as *const () as libc::sighandler_t) };
    }
}
