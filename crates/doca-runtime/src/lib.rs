//! doca's OCI runtime (runtime-spec 1.x): a bundle becomes an isolated process. All code that
//! forks, clones, mounts or changes credentials lives in this crate. It is synchronous and
//! single-threaded by design: the init is cloned without CLONE_VM and runs ordinary Rust code
//! until execve.

pub mod cgroups;
pub mod create;
pub mod delete;
pub mod devicefilter;
pub mod devices;
pub mod error;
pub mod exec;
pub mod exeseal;
pub mod hooks;
pub mod init;
pub mod kill;
pub mod pause;
pub mod seccomp;
pub mod signals;
pub mod spec;
pub mod start;
pub mod state;
pub mod stats;
pub mod sync;
pub mod sysctl;
pub mod update;
pub mod userns;
pub mod wait;

pub use error::{Result, RuntimeError};
pub use state::{State, Status};
