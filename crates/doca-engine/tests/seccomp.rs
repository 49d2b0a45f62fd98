//! The default profile on the real kernel: compiled by libseccomp (every name and rule must be
//! acceptable) and loaded in a child process, which then makes the syscalls Docker's profile
//! decides about.

use doca_engine::containers::spec::DEFAULT_CAPABILITIES;

#[test]
fn default_profile_denies_unshare_and_returns_enosys_for_clone3() {
    let caps: Vec<String> = DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
    let profile: oci_spec::runtime::LinuxSeccomp =
        serde_json::from_value(doca_engine::containers::seccomp::default_profile(&caps)).unwrap();
    let filter = doca_runtime::seccomp::compile(&profile).expect("libseccomp accepts the profile");
    // The mount attempt targets a directory of the test's own, never a host path that matters.
    let target = tempfile::tempdir().unwrap();
    let target_c = std::ffi::CString::new(target.path().to_str().unwrap()).unwrap();
    // SAFETY: the child only makes raw syscalls and exits; the test process stays unfiltered.
    match unsafe { libc::fork() } {
        0 => {
            // SAFETY: plain syscalls with harmless arguments.
            unsafe {
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
            }
            if doca_runtime::seccomp::load(&filter).is_err() {
                unsafe { libc::_exit(10) };
            }
            let errno = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
            let code = unsafe {
                if libc::getpid() <= 0 {
                    11
                } else if libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) != -1 || errno() != libc::ENOSYS {
                    12
                } else if libc::unshare(libc::CLONE_NEWNS) != -1 || errno() != libc::EPERM {
                    13
                } else if libc::syscall(libc::SYS_mount, c"none".as_ptr(), target_c.as_ptr(), c"tmpfs".as_ptr(), 0, 0) == 0 {
                    libc::umount2(target_c.as_ptr(), libc::MNT_DETACH);
                    14
                } else if errno() != libc::EPERM {
                    14
                } else {
                    0
                }
            };
            unsafe { libc::_exit(code) };
        }
        pid => {
            let mut status = 0;
            // SAFETY: waiting for our own child.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            assert!(libc::WIFEXITED(status), "child died: {status}");
            let code = libc::WEXITSTATUS(status);
            let what = [
                "ok",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "load failed",
                "getpid denied",
                "clone3 not ENOSYS",
                "unshare not EPERM",
                "mount not EPERM",
            ];
            assert_eq!(code, 0, "{}", what.get(code as usize).copied().unwrap_or("?"));
        }
    }
}
