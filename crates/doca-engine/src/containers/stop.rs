//! `doca stop`, `kill`, `pause`, `unpause`: signals and the freezer, through the runtime.

use super::attach::{Attach, AttachStreams};
use super::record::{Container, Status};
use super::runtime::{Helpers, OciRuntime};
use crate::{Engine, EngineError};
use std::time::Duration;

/// docker's default grace period before SIGKILL.
pub const DEFAULT_STOP_TIMEOUT: i64 = 10;

/// A signal as docker takes it ("TERM", "SIGTERM", "15"), normalized for the runtime.
pub fn parse_signal(s: &str) -> Result<String, EngineError> {
    let bad = || EngineError::InvalidArgument(format!("Invalid signal: {s}"));
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=64).contains(&n) { Ok(n.to_string()) } else { Err(bad()) };
    }
    let up = s.to_ascii_uppercase();
    let name = if up.starts_with("SIG") { up } else { format!("SIG{up}") };
    if name.starts_with("SIGRTMIN") || name.starts_with("SIGRTMAX") || name.parse::<nix::sys::signal::Signal>().is_ok() {
        Ok(name)
    } else {
        Err(bad())
    }
}

/// docker's events give the signal's number.
fn signal_number(sig: &str) -> String {
    sig.parse::<nix::sys::signal::Signal>().map(|s| (s as i32).to_string()).unwrap_or_else(|_| sig.to_string())
}

impl Engine {
    pub(crate) fn runtime_of(&self, c: &Container) -> Result<OciRuntime, EngineError> {
        let runtime = match (&c.state.runtime, &c.state.runtime_root) {
            (Some(b), Some(r)) => OciRuntime { binary: b.clone(), root: r.clone(), log: None },
            _ => OciRuntime::resolve(&c.config.runtime, &Helpers::locate()?, &self.config().run_root)?,
        };
        Ok(runtime.logging_to(self.container_paths(&c.id).run.join("runtime.log")))
    }

    fn not_running(c: &Container) -> EngineError {
        EngineError::Conflict(format!("Container {} is not running", c.id))
    }

    /// Waits for a live container's exit through its monitor; `None` on timeout or when the
    /// monitor went away without a word (the record then has the answer).
    pub(crate) fn wait_exit(&self, c: &Container, timeout: Option<Duration>) -> Result<Option<i32>, EngineError> {
        match Attach::connect(&self.container_paths(&c.id).attach(), AttachStreams::default()) {
            // A monitor that closes its socket while finishing resets connections it had not
            // accepted yet: it has exited, and its exit command has recorded the status.
            Ok(mut a) => Ok(a.wait(timeout).ok().flatten()),
            // No monitor: it has exited already (or never ran).
            Err(_) => Ok(Some(c.state.exit_code)),
        }
    }

    /// `doca stop`: the stop signal, then SIGKILL after the timeout. A container that is not
    /// running is not an error, as in docker.
    #[tracing::instrument(level = "debug", skip_all, fields(container = name), err(level = "debug"))]
    pub fn stop_container(&mut self, name: &str, timeout: Option<i64>, signal: Option<&str>) -> Result<Container, EngineError> {
        let mut c = self.container(name)?;
        if !c.state.status.is_live() {
            return Ok(c);
        }
        let image = self.image_config(&c.image_id)?.config.unwrap_or_default();
        let sig = parse_signal(signal.or(c.config.stop_signal.as_deref()).or(image.stop_signal.as_deref()).unwrap_or("SIGTERM"))?;
        let timeout = timeout.or(c.config.stop_timeout).unwrap_or(DEFAULT_STOP_TIMEOUT);
        c.state.stopped_by_user = true;
        self.save_state(&c)?;
        let rt = self.runtime_of(&c)?;
        let paused = c.state.status == Status::Paused;
        self.container_event(&c, "kill", &[("signal", &signal_number(&sig))]);
        if rt.kill(c.id.as_str(), &sig, false).is_ok() {
            if paused {
                // A frozen process cannot act on its signal (docker unpauses too).
                let _ = rt.resume(c.id.as_str());
            }
            let grace = if timeout < 0 { None } else { Some(Duration::from_secs(timeout as u64)) };
            if grace != Some(Duration::ZERO) && self.wait_exit(&c, grace)?.is_some() {
                self.container_event(&c, "stop", &[]);
                return self.container(name);
            }
        }
        self.container_event(&c, "kill", &[("signal", "9")]);
        let _ = rt.kill(c.id.as_str(), "SIGKILL", true);
        if paused {
            let _ = rt.resume(c.id.as_str());
        }
        self.wait_exit(&c, None)?;
        self.container_event(&c, "stop", &[]);
        self.container(c.id.as_str())
    }

    /// `doca kill`: one signal (SIGKILL by default).
    #[tracing::instrument(level = "debug", skip_all, fields(container = name, signal = ?signal), err(level = "debug"))]
    pub fn kill_container(&mut self, name: &str, signal: Option<&str>) -> Result<Container, EngineError> {
        let mut c = self.container(name)?;
        if !c.state.status.is_live() {
            return Err(EngineError::Conflict(format!("Cannot kill container: {}: {}", name, Self::not_running(&c))));
        }
        let sig = parse_signal(signal.unwrap_or("SIGKILL"))?;
        // A container killed by the user stays down whatever its restart policy (docker's
        // HasBeenManuallyStopped).
        c.state.stopped_by_user = true;
        self.save_state(&c)?;
        self.runtime_of(&c)?.kill(c.id.as_str(), &sig, false)?;
        self.container_event(&c, "kill", &[("signal", &signal_number(&sig))]);
        Ok(c)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(container = name), err(level = "debug"))]
    pub fn pause_container(&mut self, name: &str) -> Result<Container, EngineError> {
        let mut c = self.container(name)?;
        match c.state.status {
            Status::Running => {}
            Status::Paused => return Err(EngineError::Conflict(format!("Container {} is already paused", c.id))),
            _ => return Err(Self::not_running(&c)),
        }
        if let Some(why) = crate::rootless::no_cgroups() {
            return Err(EngineError::InvalidArgument(format!("cannot pause container {}: rootless, {why}", c.name)));
        }
        self.runtime_of(&c)?.pause(c.id.as_str())?;
        c.state.status = Status::Paused;
        self.save_state(&c)?;
        self.container_event(&c, "pause", &[]);
        Ok(c)
    }

    #[tracing::instrument(level = "debug", skip_all, fields(container = name), err(level = "debug"))]
    pub fn unpause_container(&mut self, name: &str) -> Result<Container, EngineError> {
        let mut c = self.container(name)?;
        if c.state.status != Status::Paused {
            return Err(EngineError::Conflict(format!("Container {} is not paused", c.id)));
        }
        self.runtime_of(&c)?.resume(c.id.as_str())?;
        c.state.status = Status::Running;
        self.save_state(&c)?;
        self.container_event(&c, "unpause", &[]);
        Ok(c)
    }

    /// `doca wait`: blocks until the container is not running, then its exit code.
    pub fn wait_container(&mut self, name: &str) -> Result<i32, EngineError> {
        let c = self.container(name)?;
        if !c.state.status.is_live() {
            return Ok(c.state.exit_code);
        }
        if let Some(code) = self.wait_exit(&c, None)? {
            return Ok(code);
        }
        // The monitor went away without a word: the record (or the exit file) has the answer.
        Ok(self.container(c.id.as_str()).map(|c| c.state.exit_code).unwrap_or(0))
    }
}

impl Engine {
    /// One round of a wait that its caller may give up (an API client that goes away): the
    /// exit code once the container is not running, `None` while it still runs after `timeout`.
    pub fn wait_container_for(&mut self, name: &str, timeout: Duration) -> Result<Option<i32>, EngineError> {
        let c = self.container(name)?;
        if !c.state.status.is_live() {
            return Ok(Some(c.state.exit_code));
        }
        if let Some(code) = self.wait_exit(&c, Some(timeout))? {
            return Ok(Some(code));
        }
        // Timed out, or the monitor went away: the record says which.
        let now = self.container(c.id.as_str())?;
        Ok((!now.state.status.is_live()).then_some(now.state.exit_code))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signals_parse_as_docker_takes_them() {
        use super::parse_signal;
        assert_eq!(parse_signal("term").unwrap(), "SIGTERM");
        assert_eq!(parse_signal("SIGKILL").unwrap(), "SIGKILL");
        assert_eq!(parse_signal("9").unwrap(), "9");
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), "SIGRTMIN+3");
        assert_eq!(parse_signal("BOGUS").unwrap_err().to_string(), "Invalid signal: BOGUS");
        assert!(parse_signal("0").is_err());
    }
}
