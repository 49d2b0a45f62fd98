//! doca-init: the small init `--init` puts in a container as its PID 1, as docker's tini does.
//! It starts the command as its child, forwards every signal it gets to it, reaps every process
//! that ends up as its child (orphans of the container), and exits with the command's status
//! (128 + the signal when one killed it).
//!
//! It is bind-mounted into containers whatever their libc (busybox images have none), so it is
//! a static executable without any: no_std, raw system calls, its own `_start`. build.rs compiles
//! it with rustc directly (panic=abort, static, no PIE) and the engine embeds the result.
#![no_std]
#![no_main]

use core::arch::{asm, global_asm};

const SYS_WRITE: usize = 1;
const SYS_RT_SIGPROCMASK: usize = 14;
const SYS_FORK: usize = 57;
const SYS_EXECVE: usize = 59;
const SYS_WAIT4: usize = 61;
const SYS_KILL: usize = 62;
const SYS_RT_SIGTIMEDWAIT: usize = 128;
const SYS_EXIT_GROUP: usize = 231;

const SIG_BLOCK: usize = 0;
const SIG_SETMASK: usize = 2;
const SIGCHLD: isize = 17;
const WNOHANG: usize = 1;
const ENOENT: isize = 2;
const ENOTDIR: isize = 20;
const EACCES: isize = 13;

unsafe fn syscall4(n: usize, a: usize, b: usize, c: usize, d: usize) -> isize {
    let ret: isize;
    // SAFETY: the x86_64 system call convention (syscall(2)): number in rax, arguments in
    // rdi, rsi, rdx, r10; rcx and r11 are clobbered.
    asm!("syscall", inlateout("rax") n as isize => ret, in("rdi") a, in("rsi") b, in("rdx") c, in("r10") d,
         lateout("rcx") _, lateout("r11") _, options(nostack));
    ret
}

fn write_err(parts: &[&[u8]]) {
    for p in parts {
        unsafe { syscall4(SYS_WRITE, 2, p.as_ptr() as usize, p.len(), 0) };
    }
}

fn exit(code: i32) -> ! {
    unsafe { syscall4(SYS_EXIT_GROUP, code as usize, 0, 0, 0) };
    loop {}
}

unsafe fn cstr<'a>(p: *const u8) -> &'a [u8] {
    let mut n = 0;
    while *p.add(n) != 0 {
        n += 1;
    }
    core::slice::from_raw_parts(p, n)
}

/// execve(2) of `argv[0]`, searched in PATH as execvp(3) does when it has no '/'.
unsafe fn exec(argv: *const *const u8, envp: *const *const u8) -> ! {
    let name = cstr(*argv);
    if name.contains(&b'/') {
        let e = syscall4(SYS_EXECVE, *argv as usize, argv as usize, envp as usize, 0);
        write_err(&[b"doca-init: exec ", name, b": failed\n"]);
        exit(if -e == ENOENT { 127 } else { 126 });
    }
    let mut path: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    let mut e = envp;
    while !(*e).is_null() {
        let kv = cstr(*e);
        if kv.starts_with(b"PATH=") {
            path = &kv[5..];
        }
        e = e.add(1);
    }
    let mut denied = false;
    let mut buf = [0u8; 4096];
    for dir in path.split(|b| *b == b':') {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        if dir.len() + name.len() + 2 > buf.len() {
            continue;
        }
        buf[..dir.len()].copy_from_slice(dir);
        buf[dir.len()] = b'/';
        buf[dir.len() + 1..dir.len() + 1 + name.len()].copy_from_slice(name);
        buf[dir.len() + 1 + name.len()] = 0;
        let r = syscall4(SYS_EXECVE, buf.as_ptr() as usize, argv as usize, envp as usize, 0);
        if -r == EACCES {
            denied = true;
        } else if -r != ENOENT && -r != ENOTDIR {
            break;
        }
    }
    if denied {
        write_err(&[b"doca-init: exec ", name, b": permission denied\n"]);
        exit(126);
    }
    write_err(&[b"doca-init: exec ", name, b": executable file not found in $PATH\n"]);
    exit(127)
}

#[no_mangle]
unsafe extern "C" fn init_main(sp: *const usize) -> ! {
    let argc = *sp;
    let argv = sp.add(1) as *const *const u8;
    let envp = argv.add(argc + 1);
    let mut first = 1;
    if argc > 1 && cstr(*argv.add(1)) == b"--" {
        first = 2;
    }
    if first >= argc {
        write_err(&[b"doca-init: no command to run\n"]);
        exit(2);
    }
    // Every signal stays pending for sigtimedwait(2); blocked signals reach even a PID 1 that
    // has no handlers (pid_namespaces(7)). The child gets the original mask back.
    let all: u64 = !0;
    let mut old: u64 = 0;
    syscall4(SYS_RT_SIGPROCMASK, SIG_BLOCK, &all as *const u64 as usize, &mut old as *mut u64 as usize, 8);
    let child = syscall4(SYS_FORK, 0, 0, 0, 0);
    if child < 0 {
        write_err(&[b"doca-init: fork failed\n"]);
        exit(1);
    }
    if child == 0 {
        syscall4(SYS_RT_SIGPROCMASK, SIG_SETMASK, &old as *const u64 as usize, 0, 8);
        exec(argv.add(first), envp);
    }
    let timeout: [i64; 2] = [1, 0];
    let mut info = [0u8; 128];
    loop {
        let sig = syscall4(SYS_RT_SIGTIMEDWAIT, &all as *const u64 as usize, info.as_mut_ptr() as usize, timeout.as_ptr() as usize, 8);
        if sig > 0 && sig != SIGCHLD {
            syscall4(SYS_KILL, child as usize, sig as usize, 0, 0);
        }
        loop {
            let mut status: i32 = 0;
            let pid = syscall4(SYS_WAIT4, usize::MAX, &mut status as *mut i32 as usize, WNOHANG, 0);
            if pid <= 0 {
                break;
            }
            if pid == child {
                let code = if status & 0x7f == 0 { (status >> 8) & 0xff } else { 128 + (status & 0x7f) };
                exit(code);
            }
        }
    }
}

global_asm!(".globl _start", "_start:", "mov rdi, rsp", "and rsp, -16", "call init_main");

// Without libc, the few memory routines LLVM calls (for slice copies, zeroed arrays, the
// C-string scan) are defined here, with volatile accesses so that LLVM cannot turn the loops
// back into calls to themselves.
#[no_mangle]
unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    for i in 0..n {
        core::ptr::write_volatile(dst.add(i), core::ptr::read_volatile(src.add(i)));
    }
    dst
}

#[no_mangle]
unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) < (src as usize) {
        return memcpy(dst, src, n);
    }
    for i in (0..n).rev() {
        core::ptr::write_volatile(dst.add(i), core::ptr::read_volatile(src.add(i)));
    }
    dst
}

#[no_mangle]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    for i in 0..n {
        core::ptr::write_volatile(dst.add(i), c as u8);
    }
    dst
}

#[no_mangle]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        let (x, y) = (core::ptr::read_volatile(a.add(i)), core::ptr::read_volatile(b.add(i)));
        if x != y {
            return x as i32 - y as i32;
        }
    }
    0
}

#[no_mangle]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    memcmp(a, b, n)
}

#[no_mangle]
unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    while core::ptr::read_volatile(s.add(n)) != 0 {
        n += 1;
    }
    n
}

/// libcore is built with unwinding and names this symbol; with panic=abort it is never called.
#[no_mangle]
extern "C" fn rust_eh_personality() {}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    exit(255)
}
