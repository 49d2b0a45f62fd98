//! doca-runc: doca's OCI runtime behind runc's command line, so dockerd, containerd and podman
//! can drive it as they drive runc.

use anyhow::Context;
use clap::{Parser, Subcommand};
use doca_runtime::create::{create, CreateOptions};
use doca_runtime::error::RuntimeError;
use doca_runtime::{kill, state::State, Status};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "doca-runc", version, about = "doca's OCI runtime, with runc's command line")]
struct Cli {
    /// Root directory for container state
    #[arg(long, global = true, default_value = "/run/doca-runc")]
    root: PathBuf,
    /// Write errors to this file instead of stderr only
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format: text or json
    #[arg(long = "log-format", global = true, default_value = "text")]
    log_format: String,
    /// Enable debug logging
    #[arg(long, global = true)]
    debug: bool,
    /// Use systemd for cgroups (not supported: doca manages cgroupfs directly)
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
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
    /// Display container events, with --stats once
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
struct UpdateArgs {
    id: String,
    /// Path to a JSON file of linux.resources, or - for stdin
    #[arg(short, long)]
    resources: Option<PathBuf>,
    /// Memory limit (bytes, or with k, m, g)
    #[arg(short, long)]
    memory: Option<String>,
    #[arg(long = "memory-reservation")]
    memory_reservation: Option<String>,
    /// Memory plus swap limit
    #[arg(long = "memory-swap")]
    memory_swap: Option<String>,
    #[arg(long = "cpu-shares")]
    cpu_shares: Option<u64>,
    #[arg(long = "cpu-quota")]
    cpu_quota: Option<i64>,
    #[arg(long = "cpu-period")]
    cpu_period: Option<u64>,
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    #[arg(long = "pids-limit")]
    pids_limit: Option<i64>,
    #[arg(long = "blkio-weight")]
    blkio_weight: Option<u16>,
}

#[derive(clap::Args)]
struct ExecArgs {
    id: String,
    /// The command and its arguments (unless --process is given); everything after it is its own
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
    /// Path to a process.json describing the process
    #[arg(short, long)]
    process: Option<PathBuf>,
    /// Set environment variables (KEY=VALUE)
    #[arg(short, long = "env")]
    env: Vec<String>,
    /// Current working directory in the container
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// UID[:GID] to run as
    #[arg(short, long)]
    user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    additional_gids: Vec<u32>,
    /// Add a capability (within the container's bounding set)
    #[arg(short, long = "cap")]
    cap: Vec<String>,
    /// Set no_new_privs for the process
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Detach from the process
    #[arg(short, long)]
    detach: bool,
    /// File to write the process id to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Path to an AF_UNIX socket that receives the console's master fd
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Pass N additional file descriptors to the process
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: i32,
}

#[derive(clap::Args)]
struct CreateArgs {
    id: String,
    /// Path to the root of the bundle directory
    #[arg(short, long, default_value = ".")]
    bundle: PathBuf,
    /// File to write the process id to
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Path to an AF_UNIX socket that receives the console's master fd
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N)
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: i32,
    /// Do not use pivot_root (for ramfs roots)
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Do not create a new session keyring (doca never does)
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 1 } else { 0 });
        }
    };
    let log = cli.log.clone();
    let json = cli.log_format == "json";
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = e.downcast_ref::<RuntimeError>().map(|r| r.exit_code()).unwrap_or(1);
            let msg = format!("{e:#}");
            report(log.as_deref(), json, &msg);
            ExitCode::from(code.clamp(1, 255) as u8)
        }
    }
}

/// runc's error reporting: stderr, and the --log file (JSON lines with --log-format json, which
/// is how containerd and podman read a runtime's errors).
fn report(log: Option<&Path>, json: bool, msg: &str) {
    eprintln!("doca-runc: {msg}");
    if let Some(p) = log {
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(p) {
            let line = if json {
                serde_json::json!({"level": "error", "msg": msg, "time": doca_runtime::create::now_rfc3339()}).to_string()
            } else {
                format!("time=\"{}\" level=error msg={msg:?}", doca_runtime::create::now_rfc3339())
            };
            let _ = writeln!(f, "{line}");
        }
    }
}

fn create_opts(root: &Path, a: &CreateArgs) -> anyhow::Result<CreateOptions> {
    Ok(CreateOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        root: root.to_path_buf(),
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        no_pivot: a.no_pivot,
        console_socket: a.console_socket.clone(),
    })
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    if cli.systemd_cgroup {
        anyhow::bail!(RuntimeError::Unsupported("--systemd-cgroup".into(), "doca manages cgroups through cgroupfs; drop the flag".into()));
    }
    let root = cli.root.as_path();
    match cli.cmd {
        Cmd::Spec { bundle } => {
            let p = bundle.join("config.json");
            if p.exists() {
                anyhow::bail!("File {} exists. Remove it first", p.display());
            }
            let spec = oci_spec::runtime::Spec::default();
            std::fs::write(&p, serde_json::to_vec_pretty(&spec)?).with_context(|| format!("write {}", p.display()))?;
        }
        Cmd::Create(a) => {
            create(&create_opts(root, &a)?)?;
        }
        Cmd::Start { id } => doca_runtime::start::start(root, &id)?,
        Cmd::Run { create: a, detach } => {
            let state = create(&create_opts(root, &a)?)?;
            doca_runtime::signals::forward_to(state.pid);
            if let Err(e) = doca_runtime::start::start(root, &a.id) {
                let _ = doca_runtime::delete::delete(root, &a.id, true);
                return Err(e.into());
            }
            if detach {
                return Ok(0);
            }
            // The init is our child: its status is the container's.
            let code = loop {
                match nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(state.pid), None) {
                    Ok(nix::sys::wait::WaitStatus::Exited(_, c)) => break c,
                    Ok(nix::sys::wait::WaitStatus::Signaled(_, s, _)) => break 128 + s as i32,
                    Ok(_) | Err(nix::Error::EINTR) => continue,
                    Err(e) => anyhow::bail!("wait for container {}: {}", a.id, e.desc()),
                }
            };
            doca_runtime::delete::delete(root, &a.id, true)?;
            return Ok(code as u8);
        }
        Cmd::Exec(a) => return exec(root, a),
        Cmd::State { id } => {
            let s = State::load(root, &id)?;
            let st = s.status(root);
            println!("{}", serde_json::to_string_pretty(&s.to_oci_json(st))?);
        }
        Cmd::Kill { id, signal, all } => {
            let sig = kill::parse_signal(signal.as_deref().unwrap_or("SIGTERM"))?;
            kill::kill(root, &id, sig, all)?;
        }
        Cmd::Delete { id, force } => doca_runtime::delete::delete(root, &id, force)?,
        Cmd::List { format, quiet } => list(root, &format, quiet)?,
        Cmd::Pause { id } => doca_runtime::pause::pause(root, &id)?,
        Cmd::Resume { id } => doca_runtime::pause::resume(root, &id)?,
        Cmd::Ps { id, format, ps_args } => ps(root, &id, &format, &ps_args)?,
        Cmd::Events { id, stats, interval } => loop {
            let s = State::load(root, &id)?;
            println!("{}", doca_runtime::stats::stats(&s)?);
            if stats || s.status(root) == Status::Stopped {
                break;
            }
            std::thread::sleep(std::time::Duration::from_secs(interval.max(1)));
        },
        Cmd::Update(a) => update(root, a)?,
        Cmd::Features => {
            let f = serde_json::json!({
                "ociVersionMin": "1.0.0",
                "ociVersionMax": "1.2.0",
                "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
                "mountOptions": ["ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async", "dirsync", "remount", "mand", "nomand", "atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime", "bind", "rbind", "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable", "rro"],
                "linux": {
                    "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "uts"],
                    "capabilities": caps::all().iter().map(|c| c.to_string()).collect::<Vec<_>>(),
                    "cgroup": {"v1": true, "v2": true, "systemd": false},
                    "seccomp": {
                        "enabled": true,
                        "actions": ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"],
                        "operators": ["SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"],
                        "archs": ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
                        "knownFlags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
                    },
                    "apparmor": {"enabled": false},
                    "selinux": {"enabled": false}
                }
            });
            println!("{}", serde_json::to_string_pretty(&f)?);
        }
    }
    Ok(0)
}

fn list(root: &Path, format: &str, quiet: bool) -> anyhow::Result<()> {
    let mut states = Vec::new();
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        if let Ok(s) = State::load(root, &e.file_name().to_string_lossy()) {
            let st = s.status(root);
            states.push((s, st));
        }
    }
    states.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    if quiet {
        for (s, _) in &states {
            println!("{}", s.id);
        }
    } else if format == "json" {
        let v: Vec<_> = states.iter().map(|(s, st)| s.to_oci_json(*st)).collect();
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!("{:<12} {:<10} {:<10} {:<45} {:<30} OWNER", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
        for (s, st) in &states {
            let pid = if *st == Status::Stopped { 0 } else { s.pid };
            println!("{:<12} {:<10} {:<10} {:<45} {:<30} root", s.id, pid, st.to_string(), s.bundle.display(), s.created);
        }
    }
    Ok(())
}

fn exec(root: &Path, a: ExecArgs) -> anyhow::Result<u8> {
    let state = State::load(root, &a.id)?;
    let process = match &a.process {
        Some(p) => serde_json::from_slice(&std::fs::read(p).with_context(|| format!("read {}", p.display()))?)
            .with_context(|| format!("parse {}", p.display()))?,
        None => {
            if a.command.is_empty() {
                anyhow::bail!("exec: no command given (and no --process)");
            }
            let user = a
                .user
                .as_deref()
                .map(|u| -> anyhow::Result<(u32, Option<u32>)> {
                    let (uid, gid) = u.split_once(':').map(|(a, b)| (a, Some(b))).unwrap_or((u, None));
                    Ok((
                        uid.parse().with_context(|| format!("--user {u}: uid must be numeric"))?,
                        gid.map(|g| g.parse()).transpose().with_context(|| format!("--user {u}: gid must be numeric"))?,
                    ))
                })
                .transpose()?;
            doca_runtime::exec::process_for(
                &state,
                &doca_runtime::exec::ExecOverrides {
                    args: &a.command,
                    env: &a.env,
                    cwd: a.cwd.as_deref(),
                    user,
                    additional_gids: &a.additional_gids,
                    caps: &a.cap,
                    no_new_privs: a.no_new_privs,
                    tty: a.tty,
                },
            )?
        }
    };
    let code = doca_runtime::exec::exec(&doca_runtime::exec::ExecOptions {
        id: a.id.clone(),
        root: root.to_path_buf(),
        process,
        detach: a.detach,
        pid_file: a.pid_file.clone(),
        preserve_fds: a.preserve_fds,
        console_socket: a.console_socket.clone(),
    })?;
    Ok(code.clamp(0, 255) as u8)
}

/// `ps`: JSON is the list of pids; the table is ps(1)'s output filtered to the container's pids.
fn ps(root: &Path, id: &str, format: &str, ps_args: &[String]) -> anyhow::Result<()> {
    let state = State::load(root, id)?;
    let pids = doca_runtime::stats::pids(&state);
    if format == "json" {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(());
    }
    let args: Vec<&str> = if ps_args.is_empty() { vec!["-ef"] } else { ps_args.iter().map(String::as_str).collect() };
    let out = std::process::Command::new("ps").args(&args).output().context("run ps")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header.split_whitespace().position(|h| h == "PID").context("ps output has no PID column")?;
    println!("{header}");
    for l in lines {
        if l.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok()).is_some_and(|p| pids.contains(&p)) {
            println!("{l}");
        }
    }
    Ok(())
}

fn update(root: &Path, a: UpdateArgs) -> anyhow::Result<()> {
    use doca_runtime::update::parse_size;
    let mut r: serde_json::Value = match &a.resources {
        Some(p) if p.as_os_str() == "-" => serde_json::from_reader(std::io::stdin()).context("parse resources from stdin")?,
        Some(p) => serde_json::from_slice(&std::fs::read(p).with_context(|| format!("read {}", p.display()))?)
            .with_context(|| format!("parse {}", p.display()))?,
        None => serde_json::json!({}),
    };
    let mut set = |section: &str, key: &str, v: serde_json::Value| {
        r.as_object_mut().expect("object").entry(section).or_insert_with(|| serde_json::json!({}))[key] = v;
    };
    if let Some(m) = &a.memory {
        set("memory", "limit", parse_size(m)?.into());
    }
    if let Some(m) = &a.memory_reservation {
        set("memory", "reservation", parse_size(m)?.into());
    }
    if let Some(m) = &a.memory_swap {
        set("memory", "swap", parse_size(m)?.into());
    }
    if let Some(v) = a.cpu_shares {
        set("cpu", "shares", v.into());
    }
    if let Some(v) = a.cpu_quota {
        set("cpu", "quota", v.into());
    }
    if let Some(v) = a.cpu_period {
        set("cpu", "period", v.into());
    }
    if let Some(v) = &a.cpuset_cpus {
        set("cpu", "cpus", v.clone().into());
    }
    if let Some(v) = &a.cpuset_mems {
        set("cpu", "mems", v.clone().into());
    }
    if let Some(v) = a.pids_limit {
        set("pids", "limit", v.into());
    }
    if let Some(v) = a.blkio_weight {
        set("blockIO", "weight", v.into());
    }
    let resources: oci_spec::runtime::LinuxResources = serde_json::from_value(r).context("resources")?;
    doca_runtime::update::update(root, &a.id, &resources)?;
    Ok(())
}
