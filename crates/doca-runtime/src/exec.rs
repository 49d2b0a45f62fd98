//! `exec`: runs another process in a running container, as runc does. A helper child joins the
//! container's cgroup and namespaces (setns into the init's; a pid namespace takes effect for the
//! helper's children, so it forks once more), and the process then takes its user,
//! capabilities, no_new_privs and the container's seccomp profile before execve: it can never
//! hold more than the container was given.

use crate::error::{Result, RuntimeError};
use crate::init::process;
use crate::state::{State, Status};
use crate::sync::{self, Msg};
use nix::sched::CloneFlags;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::Process;
use std::collections::HashSet;
use std::ffi::CString;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

pub struct ExecOptions {
    pub id: String,
    pub root: PathBuf,
    pub process: Process,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    pub console_socket: Option<PathBuf>,
}

/// Namespaces to open, in this order (joined in `helper_main`'s). A process exec'd into a
/// container with a user namespace must not keep the host's root: it ends in that namespace.
/// Mount last, so the others are opened while the host's /proc is still our /proc.
const NAMESPACES: [(&str, CloneFlags); 8] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("time", CloneFlags::from_bits_retain(libc::CLONE_NEWTIME)),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("pid", CloneFlags::CLONE_NEWPID),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

fn open_namespaces(pid: i32) -> Result<Vec<(OwnedFd, CloneFlags)>> {
    let mut out = Vec::new();
    for (name, flag) in NAMESPACES {
        let theirs = format!("/proc/{pid}/ns/{name}");
        // Only namespaces the container does not share with us.
        if std::fs::read_link(&theirs).ok() == std::fs::read_link(format!("/proc/self/ns/{name}")).ok() {
            continue;
        }
        let fd =
            nix::fcntl::open(theirs.as_str(), nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC, nix::sys::stat::Mode::empty())
                .map_err(|e| RuntimeError::Sys(format!("open {theirs}: {}", e.desc().to_lowercase())))?;
        out.push((fd, flag));
    }
    Ok(out)
}

/// Returns the process's exit code (0 with `detach`, once it runs).
pub fn exec(opts: &ExecOptions) -> Result<i32> {
    let state = State::load(&opts.root, &opts.id)?;
    let status = state.status(&opts.root);
    if status != Status::Running && status != Status::Created {
        return Err(RuntimeError::State { op: "exec in", id: opts.id.clone(), status: status.to_string() });
    }
    let p = &opts.process;
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(RuntimeError::Spec("process.args: must name the program to run".into()));
    }
    if (p.terminal() == Some(true)) != opts.console_socket.is_some() {
        return Err(RuntimeError::Spec("a terminal (--tty) needs --console-socket, and --console-socket needs a terminal".into()));
    }
    let filter =
        state.spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()).map(|s| crate::seccomp::prepare(s, Some(&opts.root))).transpose()?;
    let namespaces = open_namespaces(state.pid)?;
    let (parent_sock, child_sock) = sync::pair()?;
    // SAFETY: doca-runc is single-threaded; the child only runs code of this function.
    let helper = match unsafe { fork() }? {
        ForkResult::Child => {
            drop(parent_sock);
            let code = match helper_main(&state, opts, namespaces, filter, &child_sock) {
                Ok(code) => code,
                Err(e) => {
                    let _ = sync::put(&child_sock, &Msg::Failed { message: e.to_string(), code: e.exit_code() });
                    e.exit_code().max(1)
                }
            };
            std::process::exit(code)
        }
        ForkResult::Parent { child } => child,
    };
    drop(child_sock);
    let mut target = None;
    loop {
        match sync::get(&parent_sock)? {
            Some(Msg::Pid(pid)) => {
                target = Some(pid);
                if let Some(f) = &opts.pid_file {
                    crate::create::write_pid_file(f, pid)?;
                }
            }
            Some(Msg::Ready) => break,
            Some(Msg::Console { name }) => {
                let master = sync::recv_fd(&parent_sock)?;
                crate::init::console::send_to_console_socket(opts.console_socket.as_deref().expect("checked above"), &master, &name)?;
            }
            Some(Msg::Failed { message, code }) => {
                let _ = waitpid(helper, None);
                return Err(RuntimeError::Init { message: format!("exec failed: {message}"), code });
            }
            other => {
                let _ = waitpid(helper, None);
                return Err(RuntimeError::Sys(format!("exec helper ended before the process ran ({other:?})")));
            }
        }
    }
    if let Some(pid) = target {
        crate::signals::forward_to(pid);
    }
    // The helper waits for the process (unless detached) and exits with its status.
    crate::wait::exit_code(helper)
}

/// In the helper: join, fork the process, report its pid, and wait for it.
fn helper_main(
    state: &State,
    opts: &ExecOptions,
    namespaces: Vec<(OwnedFd, CloneFlags)>,
    filter: Option<crate::seccomp::Filter>,
    sock: &OwnedFd,
) -> Result<i32> {
    nix::sys::prctl::set_dumpable(false)?;
    // Into the container's cgroup first: host paths, while our mount namespace is the host's.
    for p in &state.cgroup_paths {
        std::fs::write(p.join("cgroup.procs"), std::process::id().to_string()).map_err(RuntimeError::io("join cgroup", p))?;
    }
    // The user namespace last but for what only it opens: the others are joined while we
    // still have the rights over their owners (root's over a network namespace the engine made
    // outside the container's user namespace, which the container's root has none over); one
    // refused now (EPERM: owned by a user namespace only joining it gives rights in, as when
    // the runtime is not root) is joined after it.
    let join = |fd: &OwnedFd, flag: CloneFlags| {
        nix::sched::setns(fd, flag).map_err(|e| RuntimeError::Sys(format!("join {flag:?} namespace: {}", e.desc().to_lowercase())))
    };
    let user = namespaces.iter().find(|(_, f)| *f == CloneFlags::CLONE_NEWUSER);
    let mut after = Vec::new();
    for (fd, flag) in namespaces.iter().filter(|(_, f)| *f != CloneFlags::CLONE_NEWUSER) {
        match nix::sched::setns(fd, *flag) {
            Err(nix::Error::EPERM) if user.is_some() => after.push((fd, *flag)),
            r => r.map_err(|e| RuntimeError::Sys(format!("join {flag:?} namespace: {}", e.desc().to_lowercase())))?,
        }
    }
    if let Some((fd, flag)) = user {
        join(fd, *flag)?;
    }
    for (fd, flag) in after {
        join(fd, flag)?;
    }
    drop(namespaces);
    // SAFETY: still single-threaded.
    match unsafe { fork() }? {
        ForkResult::Child => {
            let code = match process_main(opts, filter, sock) {
                Ok(never) => match never {},
                Err(e) => {
                    let _ = sync::put(sock, &Msg::Failed { message: e.to_string(), code: e.exit_code() });
                    e.exit_code().max(1)
                }
            };
            std::process::exit(code)
        }
        ForkResult::Parent { child } => {
            sync::put(sock, &Msg::Pid(child.as_raw()))?;
            if opts.detach {
                // The process goes on without us once it is set up; the runtime reports that.
                return Ok(0);
            }
            crate::wait::exit_code(child)
        }
    }
}

/// In the process, inside the container's namespaces: become what the spec says, then exec.
fn process_main(opts: &ExecOptions, filter: Option<crate::seccomp::Filter>, sock: &OwnedFd) -> Result<std::convert::Infallible> {
    let p = &opts.process;
    nix::unistd::chdir("/")?;
    process::rlimits(p.rlimits().as_deref().unwrap_or(&[]))?;
    let nnp = p.no_new_privileges() == Some(true);
    if let (Some(f), false) = (&filter, nnp) {
        crate::seccomp::load(f)?;
    }
    process::user_and_capabilities(p)?;
    let cwd = p.cwd();
    nix::unistd::chdir(cwd).map_err(|e| RuntimeError::Sys(format!("chdir to cwd {:?}: {}", cwd.display(), e.desc().to_lowercase())))?;
    if nnp {
        process::no_new_privs()?;
    }
    let args = p.args().as_deref().unwrap_or(&[]);
    let env = p.env().clone().unwrap_or_default();
    let exe = process::find_executable(&args[0], &env)?;
    let cstr = |s: &str| CString::new(s).map_err(|_| RuntimeError::Spec(format!("process: {s:?} contains a NUL byte")));
    let exe_c = cstr(&exe.to_string_lossy())?;
    let argv: Vec<CString> = args.iter().map(|a| cstr(a)).collect::<Result<_>>()?;
    let envp: Vec<CString> = env.iter().map(|e| cstr(e)).collect::<Result<_>>()?;
    let keep: HashSet<i32> = (3..3 + opts.preserve_fds).collect();
    if p.terminal() == Some(true) {
        let size = p.console_size().as_ref().map(|b| (b.height() as u16, b.width() as u16));
        crate::init::send_console(sock, size)?;
    } else {
        crate::init::detach_from_terminal()?;
    }
    process::close_fds_on_exec(&keep)?;
    sync::put(sock, &Msg::Ready)?;
    // Before seccomp: a strict profile may not allow rt_sigaction.
    crate::signals::reset_for_exec();
    if let (Some(f), true) = (&filter, nnp) {
        crate::seccomp::load(f)?;
    }
    let e = nix::unistd::execve(&exe_c, &argv, &envp).unwrap_err();
    eprintln!("exec {:?}: {}", args[0], e.desc().to_lowercase());
    std::process::exit(if e == nix::Error::ENOENT { 127 } else { 126 })
}

/// The process for `exec ID CMD...`: the container's own process with these changes (runc's
/// defaults: same env, user, capabilities, no_new_privs and rlimits).
pub struct ExecOverrides<'a> {
    pub args: &'a [String],
    pub env: &'a [String],
    pub cwd: Option<&'a Path>,
    pub user: Option<(u32, Option<u32>)>,
    pub additional_gids: &'a [u32],
    pub caps: &'a [String],
    pub no_new_privs: bool,
    pub tty: bool,
}

pub fn process_for(state: &State, o: &ExecOverrides) -> Result<Process> {
    let mut p = state.spec.process().clone().unwrap_or_default();
    p.set_args(Some(o.args.to_vec()));
    p.set_terminal(Some(o.tty));
    let mut env = p.env().clone().unwrap_or_default();
    for e in o.env {
        let key = e.split('=').next().unwrap_or(e);
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    p.set_env(Some(env));
    if let Some(c) = o.cwd {
        p.set_cwd(c.to_path_buf());
    }
    if let Some((uid, gid)) = o.user {
        let mut u = p.user().clone();
        u.set_uid(uid);
        if let Some(g) = gid {
            u.set_gid(g);
        }
        p.set_user(u);
    }
    if !o.additional_gids.is_empty() {
        let mut u = p.user().clone();
        u.set_additional_gids(Some(o.additional_gids.to_vec()));
        p.set_user(u);
    }
    if !o.caps.is_empty() {
        // --cap adds to the process's sets, never beyond the container's bounding set.
        let mut c = p.capabilities().clone().unwrap_or_default();
        let bounding: HashSet<String> = c.bounding().iter().flatten().map(crate::spec::enum_name).collect();
        for cap in o.caps {
            if !bounding.contains(cap) {
                return Err(RuntimeError::Sys(format!("exec --cap {cap}: not in the container's bounding set")));
            }
            let v: oci_spec::runtime::Capability = serde_json::from_value(serde_json::Value::String(cap.clone()))
                .map_err(|_| RuntimeError::Spec(format!("unknown capability {cap:?}")))?;
            let add = |s: &Option<oci_spec::runtime::Capabilities>| {
                let mut s = s.clone().unwrap_or_default();
                s.insert(v);
                Some(s)
            };
            let (e, pm, i) = (add(c.effective()), add(c.permitted()), add(c.inheritable()));
            c.set_effective(e);
            c.set_permitted(pm);
            c.set_inheritable(i);
        }
        p.set_capabilities(Some(c));
    }
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    Ok(p)
}
