//! doca's image formats: references, manifests and configs, layer unpacking, and the
//! docker-archive / OCI-layout archives of `save`, `load` and `import`.

#![forbid(unsafe_code)]

pub mod config;
pub mod media;
pub mod reference;
pub mod unpack;

pub use config::ImageConfig;
pub use reference::{Reference, ReferenceError};
pub mod archive;
pub mod change;
pub mod commit;
pub mod import;
pub mod ingest;
pub mod load;
pub mod manifest;
pub mod registry;
pub mod save;
