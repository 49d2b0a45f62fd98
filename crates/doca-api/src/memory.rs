//! Keeping an idle server small. Streams hold blocking threads while they last, and glibc gives
//! each thread that allocates an arena of its own, whose freed pages it keeps: after a burst of
//! 200 clients the idle server held five times its starting memory. Two arenas at most, and the
//! free pages handed back when the server goes idle (mallopt(3), malloc_trim(3)).
#![allow(unsafe_code)]

/// At startup, before any thread exists.
pub fn limit_arenas() {
    // SAFETY: mallopt(3) takes two ints and changes only malloc's tuning.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// When no connection is open: gives free heap pages back to the kernel.
pub fn trim() {
    // SAFETY: malloc_trim(3) takes a pad size and only releases free memory.
    unsafe {
        libc::malloc_trim(0);
    }
}
