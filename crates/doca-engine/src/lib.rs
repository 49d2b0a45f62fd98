//! doca's engine: one library behind both fronts (the CLI and, later, the Engine API server).
//! Every operation takes a request struct and returns typed results; the fronts only render.

#![forbid(unsafe_code)]

pub mod build;
pub mod containers;
pub mod docker;
pub mod error;
pub mod events;
pub mod images;
pub mod info;
pub mod networks;
pub mod prune;
pub mod rootless;
mod staging;
pub mod system;
mod tail;
pub mod volumes;

pub use error::{EngineError, ErrorKind};

// What front ends use of the crates below the engine comes through it (the one door): the
// CLI, and next the API server, depend on doca-engine alone.
pub use doca_image::config::{parse_rfc3339, rfc3339_nano, ContainerConfig};
pub use doca_image::manifest::host_arch;
pub use doca_image::Reference;
pub use doca_net::ports::parse_publish;
pub use doca_net::{Port, PortBinding};
pub use doca_store::Digest;

use doca_store::Store;
use std::path::PathBuf;

pub const DEFAULT_ROOT: &str = "/var/lib/doca";
pub const DEFAULT_RUN_ROOT: &str = "/run/doca";

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub root: PathBuf,
    pub run_root: PathBuf,
}

pub struct Engine {
    pub(crate) store: Store,
    config: EngineConfig,
}

impl Engine {
    pub fn open(config: EngineConfig) -> Result<Self, EngineError> {
        let store = Store::open(&config.root)?;
        // The run root holds attach sockets, monitors' configs, pinned namespaces and locks:
        // root's alone, as the store.
        doca_store::private_root(&config.run_root)?;
        tracing::debug!(root = %config.root.display(), run_root = %config.run_root.display(), "engine opened");
        Ok(Engine { store, config })
    }

    pub fn store(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Where this engine keeps its store and its runtime state.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }
}

/// Creates `dir` and its missing parents private to root (0700): what doca keeps (configs with
/// `-e` secrets, writable layers, logs, locks) is no other local user's to read, run or lock.
pub(crate) fn private_dir(dir: &std::path::Path) -> Result<(), EngineError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(EngineError::io("create", dir))
}

pub(crate) fn now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}
