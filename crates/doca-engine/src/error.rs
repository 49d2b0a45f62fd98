//! The engine's error, with a kind that each front maps once: to an HTTP status in the API, to
//! docker's exit code in the CLI.

use doca_image::archive::ArchiveError;
use doca_image::ReferenceError;
use doca_store::{DbError, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Conflict,
    InvalidArgument,
    /// Untrusted input (an archive, a tarball) was refused.
    BadInput,
    Internal,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("No such image: {0}")]
    NoSuchImage(String),
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
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error(transparent)]
    Store(#[from] StoreError),
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
    pub fn kind(&self) -> ErrorKind {
        match self {
            EngineError::NoSuchImage(_) => ErrorKind::NotFound,
            EngineError::MultipleRepositories { .. } => ErrorKind::Conflict,
            EngineError::AmbiguousPrefix(_)
            | EngineError::BadReference { .. }
            | EngineError::TagWithDigest
            | EngineError::InvalidFilter(_)
            | EngineError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            EngineError::Archive(ArchiveError::Store(_)) | EngineError::Archive(ArchiveError::Io { .. }) => ErrorKind::BadInput,
            EngineError::Archive(_) => ErrorKind::BadInput,
            EngineError::Store(_) => ErrorKind::Internal,
        }
    }
}
