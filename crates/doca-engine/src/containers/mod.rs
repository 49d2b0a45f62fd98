//! Containers: what `doca run` and `POST /containers/create` share. This first part turns an
//! image's config and the run options into the OCI runtime spec, with Docker's defaults.

pub mod rootfs;
pub mod seccomp;
pub mod spec;
pub mod user;

pub use spec::{oci_spec, NetworkMode, RunOptions, Seccomp};
