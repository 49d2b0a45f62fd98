//! The runtime's error type. Messages name the object (container id, path, spec field) and
//! match runc's where callers parse them (executable lookup, "container ... does not exist").

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("container \"{0}\" does not exist")]
    NotFound(String),
    #[error("invalid container id {0:?}: use 1-1024 characters of [A-Za-z0-9_+.-]")]
    BadId(String),
    #[error("invalid config.json: {0}")]
    Spec(String),
    #[error("{op} {path}: {source}")]
    Io { op: &'static str, path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Sys(String),
    #[error("cannot {op} container {id}: it is {status}")]
    State { op: &'static str, id: String, status: String },
    /// The container's init failed before it could run the process; `code` is what runc's
    /// callers expect (127 executable not found, 126 cannot execute, 1 otherwise).
    #[error("{message}")]
    Init { message: String, code: i32 },
    #[error("{0} is not supported: {1}")]
    Unsupported(String, String),
}

impl RuntimeError {
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> RuntimeError {
        let path = path.into();
        move |source| RuntimeError::Io { op, path, source }
    }

    /// Maps a failed system call to an error naming what was being done.
    pub fn sys(what: impl Into<String>) -> impl FnOnce(nix::Error) -> RuntimeError {
        let what = what.into();
        move |e| RuntimeError::Sys(format!("{what}: {}", e.desc().to_lowercase()))
    }

    /// The exit code runc gives this failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            RuntimeError::Init { code, .. } => *code,
            _ => 1,
        }
    }
}

impl From<nix::Error> for RuntimeError {
    fn from(e: nix::Error) -> Self {
        RuntimeError::Sys(e.desc().to_lowercase())
    }
}

pub type Result<T, E = RuntimeError> = std::result::Result<T, E>;
