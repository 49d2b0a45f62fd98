//! The Compose Specification for `doca compose`: how a project's files become one model.
//! Pure functions over text and values, no I/O and no engine: the CLI reads the files and the
//! environment, this crate interprets them, the engine runs the result.

#![forbid(unsafe_code)]

pub mod canonical;
pub mod dotenv;
pub mod extends;
pub mod interpolate;
pub mod merge;
pub mod model;
pub mod node;
pub mod project;
pub mod service;
pub mod up;

/// A model as YAML, for `config`: sequences indented under their keys and long strings on one
/// line, as compose's encoder (go-yaml v3 with an indent of 2) prints them. Strings a YAML 1.1
/// reader would take for numbers (`1.1.1.1`) are quoted, which go-yaml leaves plain: the same
/// values, readable by docker-compose 1.29's PyYAML too.
pub fn yaml(v: &serde_json::Value) -> Result<String, String> {
    let mut o = serde_saphyr::SerializerOptions::default();
    o.compact_list_indent = false;
    o.folded_wrap_chars = usize::MAX;
    serde_saphyr::to_string_with_options(v, o).map_err(|e| e.to_string())
}
