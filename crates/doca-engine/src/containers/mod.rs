//! Containers: what `doca run` and `POST /containers/create` share. A container is a record in
//! the store (what it was created with, its state), a directory (bundle, log, writable layer)
//! and, while it runs, a monitor process (doca-shim) that owns its stdio and reports its exit.

pub mod attach;
mod check;
pub mod cleanup;
pub mod commit;
pub mod config;
pub mod cp;
pub mod create;
pub mod diff;
pub mod exec;
pub mod health;
pub mod inspect;
pub mod keepid;
pub mod list;
pub mod logs;
pub mod mounts;
pub mod names;
pub mod record;
pub mod remove;
pub mod rootfs;
pub mod runtime;
pub mod seccomp;
pub mod spec;
pub mod start;
pub mod stop;
pub mod summary;
pub mod sysctl;
pub mod top;
pub mod user;
pub mod userns;
pub mod validate;

pub use attach::{Attach, AttachEvent, AttachInput, AttachStreams, DetachKeys};
pub use exec::{ExecContainer, ExecPlan};
pub use list::{ContainerFilter, ListContainers};
pub use logs::ContainerLogs;
pub use record::{Container, ContainerId, ContainerState, CreateContainer, Resources, RestartPolicy, Status};
pub use spec::{oci_spec, NetworkMode, RunOptions, Seccomp};
pub use start::StartContainer;
pub use summary::{status_text, SummaryOptions};
// What front ends name, one level down (they never reach into the modules).
pub use commit::CommitContainer;
pub use config::{parse_size, ContainerFile};
pub use cp::{CopyOptions, CopyRequest, PathStat};
pub use health::HealthSpec;
pub use logs::{parse_go_duration, parse_time};
pub use mounts::{check_mount, parse_mount_flag, parse_volume_flag, MountKind, MountSpec};
pub use spec::command;
pub use sysctl::parse as parse_sysctl;
pub use top::{StatsSample, UpdateFields};
pub use validate::check_create;
