//! The default seccomp profile, equivalent to Docker's (moby profiles/seccomp/default.json):
//! EPERM for what is not listed, an allowlist of ordinary syscalls, privileged syscalls allowed
//! only with the capability that governs them, clone without namespace flags unless
//! CAP_SYS_ADMIN, and ENOSYS (not EPERM) for clone3 so that libcs fall back to clone.
//! Rules are resolved against the container's bounding set and the native architecture, as
//! dockerd resolves them, into a plain OCI profile.

use serde_json::{json, Value};

/// Syscalls every container may make.
const ALLOWED: &str = "accept accept4 access adjtimex alarm bind brk capget capset chdir chmod chown chown32 clock_adjtime clock_adjtime64 \
clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range \
creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old eventfd eventfd2 execve \
execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchown fchown32 fchownat fcntl \
fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 \
futex futex_time64 futex_waitv futimesat getcpu getcwd getdents getdents64 getegid getegid32 geteuid geteuid32 getgid getgid32 getgroups \
getgroups32 getitimer getpeername getpgid getpgrp getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit \
get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday getuid getuid32 getxattr inotify_add_watch \
inotify_init inotify_init1 inotify_rm_watch io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set \
io_setup io_submit io_uring_enter io_uring_register io_uring_setup ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self \
lchown lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier \
memfd_create memfd_secret mincore mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open \
mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync munlock munlockall \
munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free \
pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 \
read readahead readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename renameat renameat2 \
restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait \
rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam sched_get_priority_max sched_get_priority_min \
sched_getscheduler sched_rr_get_interval sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler \
sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 \
setfsuid setfsuid32 setgid setgid32 setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid \
setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt set_thread_area set_tid_address setuid setuid32 setxattr shmat \
shmctl shmdt shmget shutdown sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 statfs statfs64 \
statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun timer_gettime \
timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime timerfd_settime64 times tkill \
truncate truncate64 ugetrlimit umask uname unlink unlinkat utime utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write \
writev process_vm_readv process_vm_writev ptrace";

/// Allowed only with a capability: (syscalls, the capability).
const BY_CAPABILITY: &[(&str, &str)] = &[
    ("open_by_handle_at", "CAP_DAC_READ_SEARCH"),
    (
        "bpf clone clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount open_tree perf_event_open \
quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare",
        "CAP_SYS_ADMIN",
    ),
    ("reboot", "CAP_SYS_BOOT"),
    ("chroot", "CAP_SYS_CHROOT"),
    ("delete_module init_module finit_module", "CAP_SYS_MODULE"),
    ("acct", "CAP_SYS_PACCT"),
    ("kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev ptrace", "CAP_SYS_PTRACE"),
    ("iopl ioperm", "CAP_SYS_RAWIO"),
    ("settimeofday stime clock_settime clock_settime64", "CAP_SYS_TIME"),
    ("vhangup", "CAP_SYS_TTY_CONFIG"),
    ("get_mempolicy mbind set_mempolicy set_mempolicy_home_node", "CAP_SYS_NICE"),
    ("syslog", "CAP_SYSLOG"),
    ("bpf", "CAP_BPF"),
    ("perf_event_open", "CAP_PERFMON"),
];

/// Allowed on some architectures only (Go's GOARCH names, as Docker's profile uses them).
const BY_ARCH: &[(&str, &[&str])] = &[
    ("sync_file_range2 swapcontext", &["ppc64le"]),
    ("arm_fadvise64_64 arm_sync_file_range sync_file_range2 breakpoint cacheflush set_tls", &["arm", "arm64"]),
    ("arch_prctl", &["amd64", "x32"]),
    ("modify_ldt", &["amd64", "x32", "x86"]),
    ("s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr", &["s390", "s390x"]),
    ("riscv_flush_icache", &["riscv64"]),
];

/// CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone may not create namespaces
/// without CAP_SYS_ADMIN.
const CLONE_NAMESPACE_FLAGS: u64 = 0x7E02_0000;

/// personality(2) values the profile permits: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32,
/// and the query 0xffffffff.
const PERSONALITIES: [u64; 5] = [0, 8, 0x20000, 0x20008, 0xffff_ffff];

const AF_VSOCK: u64 = 40;

fn native() -> (&'static str, &'static [&'static str]) {
    match std::env::consts::ARCH {
        "x86_64" => ("amd64", &["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]),
        "aarch64" => ("arm64", &["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]),
        "x86" => ("386", &["SCMP_ARCH_X86"]),
        "riscv64" => ("riscv64", &["SCMP_ARCH_RISCV64"]),
        "s390x" => ("s390x", &["SCMP_ARCH_S390X", "SCMP_ARCH_S390"]),
        "powerpc64" => ("ppc64le", &["SCMP_ARCH_PPC64LE"]),
        other => (other, &[]),
    }
}

fn names(list: &str) -> Vec<&str> {
    list.split_whitespace().collect()
}

/// The profile for a container whose bounding set is `caps` (names like "CAP_SYS_ADMIN").
pub fn default_profile(caps: &[String]) -> Value {
    let has = |c: &str| caps.iter().any(|x| x == c);
    let (goarch, scmp_arches) = native();
    let mut rules = vec![json!({"names": names(ALLOWED), "action": "SCMP_ACT_ALLOW"})];
    rules.push(json!({"names": ["socket"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": AF_VSOCK, "op": "SCMP_CMP_NE"}]}));
    for p in PERSONALITIES {
        rules.push(json!({"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": p, "op": "SCMP_CMP_EQ"}]}));
    }
    for (list, arches) in BY_ARCH {
        if arches.contains(&goarch) {
            rules.push(json!({"names": names(list), "action": "SCMP_ACT_ALLOW"}));
        }
    }
    for (list, cap) in BY_CAPABILITY {
        if has(cap) {
            rules.push(json!({"names": names(list), "action": "SCMP_ACT_ALLOW"}));
        }
    }
    if !has("CAP_SYS_ADMIN") {
        // s390 passes clone's flags second.
        let index = if goarch.starts_with("s390") { 1 } else { 0 };
        rules.push(json!({"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": index, "value": CLONE_NAMESPACE_FLAGS, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}));
        // ENOSYS makes glibc fall back to clone(2), which the rule above can inspect.
        rules.push(json!({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}));
    }
    json!({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "architectures": scmp_arches, "syscalls": rules})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_for<'a>(p: &'a Value, name: &str) -> Vec<&'a Value> {
        p["syscalls"].as_array().unwrap().iter().filter(|r| r["names"].as_array().unwrap().iter().any(|n| n == name)).collect()
    }

    #[test]
    fn resolves_against_capabilities() {
        let default: Vec<String> = super::super::spec::DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
        let p = default_profile(&default);
        assert_eq!(p["defaultAction"], "SCMP_ACT_ERRNO");
        assert!(rule_for(&p, "read").iter().any(|r| r["action"] == "SCMP_ACT_ALLOW"));
        // No CAP_SYS_ADMIN: mount and unshare are not listed (EPERM by default), clone3 is ENOSYS,
        // clone is allowed only without namespace flags.
        assert!(rule_for(&p, "mount").is_empty() && rule_for(&p, "unshare").is_empty());
        assert_eq!(rule_for(&p, "clone3")[0]["errnoRet"], 38);
        assert_eq!(rule_for(&p, "clone")[0]["args"][0]["op"], "SCMP_CMP_MASKED_EQ");
        // chroot comes with CAP_SYS_CHROOT, which Docker's default set has.
        assert!(!rule_for(&p, "chroot").is_empty());
        // CAP_SYS_ADMIN: mount allowed, clone unrestricted, no ENOSYS for clone3.
        let mut admin = default.clone();
        admin.push("CAP_SYS_ADMIN".into());
        let p = default_profile(&admin);
        assert!(rule_for(&p, "mount").iter().any(|r| r["action"] == "SCMP_ACT_ALLOW"));
        assert!(rule_for(&p, "clone3").iter().all(|r| r["action"] == "SCMP_ACT_ALLOW"));
        if cfg!(target_arch = "x86_64") {
            assert!(!rule_for(&p, "arch_prctl").is_empty());
            assert_eq!(p["architectures"][0], "SCMP_ARCH_X86_64");
        }
    }
}
