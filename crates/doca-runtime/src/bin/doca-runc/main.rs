//! doca-runc: doca's OCI runtime behind runc's command line, so dockerd, containerd and podman
//! can drive it as they drive runc.

use anyhow::Context;
mod cli;
mod exec;
mod list;
mod ps;
mod update;

use clap::Parser;
use cli::{Cli, Cmd, CreateArgs};
use doca_runtime::create::{create, CreateOptions};
use doca_runtime::error::RuntimeError;
use doca_runtime::{kill, state::State, Status};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    // What the runtime makes must not depend on its caller's umask (doca's is 0077): mount
    // points it creates in a container are 0755 as runc makes them; its own state is under a
    // 0700 root.
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
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

fn create_opts(root: &Path, a: &CreateArgs, rootless: Option<bool>) -> anyhow::Result<CreateOptions> {
    Ok(CreateOptions {
        id: a.id.clone(),
        bundle: a.bundle.clone(),
        root: root.to_path_buf(),
        pid_file: a.io.pid_file.clone(),
        preserve_fds: a.io.preserve_fds,
        no_pivot: a.no_pivot,
        console_socket: a.io.console_socket.clone(),
        rootless,
    })
}

fn run(cli: Cli) -> anyhow::Result<u8> {
    if cli.systemd_cgroup {
        anyhow::bail!(RuntimeError::Unsupported("--systemd-cgroup".into(), "doca manages cgroups through cgroupfs; drop the flag".into()));
    }
    let root = cli.root.as_path();
    let rootless = cli.rootless();
    // The commands that put a process into a container run from a sealed copy of doca-runc,
    // so that the container can never reach this binary through /proc/PID/exe (CVE-2019-5736).
    if matches!(cli.cmd, Cmd::Create(_) | Cmd::Run { .. } | Cmd::Exec(_)) {
        // The state root is root's alone (runc's 0700): it holds every container's spec.
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(root)
            .with_context(|| format!("create {}", root.display()))?;
        doca_runtime::exeseal::ensure(root)?;
    }
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
            create(&create_opts(root, &a, rootless)?)?;
        }
        Cmd::Start { id } => doca_runtime::start::start(root, &id)?,
        Cmd::Run { create: a, detach } => {
            let state = create(&create_opts(root, &a, rootless)?)?;
            doca_runtime::signals::forward_to(state.pid);
            if let Err(e) = doca_runtime::start::start(root, &a.id) {
                let _ = doca_runtime::delete::delete(root, &a.id, true);
                return Err(e.into());
            }
            if detach {
                return Ok(0);
            }
            // The init is our child: its status is the container's.
            let code = doca_runtime::wait::exit_code(nix::unistd::Pid::from_raw(state.pid))?;
            doca_runtime::delete::delete(root, &a.id, true)?;
            return Ok(code as u8);
        }
        Cmd::Exec(a) => return exec::run(root, a),
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
        Cmd::List { format, quiet } => list::run(root, &format, quiet)?,
        Cmd::Pause { id } => doca_runtime::pause::pause(root, &id)?,
        Cmd::Resume { id } => doca_runtime::pause::resume(root, &id)?,
        Cmd::Ps { id, format, ps_args } => ps::run(root, &id, &format, &ps_args)?,
        Cmd::Events { id, stats, interval } => {
            // Stats every `interval`, and an "oom" event as soon as the OOM killer kills in the
            // container's cgroup (polled: the counter is there on v1 and v2 alike), until the
            // container stops (runc events).
            let first = State::load(root, &id)?;
            let mut ooms = doca_runtime::stats::oom_kills(&first).unwrap_or(0);
            let mut next_stats = std::time::Instant::now();
            loop {
                let s = State::load(root, &id)?;
                if let Some(n) = doca_runtime::stats::oom_kills(&s) {
                    if n > ooms && !stats {
                        println!("{}", doca_runtime::stats::oom_event(&s));
                    }
                    ooms = ooms.max(n);
                }
                if std::time::Instant::now() >= next_stats {
                    println!("{}", doca_runtime::stats::stats(&s)?);
                    next_stats += std::time::Duration::from_secs(interval.max(1));
                }
                if stats || s.status(root) == Status::Stopped {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        Cmd::Update(a) => update::run(root, a)?,
        Cmd::Features => {
            let f = serde_json::json!({
                "ociVersionMin": "1.0.0",
                "ociVersionMax": "1.2.0",
                "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
                "mountOptions": ["ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "sync", "async", "dirsync", "remount", "mand", "nomand", "atime", "noatime", "diratime", "nodiratime", "relatime", "norelatime", "strictatime", "nostrictatime", "bind", "rbind", "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable", "rro"],
                "linux": {
                    "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
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
