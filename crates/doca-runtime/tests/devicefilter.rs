//! The cgroup v2 device program on the real kernel: this host is a v1/v2 hybrid, and its
//! unified hierarchy (`/sys/fs/cgroup/unified`) is a real cgroup2 filesystem where device
//! programs attach and apply, so a child moved there meets the rules as a v2 container would.

use doca_runtime::devicefilter::{attach, Rule};
use doca_testkit::require_root;
use std::path::PathBuf;

fn unified() -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines().find(|l| l.contains(" - cgroup2 ")).and_then(|l| l.split(' ').nth(4)).map(PathBuf::from)
}

/// Opens each path in a child moved into `cgroup`; returns which opens worked.
fn opens_in(cgroup: &std::path::Path, tries: &[(&str, libc::c_int)]) -> Vec<bool> {
    let mut results = Vec::new();
    for (path, flags) in tries {
        let procs = cgroup.join("cgroup.procs");
        let path = std::ffi::CString::new(*path).unwrap();
        // SAFETY: the child only writes its pid, calls open(2) and _exit(2).
        match unsafe { libc::fork() } {
            0 => {
                let ok = std::fs::write(&procs, std::process::id().to_string()).is_ok();
                // SAFETY: a NUL-terminated path; the descriptor is left to _exit.
                let fd = unsafe { libc::open(path.as_ptr(), *flags) };
                // SAFETY: _exit ends the forked child without running the parent's destructors.
                unsafe {
                    libc::_exit(if !ok {
                        2
                    } else if fd >= 0 {
                        0
                    } else {
                        1
                    })
                };
            }
            pid => {
                let mut status = 0;
                // SAFETY: waits for the child forked above, into a local status.
                unsafe { libc::waitpid(pid, &mut status, 0) };
                let code = libc::WEXITSTATUS(status);
                assert_ne!(code, 2, "could not join {}", cgroup.display());
                results.push(code == 0);
            }
        }
    }
    results
}

#[test]
fn the_v2_device_program_allows_and_denies_as_the_rules_say() {
    require_root!();
    let Some(root) = unified() else {
        eprintln!("skipped: no cgroup2 mount");
        return;
    };
    let dir = root.join(format!("doca-devtest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = [
        Rule::from_spec(false, "a", None, None, "rwm"),
        Rule::from_spec(true, "c", Some(1), Some(3), "rwm"),
        Rule::from_spec(true, "c", Some(1), Some(5), "r"),
    ];
    let results = attach(&dir, &rules).map(|()| {
        opens_in(
            &dir,
            &[("/dev/null", libc::O_RDWR), ("/dev/zero", libc::O_RDONLY), ("/dev/zero", libc::O_WRONLY), ("/dev/full", libc::O_RDONLY)],
        )
    });
    let _ = std::fs::remove_dir(&dir);
    assert_eq!(results.unwrap(), vec![true, true, false, false], "null rw, zero r allowed; zero w, full denied");
}
