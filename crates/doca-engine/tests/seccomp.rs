//! The default profile on the real kernel: compiled by libseccomp (every name and rule must be
//! acceptable) and loaded in a child process, which then makes the syscalls Docker's profile
//! decides about. The child is this test binary run again (not a fork of the multi-threaded
//! test harness, where allocating after fork could deadlock).

use doca_engine::containers::spec::DEFAULT_CAPABILITIES;

const CHILD_ENV: &str = "DOCA_SECCOMP_TEST_CHILD";
const OUTCOMES: [&str; 6] = ["ok", "load failed", "getpid denied", "clone3 not ENOSYS", "unshare not EPERM", "mount not EPERM"];

#[test]
#[ignore = "helper: run in a child process by default_profile_denies_unshare_and_returns_enosys_for_clone3"]
fn seccomp_child() {
    let Ok(target) = std::env::var(CHILD_ENV) else { return };
    let caps: Vec<String> = DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect();
    let profile: oci_spec::runtime::LinuxSeccomp =
        serde_json::from_value(doca_engine::containers::seccomp::default_profile(&caps)).unwrap();
    let filter = doca_runtime::seccomp::prepare(&profile, None).expect("libseccomp accepts the profile");
    let target_c = std::ffi::CString::new(target).unwrap();
    let errno = || std::io::Error::last_os_error().raw_os_error().unwrap_or(0);
    // SAFETY: raw syscalls with harmless arguments, on this thread, which the filter covers.
    let code = unsafe {
        libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
        if doca_runtime::seccomp::load(&filter).is_err() {
            1
        } else if libc::getpid() <= 0 {
            2
        } else if libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0usize) != -1 || errno() != libc::ENOSYS {
            3
        } else if libc::unshare(libc::CLONE_NEWNS) != -1 || errno() != libc::EPERM {
            4
        } else if libc::syscall(libc::SYS_mount, c"none".as_ptr(), target_c.as_ptr(), c"tmpfs".as_ptr(), 0, 0) == 0 {
            // The target is the parent test's own temp dir, never a host path that matters.
            libc::umount2(target_c.as_ptr(), libc::MNT_DETACH);
            5
        } else if errno() != libc::EPERM {
            5
        } else {
            0
        }
    };
    std::process::exit(code);
}

#[test]
fn default_profile_denies_unshare_and_returns_enosys_for_clone3() {
    let target = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "seccomp_child", "--nocapture"])
        .env(CHILD_ENV, target.path())
        .status()
        .unwrap();
    let code = status.code().expect("child exited by signal");
    assert_eq!(code, 0, "{}", OUTCOMES.get(code as usize).copied().unwrap_or("child failed"));
}
