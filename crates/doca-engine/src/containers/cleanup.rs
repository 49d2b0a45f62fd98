//! What happens when a container's process has exited: its monitor runs
//! `doca container cleanup ID` (the shim's exit command). The exit status is recorded, the
//! writable layer unmounted, an `--rm` container removed, and the restart policy applied.

use super::record::{RestartPolicy, Status};
use super::start::StartContainer;
use crate::{Engine, EngineError};
use std::time::Duration;

/// docker's restart back-off: 100 ms, doubling, at most a minute.
fn backoff(restarts: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << restarts.min(10))).min(Duration::from_secs(60))
}

impl Engine {
    pub fn cleanup_container(&mut self, name: &str) -> Result<(), EngineError> {
        self.cleanup_exited(name, true)
    }

    /// `runtime`: whether leftover runtime state is this call's to delete (not when the
    /// monitor is deleting it at the same time).
    pub(crate) fn cleanup_exited(&mut self, name: &str, runtime: bool) -> Result<(), EngineError> {
        // Reading the container applies the exit file to its record. A container already gone
        // (removed by whoever cleaned up first) has nothing left to do.
        let c = match self.container(name) {
            Ok(c) => c,
            Err(crate::EngineError::NoSuchContainer(_)) => return Ok(()),
            Err(e) => return Err(e),
        };
        if c.state.status.is_live() {
            return Ok(());
        }
        self.unmount_container(&c.id)?;
        self.release_resources(&c)?;
        if c.state.oom_killed {
            self.container_event(&c, "oom", &[]);
        }
        self.container_event(&c, "die", &[("exitCode", &c.state.exit_code.to_string())]);
        if c.config.auto_remove {
            self.delete_container_files(&c, runtime)?;
            // `--rm` takes the anonymous volumes along, never the named ones (docker's rule).
            return self.remove_anonymous_volumes(&c);
        }
        let restart = !c.state.stopped_by_user
            && match c.config.restart {
                RestartPolicy::No => false,
                RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
                RestartPolicy::OnFailure { max_retries } => {
                    c.state.exit_code != 0 && (max_retries == 0 || c.state.restart_count < max_retries)
                }
            };
        if !restart {
            return Ok(());
        }
        let mut c = c;
        c.state.status = Status::Restarting;
        self.save_state(&c)?;
        std::thread::sleep(backoff(c.state.restart_count));
        // A stop or rm during the back-off wins.
        let Ok(mut now) = self.container(c.id.as_str()) else { return Ok(()) };
        if now.state.stopped_by_user || now.state.status != Status::Restarting {
            if now.state.status == Status::Restarting {
                now.state.status = Status::Exited;
                self.save_state(&now)?;
            }
            return Ok(());
        }
        now.state.restart_count += 1;
        self.save_state(&now)?;
        // Restarting until the start says otherwise: no reader sees it "exited" in between.
        if let Err(e) = self.start_container(c.id.as_str(), &StartContainer::default()) {
            let mut failed = self.container(c.id.as_str())?;
            failed.state.status = Status::Exited;
            self.save_state(&failed)?;
            return Err(e);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn backoff_doubles_up_to_a_minute() {
        use super::backoff;
        assert_eq!(backoff(0).as_millis(), 100);
        assert_eq!(backoff(3).as_millis(), 800);
        assert_eq!(backoff(30).as_secs(), 60);
    }
}
