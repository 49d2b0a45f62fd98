//! The command line: runc's commands and flags.

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "doca-runc", version, about = "doca's OCI runtime, with runc's command line")]
pub struct Cli {
    /// Root directory for container state (rootless: $XDG_RUNTIME_DIR/doca-runc, as runc's)
    #[arg(long, global = true, default_value_os_t = default_root())]
    pub root: PathBuf,
    /// Rootless mode: true, false or auto (rootless when not root of the initial user namespace)
    #[arg(long, global = true, default_value = "auto", value_parser = ["auto", "true", "false"])]
    pub rootless: String,
    /// Write errors to this file instead of stderr only
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, default_value = "text")]
    pub log_format: String,
    /// Enable debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// Use systemd for cgroups (not supported: doca manages cgroupfs directly)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    #[command(subcommand)]
    pub cmd: Cmd,
}

/// runc's state root: `/run/doca-runc` for root; for another user, under their
/// `$XDG_RUNTIME_DIR` (runc's `$XDG_RUNTIME_DIR/runc`), as they cannot write /run.
fn default_root() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) if !nix::unistd::geteuid().is_root() => PathBuf::from(d).join("doca-runc"),
        _ => PathBuf::from("/run/doca-runc"),
    }
}

impl Cli {
    /// `--rootless` as the runtime takes it: None for auto.
    pub fn rootless(&self) -> Option<bool> {
        match self.rootless.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        }
    }
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Create a new specification file (config.json)
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Create a container
    Create(CreateArgs),
    /// Execute the user-defined process in a created container
    Start { id: String },
    /// Create and run a container
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Detach from the container's process
        #[arg(short, long)]
        detach: bool,
    },
    /// Execute a new process inside the container
    Exec(ExecArgs),
    /// Output the state of a container
    State { id: String },
    /// Send a signal to the container's init process (default SIGTERM)
    Kill {
        id: String,
        signal: Option<String>,
        /// Send the signal to all processes in the container
        #[arg(short, long)]
        all: bool,
    },
    /// Delete any resources held by the container
    Delete {
        id: String,
        /// Forcibly delete the container if it is still running (uses SIGKILL)
        #[arg(short, long)]
        force: bool,
    },
    /// Suspend all processes in the container
    Pause { id: String },
    /// Resume all processes in the container
    Resume { id: String },
    /// Display the processes running inside a container
    Ps {
        id: String,
        /// table or json
        #[arg(short, long, default_value = "table")]
        format: String,
        /// Options for ps(1) (table format)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Display container events: stats every interval and OOM kills as they happen; --stats once
    Events {
        id: String,
        /// Display the container's stats once, then exit
        #[arg(long)]
        stats: bool,
        /// Interval between stats events, in seconds
        #[arg(long, default_value_t = 5)]
        interval: u64,
    },
    /// Update the container's resource limits
    Update(UpdateArgs),
    /// List containers started by doca-runc with the given root
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show the enabled features
    Features,
}

#[derive(clap::Args)]
pub struct UpdateArgs {
    pub id: String,
    /// Path to a JSON file of linux.resources, or - for stdin
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit (bytes, or with k, m, g)
    #[arg(short, long)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    #[arg(long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
}

#[derive(clap::Args)]
pub struct ExecArgs {
    pub id: String,
    /// The command and its arguments (unless --process is given); everything after it is its own
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// Path to a process.json describing the process
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Set environment variables (KEY=VALUE)
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// Current working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// UID[:GID] to run as
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability (within the container's bounding set)
    #[arg(short, long = "cap")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Detach from the process
    #[arg(short, long)]
    pub detach: bool,
    #[command(flatten)]
    pub io: ProcessIo,
}

/// Where a started process's pid, terminal and extra descriptors go (create, run, exec).
#[derive(clap::Args)]
pub struct ProcessIo {
    /// File to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Path to an AF_UNIX socket that receives the console's master fd
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Pass N additional file descriptors to the process (after stdio)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
}

#[derive(clap::Args)]
pub struct CreateArgs {
    pub id: String,
    /// Path to the root of the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    #[command(flatten)]
    pub io: ProcessIo,
    /// Do not use pivot_root (for ramfs roots)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring (doca never does)
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
}
