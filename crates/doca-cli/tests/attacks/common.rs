//! What the attacks share: a store with busybox, containers under the test's cgroup parent,
//! and the programs an attack runs inside a container (static, compiled from C here).

use doca_testkit::ContainerEnv;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub struct Env(pub ContainerEnv);

impl std::ops::Deref for Env {
    type Target = ContainerEnv;
    fn deref(&self) -> &ContainerEnv {
        &self.0
    }
}

impl Env {
    pub fn new() -> Env {
        Env(ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-attack"))
    }

    /// `doca run ARGS` with this test's cgroup parent; asserts success, returns stdout trimmed.
    pub fn run_ok(&self, args: &[&str]) -> String {
        self.t.ok(&self.args("run", args)).trim().to_string()
    }

    /// Polls `doca logs ID` until `done` holds (at most `secs`), returning the last logs.
    pub fn logs_until(&self, id: &str, secs: u64, done: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let o = self.t.run(&["logs", id]);
            let logs = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            if done(&logs) || Instant::now() > end {
                return logs;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A directory of the test's own holding `program`, to bind into a container read-only.
    pub fn tools(&self, programs: &[(&str, &Path)]) -> PathBuf {
        let dir = self.t.path("tools");
        std::fs::create_dir_all(&dir).unwrap();
        for (name, p) in programs {
            std::fs::copy(p, dir.join(name)).unwrap();
        }
        dir
    }
}

/// doca-runc as built beside the doca under test.
pub fn runc() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_doca")).with_file_name("doca-runc")
}

pub fn sha256_file(p: &Path) -> String {
    doca_testkit::sha256_hex(&std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())))
}
