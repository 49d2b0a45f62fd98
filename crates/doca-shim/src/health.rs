//! Health checks (Docker's HEALTHCHECK): the monitor runs the check command in the container
//! through the runtime's `exec` every interval, and keeps Docker's Health object (status,
//! failing streak, the last five results) in a file the engine reads for `inspect` and `ps`.

use crate::config::{rfc3339_now, HealthConfig};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Docker keeps the last five results, each with at most 4 KiB of output.
const KEEP: usize = 5;
const MAX_OUTPUT: usize = 4096;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// Docker's `State.Health`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<HealthResult>,
}

impl Health {
    /// Applies one result as dockerd's health monitor does: success makes it healthy; a failure
    /// counts only after the start period, and `retries` of them in a row make it unhealthy.
    pub fn record(&mut self, r: HealthResult, in_start_period: bool, retries: u32) {
        if r.exit_code == 0 {
            self.status = "healthy".into();
            self.failing_streak = 0;
        } else if !in_start_period || self.status != "starting" {
            self.failing_streak += 1;
            if self.failing_streak >= retries.max(1) {
                self.status = "unhealthy".into();
            }
        }
        self.log.push(r);
        if self.log.len() > KEEP {
            self.log.remove(0);
        }
    }
}

/// Exit statuses the monitor's main loop reaped for children it does not know: the health
/// thread's checks are children of the monitor too.
pub type Reaped = Arc<Mutex<HashMap<i32, WaitStatus>>>;

pub fn spawn(cfg: HealthConfig, runtime: (std::path::PathBuf, std::path::PathBuf, String), reaped: Reaped, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let started = Instant::now();
        let mut health = Health { status: "starting".into(), ..Default::default() };
        save(&cfg, &health);
        loop {
            let next = Instant::now() + Duration::from_millis(cfg.interval_ms.max(1));
            while Instant::now() < next {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20).min(next.saturating_duration_since(Instant::now())));
            }
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let r = check(&cfg, &runtime, &reaped);
            if stop.load(Ordering::SeqCst) {
                return;
            }
            let in_start = started.elapsed() < Duration::from_millis(cfg.start_period_ms);
            health.record(r, in_start, cfg.retries);
            save(&cfg, &health);
        }
    });
}

fn save(cfg: &HealthConfig, h: &Health) {
    let tmp = cfg.state_file.with_extension("tmp");
    if std::fs::write(&tmp, serde_json::to_vec(h).expect("json")).is_ok() {
        let _ = std::fs::rename(&tmp, &cfg.state_file);
    }
}

/// Runs the check once: `runtime exec --process FILE ID`, output captured, killed at the
/// timeout (the process in the container by the pid the runtime wrote, then the runtime).
fn check(cfg: &HealthConfig, (runtime, root, id): &(std::path::PathBuf, std::path::PathBuf, String), reaped: &Reaped) -> HealthResult {
    let start = rfc3339_now();
    let pid_file = cfg.state_file.with_file_name("health.pid");
    let _ = std::fs::remove_file(&pid_file);
    // doca-runc from a sealed view of itself (it enters the container), held until spawned.
    let program = doca_mount::RuntimeProgram::new(runtime, root);
    let spawned = Command::new(program.path())
        .arg("--root")
        .arg(root)
        .arg("exec")
        .arg("--process")
        .arg(&cfg.process_file)
        .arg("--pid-file")
        .arg(&pid_file)
        .arg(id)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => return HealthResult { start, end: rfc3339_now(), exit_code: -1, output: format!("run the health check: {e}") },
    };
    let pid = child.id() as i32;
    // Output is read on its own threads so that a chatty check cannot block on a full pipe, and
    // only its first 4 KiB are kept (docker's limit): a check writing without end must not
    // grow the monitor, which no container limit bounds.
    let readers: Vec<_> = [
        child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut r| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut chunk = [0u8; 8192];
            loop {
                match r.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => kept.extend_from_slice(&chunk[..n.min(MAX_OUTPUT - kept.len())]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            kept
        })
    })
    .collect();
    let deadline = Instant::now() + Duration::from_millis(cfg.timeout_ms.max(1));
    let mut status = None;
    while status.is_none() {
        if let Some(s) = reaped.lock().expect("lock").remove(&pid) {
            status = Some(s);
            break;
        }
        match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(nix::Error::ECHILD) => {}
            Ok(s) => status = Some(s),
            Err(_) => {}
        }
        if status.is_none() {
            if Instant::now() >= deadline {
                if let Some(p) = std::fs::read_to_string(&pid_file).ok().and_then(|p| p.trim().parse::<i32>().ok()) {
                    let _ = nix::sys::signal::kill(Pid::from_raw(p), nix::sys::signal::Signal::SIGKILL);
                }
                let _ = nix::sys::signal::kill(Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
                for r in readers {
                    let _ = r.join();
                }
                return HealthResult {
                    start,
                    end: rfc3339_now(),
                    exit_code: -1,
                    output: format!("Health check exceeded timeout ({}ms)", cfg.timeout_ms),
                };
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    let mut output = Vec::new();
    for r in readers {
        output.extend(r.join().unwrap_or_default());
    }
    output.truncate(MAX_OUTPUT);
    let exit_code = match status {
        Some(WaitStatus::Exited(_, c)) => c,
        Some(WaitStatus::Signaled(_, s, _)) => 128 + s as i32,
        _ => -1,
    };
    HealthResult { start, end: rfc3339_now(), exit_code, output: String::from_utf8_lossy(&output).into_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(code: i32) -> HealthResult {
        HealthResult { exit_code: code, ..Default::default() }
    }

    #[test]
    fn status_follows_dockers_rules() {
        let mut h = Health { status: "starting".into(), ..Default::default() };
        h.record(res(1), true, 2);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 0), "failures in the start period do not count");
        h.record(res(1), false, 2);
        h.record(res(1), false, 2);
        assert_eq!((h.status.as_str(), h.failing_streak), ("unhealthy", 2));
        h.record(res(0), false, 2);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        for _ in 0..10 {
            h.record(res(0), false, 2);
        }
        assert_eq!(h.log.len(), KEEP);
    }
}
