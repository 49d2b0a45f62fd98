//! The Compose Specification for `doca compose`: how a project's files become one model.
//! Pure functions over text and values, no I/O and no engine: the CLI reads the files and the
//! environment, this crate interprets them, the engine runs the result.

#![forbid(unsafe_code)]

pub mod dotenv;
pub mod interpolate;
pub mod merge;
pub mod model;
pub mod node;
pub mod project;
