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

/// A container's process starts with no signal blocked and every signal at its default
/// action, whatever its callers had: execve(2) keeps the blocked mask and ignored signals, an
/// engine's CLI blocks the signals it forwards (signalfd), and Rust programs ignore SIGPIPE. A
/// process started with SIGTERM blocked cannot be stopped, one with SIGALRM blocked never
/// times out. runc's init does the same before it execs.
pub fn reset_for_exec() {
    let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
    // rt_sigaction(2) itself: glibc's signal() refuses the two real-time signals it keeps for
    // threads (32, 33), which its own startup leaves ignored.
    // SAFETY: a zeroed sigaction is SIG_DFL with no flags; the kernel copies it.
    let dfl: libc::sigaction = unsafe { std::mem::zeroed() };
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: restores the default disposition; no handler code is involved. 8 is the
            // kernel's sigset size on Linux.
            unsafe {
                libc::syscall(libc::SYS_rt_sigaction, sig, &dfl as *const libc::sigaction, std::ptr::null_mut::<libc::sigaction>(), 8usize)
            };
        }
    }
}
