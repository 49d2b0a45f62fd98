//! The Compose Specification for `doca compose`: how a project's files become one model.
//! Pure functions over text and values, no I/O and no engine: the CLI reads the files and the
//! environment, this crate interprets them, the engine runs the result.

#![forbid(unsafe_code)]

pub mod dotenv;
pub mod extends;
pub mod interpolate;
pub mod merge;
pub mod model;
pub mod node;
pub mod project;
pub mod service;
pub mod up;

/// A model as YAML, for `config`.
pub fn yaml(v: &serde_json::Value) -> Result<String, String> {
    serde_saphyr::to_string(v).map_err(|e| e.to_string())
}
