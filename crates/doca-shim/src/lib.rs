//! doca-shim: the monitor that stays with one container for its whole life, so that containers
//! outlive the `doca` command that started them (as conmon does for podman and
//! containerd-shim for docker). It owns the container's stdio (pipes, or the pty master from the
//! runtime's console socket), writes Docker's json-file log, serves attach clients on a unix
//! socket, reaps the container's init as a child subreaper, writes the exit status and runs the
//! engine's exit command.
//!
//! The shim knows nothing of images, the store or the database: the engine hands it a
//! [`ShimConfig`] and reads back the [`ExitStatus`], and the shim answers with a [`Reply`]. The engine links this library for those
//! types and for the attach protocol ([`proto`]).

pub mod config;
pub mod dns;
pub mod fdpass;
pub mod health;
pub mod hostports;
pub mod log;
pub mod logfile;
pub mod monitor;
pub mod proto;
pub mod proxy;
pub mod reply;

pub use config::{DnsConfig, ExitStatus, HealthConfig, LogConfig, ProxyConfig, ShimConfig};
pub use monitor::ShimError;
pub use reply::{Reply, StartCause};
