//! A container as the engine keeps it: its id and name, what it was created with
//! ([`CreateContainer`], stored as given) and its lifecycle state, one row in the store.

pub use super::config::{CreateContainer, Resources, RestartPolicy};
use crate::{Engine, EngineError};
use doca_store::{ContainerRow, Digest};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::PathBuf;

/// A container id: 64 lowercase hex digits, shown by its first 12.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ContainerId(String);

impl ContainerId {
    /// 32 random bytes, as docker's stringid.GenerateRandomID.
    pub fn random() -> Result<ContainerId, EngineError> {
        let b = random_bytes::<32>()?;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        // Docker avoids ids whose short form is all digits (they read as numbers).
        if hex[..12].bytes().all(|c| c.is_ascii_digit()) {
            return ContainerId::random();
        }
        Ok(ContainerId(hex))
    }

    /// A full id (64 lowercase hex digits), as found in a path the store named after it.
    pub fn parse(s: &str) -> Result<ContainerId, EngineError> {
        if s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(ContainerId(s.to_string()))
        } else {
            Err(EngineError::InvalidArgument(format!("{s:?} is not a container id")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], EngineError> {
    use std::io::Read;
    let mut b = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .map_err(|e| EngineError::Internal(format!("read /dev/urandom: {e}")))?;
    Ok(b)
}

/// docker's container states (State.Status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Restarting => "restarting",
            Status::Removing => "removing",
            Status::Exited => "exited",
            Status::Dead => "dead",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        [Status::Created, Status::Running, Status::Paused, Status::Restarting, Status::Removing, Status::Exited, Status::Dead]
            .into_iter()
            .find(|x| x.as_str() == s)
    }

    /// A process exists for it (running, paused, or between restarts with a monitor).
    pub fn is_live(&self) -> bool {
        matches!(self, Status::Running | Status::Paused)
    }
}

/// Docker's zero time, what an unstarted container reports as StartedAt.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ContainerState {
    pub status: Status,
    pub pid: i32,
    pub exit_code: i32,
    pub oom_killed: bool,
    pub error: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub restart_count: u32,
    /// Stopped by `stop`/`kill`/`rm -f`: restart policies other than `on-failure` leave it down.
    pub stopped_by_user: bool,
    /// The runtime this instance was started with (path) and its state root.
    pub runtime: Option<PathBuf>,
    pub runtime_root: Option<PathBuf>,
    /// The monitor of the running instance.
    pub monitor: Option<MonitorId>,
    /// Its init (the container's pid 1 on the host), by pid and start time: `cp` reaches the
    /// container's filesystem through it and must never mistake a recycled pid for it.
    pub init: Option<MonitorId>,
    /// Its monitor vanished without recording an exit (killed, or the host rebooted): the
    /// exit code is 255 and `doca system boot` restarts it under `on-failure` too.
    pub interrupted: bool,
}

/// A process by pid and start time (/proc/PID/stat field 22), so that a recycled pid is
/// never taken for the monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonitorId {
    pub pid: i32,
    pub start_time: u64,
}

impl MonitorId {
    pub fn of(pid: i32) -> Option<MonitorId> {
        Some(MonitorId { pid, start_time: start_time(pid)? })
    }

    pub fn alive(&self) -> bool {
        start_time(self.pid) == Some(self.start_time)
    }
}

/// proc(5): the 22nd field of /proc/PID/stat, after the parenthesized command name (which
/// may itself contain spaces and parentheses). A zombie (state Z or X) is not running: the
/// monitor's parent is whatever reaps orphans here, and may be slow to.
fn start_time(pid: i32) -> Option<u64> {
    if pid <= 0 {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 2..].split(' ');
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

#[derive(Debug, Clone)]
pub struct Container {
    pub id: ContainerId,
    pub name: String,
    pub image_id: Digest,
    pub created: String,
    pub config: CreateContainer,
    pub state: ContainerState,
}

impl Container {
    pub(crate) fn from_row(row: ContainerRow) -> Result<Container, EngineError> {
        let bad = |what: &str, e: serde_json::Error| EngineError::Internal(format!("container {}: stored {what}: {e}", row.id));
        Ok(Container {
            config: serde_json::from_str(&row.config).map_err(|e| bad("config", e))?,
            state: serde_json::from_str(&row.state).map_err(|e| bad("state", e))?,
            id: ContainerId(row.id.clone()),
            name: row.name,
            image_id: row.image_id,
            created: row.created,
        })
    }

    pub(crate) fn to_row(&self) -> ContainerRow {
        ContainerRow {
            id: self.id.0.clone(),
            name: self.name.clone(),
            image_id: self.image_id.clone(),
            created: self.created.clone(),
            config: serde_json::to_string(&self.config).expect("json"),
            state: serde_json::to_string(&self.state).expect("json"),
        }
    }
}

/// `[a-zA-Z0-9][a-zA-Z0-9_.-]+`: docker's rule for container and local volume names.
pub(crate) fn is_docker_name(name: &str) -> bool {
    name.len() > 1
        && name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// docker's rule for names (daemon/names/names.go).
pub fn validate_name(name: &str) -> Result<(), EngineError> {
    if is_docker_name(name) {
        Ok(())
    } else {
        Err(EngineError::InvalidArgument(format!("Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")))
    }
}

/// Where a container's files are.
pub struct ContainerPaths {
    /// `<root>/containers/<id>`: the bundle (config.json), the log, the writable layer.
    pub dir: PathBuf,
    /// `<run_root>/containers/<id>`: the shim's socket, config and exit status.
    pub run: PathBuf,
}

impl ContainerPaths {
    pub fn log(&self, id: &ContainerId) -> PathBuf {
        self.dir.join(format!("{id}-json.log"))
    }
    pub fn merged(&self) -> PathBuf {
        self.dir.join("merged")
    }
    pub fn attach(&self) -> PathBuf {
        self.run.join("attach")
    }
    pub fn exit_file(&self) -> PathBuf {
        self.run.join("exit.json")
    }
    pub fn health(&self) -> PathBuf {
        self.run.join("health.json")
    }
}

impl Engine {
    /// The container's lock (`<run_root>/locks/<id>`): held by `start`, `rm` and a copy into a
    /// stopped container, the operations that mount, unmount or delete its rootfs, so that
    /// concurrent ones run one after the other (one `start` wins; the others find it running).
    /// Whoever takes it reads the record again: what it found before may be gone.
    pub(crate) fn lock_container(&self, id: &ContainerId) -> Result<doca_store::lock::StoreLock, EngineError> {
        let dir = self.config().run_root.join("locks");
        crate::private_dir(&dir)?;
        let path = dir.join(id.as_str());
        doca_store::lock::StoreLock::acquire(&path, doca_store::lock::LockMode::Exclusive).map_err(EngineError::io("lock", &path))
    }

    /// Removes the lock file of a deleted container. A process still waiting on it then finds
    /// no record and says so.
    pub(crate) fn forget_container_lock(&self, id: &ContainerId) {
        let _ = std::fs::remove_file(self.config().run_root.join("locks").join(id.as_str()));
    }

    pub fn container_paths(&self, id: &ContainerId) -> ContainerPaths {
        ContainerPaths {
            dir: self.config().root.join("containers").join(id.as_str()),
            run: self.config().run_root.join("containers").join(id.as_str()),
        }
    }

    /// Finds a container as docker does: full id, then exact name (with or without the leading
    /// '/'), then a unique id prefix.
    pub fn container(&mut self, input: &str) -> Result<Container, EngineError> {
        let not_found = || EngineError::NoSuchContainer(input.to_string());
        let name = input.strip_prefix('/').unwrap_or(input);
        if name.is_empty() {
            return Err(not_found());
        }
        let row = self.store.db.read(|tx| {
            if let Some(r) = tx.container(name)? {
                return Ok(Ok(r));
            }
            if let Some(r) = tx.container_by_name(name)? {
                return Ok(Ok(r));
            }
            if !name.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Ok(Err(not_found()));
            }
            let mut found = tx.containers_by_prefix(name)?;
            Ok(match found.len() {
                0 => Err(not_found()),
                1 => Ok(found.remove(0)),
                _ => Err(EngineError::AmbiguousContainer(name.to_string())),
            })
        })??;
        let mut c = Container::from_row(row)?;
        self.refresh(&mut c)?;
        Ok(c)
    }

    /// Every container, oldest first, with current states.
    pub fn containers(&mut self) -> Result<Vec<Container>, EngineError> {
        let rows = self.store.db.read(|tx| tx.containers())?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut c = Container::from_row(r)?;
            self.refresh(&mut c)?;
            out.push(c);
        }
        Ok(out)
    }

    /// `doca rename`.
    pub fn rename_container(&mut self, name: &str, new_name: &str) -> Result<(), EngineError> {
        let c = self.container(name)?;
        let new_name = new_name.strip_prefix('/').unwrap_or(new_name);
        validate_name(new_name)?;
        if c.name == new_name {
            return Err(EngineError::InvalidArgument("Renaming a container with the same name as its current name".into()));
        }
        if !self.store.db.write(|tx| tx.rename_container(c.id.as_str(), new_name))? {
            let holder = self.store.db.read(|tx| tx.container_by_name(new_name))?.map(|r| r.id).unwrap_or_default();
            return Err(EngineError::NameInUse { name: new_name.to_string(), id: holder });
        }
        let mut renamed = c.clone();
        renamed.name = new_name.to_string();
        self.container_event(&renamed, "rename", &[("oldName", &format!("/{}", c.name))]);
        Ok(())
    }

    pub(crate) fn save_config(&mut self, c: &Container) -> Result<(), EngineError> {
        let config = serde_json::to_string(&c.config).expect("json");
        self.store.db.write(|tx| tx.set_container_config(c.id.as_str(), &config))?;
        Ok(())
    }

    pub(crate) fn save_state(&mut self, c: &Container) -> Result<(), EngineError> {
        let state = serde_json::to_string(&c.state).expect("json");
        self.store.db.write(|tx| tx.set_container_state(c.id.as_str(), &state))?;
        Ok(())
    }

    /// A running container whose monitor has written its exit status but whose exit command
    /// did not record it (killed, failed): the record catches up here.
    fn refresh(&mut self, c: &mut Container) -> Result<(), EngineError> {
        if !c.state.status.is_live() {
            return Ok(());
        }
        let paths = self.container_paths(&c.id);
        if let Some(exit) = read_exit(&paths.exit_file()) {
            c.state.apply_exit(&exit);
            self.save_state(c)?;
        } else if c.state.monitor.is_some_and(|m| !m.alive()) {
            // Its monitor is gone and no exit was written: it was killed, or the host went
            // down. Whatever is left of the container goes, and the record says so (docker
            // reports such containers as exited with 255).
            if let Ok(rt) = self.runtime_of(c) {
                if rt.root.join(c.id.as_str()).exists() {
                    let _ = rt.delete_force(c.id.as_str());
                }
            }
            let _ = self.unmount_container(&c.id);
            let _ = self.release_resources(c);
            c.state.status = Status::Exited;
            c.state.pid = 0;
            c.state.exit_code = 255;
            c.state.interrupted = true;
            c.state.error = "the container's monitor exited unexpectedly".into();
            c.state.finished_at = Some(doca_image::config::rfc3339_nano(crate::now()));
            c.state.monitor = None;
            c.state.init = None;
            self.save_state(c)?;
            self.container_event(c, "die", &[("exitCode", "255")]);
        }
        Ok(())
    }
}

pub(crate) fn read_exit(path: &std::path::Path) -> Option<doca_shim::ExitStatus> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

impl ContainerState {
    pub(crate) fn apply_exit(&mut self, exit: &doca_shim::ExitStatus) {
        self.status = Status::Exited;
        self.pid = 0;
        self.monitor = None;
        self.init = None;
        self.exit_code = exit.exit_code;
        self.oom_killed = exit.oom_killed;
        self.finished_at = Some(exit.finished_at.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_policies_parse_as_docker() {
        assert_eq!(RestartPolicy::parse("no").unwrap(), RestartPolicy::No);
        assert_eq!(RestartPolicy::parse("on-failure:3").unwrap(), RestartPolicy::OnFailure { max_retries: 3 });
        assert_eq!(RestartPolicy::parse("unless-stopped").unwrap(), RestartPolicy::UnlessStopped);
        assert!(RestartPolicy::parse("always:2").unwrap_err().to_string().contains("maximum retry count"));
        assert!(RestartPolicy::parse("sometimes").is_err());
        assert_eq!(serde_json::to_value(RestartPolicy::OnFailure { max_retries: 2 }).unwrap()["MaximumRetryCount"], 2);
    }

    #[test]
    fn monitors_are_known_by_pid_and_start_time() {
        let me = MonitorId::of(std::process::id() as i32).unwrap();
        assert!(me.alive());
        assert!(!MonitorId { start_time: me.start_time + 1, ..me }.alive(), "a recycled pid is not the monitor");
        assert!(MonitorId::of(0).is_none());
    }

    #[test]
    fn names_and_ids() {
        assert!(validate_name("web_1.a-b").is_ok());
        assert!(validate_name("-web").is_err());
        assert!(validate_name("a").is_err());
        assert!(validate_name("we b").is_err());
        let id = ContainerId::random().unwrap();
        assert_eq!(id.as_str().len(), 64);
        assert_ne!(id, ContainerId::random().unwrap());
    }
}
