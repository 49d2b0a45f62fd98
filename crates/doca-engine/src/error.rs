//! The engine's error, with a kind that each front maps once: to an HTTP status in the API, to
//! docker's exit code in the CLI.

use doca_image::archive::ArchiveError;
use doca_image::ReferenceError;
use doca_shim::StartCause;
use doca_store::{DbError, StoreError};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    /// The container's command could not be run: docker's 126 (cannot invoke) and 127 (not
    /// found) for `run`/`start`.
    CannotInvoke,
    CommandNotFound,
    InvalidArgument,
    /// What docker's CLI itself would refuse: an invalid argument that exits 125 from every
    /// command, not only from run.
    Usage,
    /// Untrusted input (an archive, a tarball) was refused.
    BadInput,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("No such container: {0}")]
    NoSuchContainer(String),
    #[error("get {0}: no such volume")]
    NoSuchVolume(String),
    #[error("network {0} not found")]
    NoSuchNetwork(String),
    #[error(transparent)]
    Net(#[from] doca_net::NetError),
    /// docker cp's message for a path missing in the container.
    #[error("No such container:path: {0}")]
    NoSuchPath(String),
    #[error("multiple containers found with provided prefix: {0}")]
    AmbiguousContainer(String),
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, id: String },
    /// A request docker's own CLI refuses before sending it (its exit 125 from any command).
    #[error("{0}")]
    Usage(String),
    /// A request that the container's state does not allow (docker's 409s).
    #[error("{0}")]
    Conflict(String),
    /// The runtime could not start the container's process, and why (docker's 127, 126, 128).
    #[error("{message}")]
    StartFailed { message: String, cause: StartCause },
    /// A file or directory of the engine's own could not be used: what was done, and where.
    #[error("{op} {}: {source}", path.display())]
    Io { op: &'static str, path: PathBuf, source: std::io::Error },
    /// A runtime command failed: the runtime, its command and its last words.
    #[error("{runtime} {command}: {message}")]
    Runtime { runtime: String, command: String, message: String },
    /// A helper executable (doca-shim, doca-runc) is not installed where doca looks.
    #[error("{name} not found next to {} or in PATH", beside.display())]
    MissingHelper { name: String, beside: PathBuf },
    /// A broken invariant (a record gone while held, a kernel object missing): a bug or a
    /// host changed under doca.
    #[error("{0}")]
    Internal(String),
    #[error("multiple IDs found with provided prefix: {0}")]
    AmbiguousPrefix(String),
    #[error("Error parsing reference: {input:?} is not a valid repository/tag: {source}")]
    BadReference { input: String, source: ReferenceError },
    #[error("refusing to create a tag with a digest reference")]
    TagWithDigest,
    #[error("conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories")]
    MultipleRepositories { short: String },
    #[error("invalid filter '{0}'")]
    InvalidFilter(String),
    #[error("{0}")]
    InvalidArgument(String),
    /// A build that failed: the Dockerfile's name and line, and what went wrong.
    #[error("{0}")]
    Build(String),
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Registry(#[from] doca_image::registry::RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<crate::rootless::RootlessError> for EngineError {
    fn from(e: crate::rootless::RootlessError) -> Self {
        EngineError::Internal(e.to_string())
    }
}

impl From<DbError> for EngineError {
    fn from(e: DbError) -> Self {
        EngineError::Store(e.into())
    }
}
impl From<doca_store::BlobError> for EngineError {
    fn from(e: doca_store::BlobError) -> Self {
        EngineError::Store(e.into())
    }
}

impl EngineError {
    /// For `map_err`: an I/O failure on `path` while doing `op` ("create", "write", ...).
    pub fn io(op: &'static str, path: &Path) -> impl Fn(std::io::Error) -> EngineError {
        let path = path.to_path_buf();
        move |source| EngineError::Io { op, path: path.clone(), source }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::NoSuchImage(_)
            | EngineError::NoSuchContainer(_)
            | EngineError::NoSuchPath(_)
            | EngineError::NoSuchVolume(_)
            | EngineError::NoSuchNetwork(_) => ErrorKind::NotFound,
            EngineError::MultipleRepositories { .. } | EngineError::NameInUse { .. } | EngineError::Conflict(_) => ErrorKind::Conflict,
            EngineError::StartFailed { cause: StartCause::CommandNotFound, .. } => ErrorKind::CommandNotFound,
            EngineError::StartFailed { cause: StartCause::CannotInvoke, .. } => ErrorKind::CannotInvoke,
            EngineError::StartFailed { cause: StartCause::Other, .. }
            | EngineError::Internal(_)
            | EngineError::Io { .. }
            | EngineError::Runtime { .. }
            | EngineError::MissingHelper { .. } => ErrorKind::Internal,
            EngineError::AmbiguousContainer(_) => ErrorKind::InvalidArgument,
            EngineError::Usage(_) => ErrorKind::Usage,
            EngineError::AmbiguousPrefix(_)
            | EngineError::BadReference { .. }
            | EngineError::TagWithDigest
            | EngineError::InvalidFilter(_)
            | EngineError::InvalidArgument(_)
            | EngineError::Build(_) => ErrorKind::InvalidArgument,
            // The store's disk failed (full, read-only): the host's problem, exit 1 as docker's.
            EngineError::Archive(ArchiveError::Store(_)) => ErrorKind::Internal,
            EngineError::Archive(ArchiveError::Ingest { source, .. }) if source.is_host_failure() => ErrorKind::Internal,
            EngineError::Archive(ArchiveError::Io { .. }) => ErrorKind::BadInput,
            EngineError::Archive(_) => ErrorKind::BadInput,
            EngineError::Store(_) => ErrorKind::Internal,
            EngineError::Net(doca_net::NetError::Invalid(_)) => ErrorKind::InvalidArgument,
            EngineError::Net(_) => ErrorKind::Internal,
            EngineError::Registry(
                doca_image::registry::RegistryError::PullDenied(_) | doca_image::registry::RegistryError::ManifestUnknown(_),
            ) => ErrorKind::NotFound,
            EngineError::Registry(_) => ErrorKind::Internal,
        }
    }
}

/// A path inside a container: a missing one is docker's "No such container:path" (the caller
/// words it), anything else names the path and what failed.
impl From<doca_fs::FsError> for EngineError {
    fn from(e: doca_fs::FsError) -> EngineError {
        match e {
            doca_fs::FsError::NotFound(p) => EngineError::NoSuchPath(p.display().to_string()),
            e => EngineError::InvalidArgument(e.to_string()),
        }
    }
}
