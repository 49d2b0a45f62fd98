//! The store lock: ingest holds it shared, garbage collection exclusive. GC decides what is
//! garbage from the database, so it must not run while another process has written blobs or
//! snapshots that it has not yet recorded (the moment between ingest and commit).

use rustix::fs::{flock, FlockOperation};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

pub struct StoreLock {
    _file: File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockMode {
    Shared,
    Exclusive,
}

impl StoreLock {
    /// Lock files are doca's alone (0600, never through a symlink, owned by this user): any
    /// process that can open one can flock it, and hang every doca command behind it.
    pub fn acquire(path: &Path, mode: LockMode) -> io::Result<Self> {
        Self::take(path, mode, true).map(|l| l.expect("a blocking lock is taken"))
    }

    /// The lock if nobody holds it now, without waiting (whether its holder is still alive).
    pub fn try_acquire(path: &Path, mode: LockMode) -> io::Result<Option<Self>> {
        Self::take(path, mode, false)
    }

    fn take(path: &Path, mode: LockMode, wait: bool) -> io::Result<Option<Self>> {
        let file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(path)?;
        let m = file.metadata()?;
        if !m.is_file() || m.uid() != rustix::process::geteuid().as_raw() || m.mode() & 0o077 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} is not a private lock file of this user (uid {}, mode {:o}): refusing it",
                    path.display(),
                    m.uid(),
                    m.mode() & 0o7777
                ),
            ));
        }
        let op = match (mode, wait) {
            (LockMode::Shared, true) => FlockOperation::LockShared,
            (LockMode::Exclusive, true) => FlockOperation::LockExclusive,
            (LockMode::Shared, false) => FlockOperation::NonBlockingLockShared,
            (LockMode::Exclusive, false) => FlockOperation::NonBlockingLockExclusive,
        };
        // Said once when the lock is held by another process (at debug level only: the probe is
        // one more system call): a command that seems to hang is waiting here.
        if wait && tracing::enabled!(tracing::Level::DEBUG) {
            let probe = match mode {
                LockMode::Shared => FlockOperation::NonBlockingLockShared,
                LockMode::Exclusive => FlockOperation::NonBlockingLockExclusive,
            };
            match flock(&file, probe) {
                Ok(()) => return Ok(Some(StoreLock { _file: file })),
                Err(rustix::io::Errno::WOULDBLOCK) => tracing::debug!(lock = %path.display(), ?mode, "waiting for the lock"),
                Err(_) => {}
            }
        }
        loop {
            match flock(&file, op) {
                Ok(()) => return Ok(Some(StoreLock { _file: file })),
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::WOULDBLOCK) if !wait => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }
}
