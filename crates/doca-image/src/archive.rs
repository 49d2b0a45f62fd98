//! Errors and small helpers shared by `load`, `save` and `import`.

use crate::ingest::IngestError;
use std::io;

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{archive}: {msg}")]
    Invalid { archive: String, msg: String },
    #[error("{archive}: entry {entry:?}: {msg}")]
    Entry { archive: String, entry: String, msg: String },
    #[error("{archive}: {source}")]
    Ingest { archive: String, source: IngestError },
    #[error("{archive}: {source}")]
    Io { archive: String, source: io::Error },
    #[error("{0}")]
    Store(#[from] doca_store::StoreError),
}

impl ArchiveError {
    pub fn invalid(archive: &str, msg: impl Into<String>) -> Self {
        ArchiveError::Invalid { archive: archive.to_string(), msg: msg.into() }
    }
}

/// Normalizes an archive member name for lookup: no leading `./` or `/`, no empty or `.` parts.
/// Names are only map keys here (nothing is written by them), so `..` is resolved lexically.
pub fn clean_member(name: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out.join("/")
}

/// Resolves a symlink member's target relative to the link's directory.
pub fn resolve_link(link: &str, target: &str) -> String {
    if target.starts_with('/') {
        return clean_member(target);
    }
    let dir = link.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    clean_member(&format!("{dir}/{target}"))
}

impl From<doca_store::DbError> for ArchiveError {
    fn from(e: doca_store::DbError) -> Self {
        ArchiveError::Store(e.into())
    }
}
impl From<doca_store::BlobError> for ArchiveError {
    fn from(e: doca_store::BlobError) -> Self {
        ArchiveError::Store(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn member_names() {
        assert_eq!(clean_member("./blobs//sha256/ab"), "blobs/sha256/ab");
        assert_eq!(resolve_link("abc/layer.tar", "../def/layer.tar"), "def/layer.tar");
    }
}
