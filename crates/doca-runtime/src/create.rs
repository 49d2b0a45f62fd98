//! `create`: the container's init is cloned into its new namespaces, placed in its cgroup, and
//! set up; it then waits on the exec fifo for `start`. Any failure takes everything back: no
//! process, mount, cgroup or state directory is left.

use crate::cgroups::Cgroup;
use crate::error::{Result, RuntimeError};
use crate::init::{self, InitContext};
use crate::state::{process_start_time, validate_id, State, EXEC_FIFO};
use crate::sync::{self, Msg};
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::Pid;
use oci_spec::runtime::LinuxNamespaceType;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct CreateOptions {
    pub id: String,
    pub bundle: PathBuf,
    pub root: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    pub no_pivot: bool,
    /// Where the pty master goes when process.terminal is set.
    pub console_socket: Option<PathBuf>,
    /// runc's `--rootless`: None (`auto`) when not root of the initial user namespace.
    pub rootless: Option<bool>,
}

/// Takes back a half-made container unless disarmed.
struct Undo {
    dir: Option<PathBuf>,
    cgroup: Option<Cgroup>,
    child: Option<Pid>,
}

impl Drop for Undo {
    fn drop(&mut self) {
        if let Some(pid) = self.child {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
        if let Some(cg) = &self.cgroup {
            let _ = crate::cgroups::remove(&cg.paths());
        }
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

fn clone_flags(spec: &oci_spec::runtime::Spec) -> CloneFlags {
    let mut f = CloneFlags::empty();
    for ns in spec.linux().as_ref().and_then(|l| l.namespaces().as_ref()).into_iter().flatten() {
        if ns.path().is_some() {
            continue;
        }
        f |= match ns.typ() {
            LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
            LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
            LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
            LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
            LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
            LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
            // The cgroup namespace is unshared by the init once it is in its cgroup, so that
            // the container's cgroup becomes the namespace's root.
            _ => CloneFlags::empty(),
        };
    }
    f
}

pub fn create(opts: &CreateOptions) -> Result<State> {
    validate_id(&opts.id)?;
    let bundle = std::fs::canonicalize(&opts.bundle).map_err(RuntimeError::io("open bundle", &opts.bundle))?;
    let spec = crate::spec::load(&bundle)?;
    crate::spec::validate(&spec)?;
    // Compiled (not loaded) here, so a bad profile fails `create` before any process exists.
    let seccomp =
        spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()).map(|s| crate::seccomp::prepare(s, Some(&opts.root))).transpose()?;
    let terminal = spec.process().as_ref().and_then(|p| p.terminal()) == Some(true);
    if terminal != opts.console_socket.is_some() {
        return Err(RuntimeError::Spec(if terminal {
            "process.terminal is set: --console-socket must say where the terminal goes".into()
        } else {
            "--console-socket given but process.terminal is not set".into()
        }));
    }
    let root_path = spec.root().as_ref().expect("validated").path();
    let rootfs = if root_path.is_absolute() { root_path.clone() } else { bundle.join(root_path) };
    let rootfs = std::fs::canonicalize(&rootfs).map_err(|e| RuntimeError::Spec(format!("root.path {}: {e}", rootfs.display())))?;

    std::fs::create_dir_all(&opts.root).map_err(RuntimeError::io("create state root", &opts.root))?;
    let dir = State::dir(&opts.root, &opts.id);
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(RuntimeError::Exists(opts.id.clone())),
        Err(e) => return Err(RuntimeError::io("create", &dir)(e)),
    }
    let mut undo = Undo { dir: Some(dir.clone()), cgroup: None, child: None };
    let fifo = dir.join(EXEC_FIFO);
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| RuntimeError::Sys(format!("mkfifo {}: {}", fifo.display(), e.desc().to_lowercase())))?;
    // mkfifo(3) applies the umask; the init may run as any user and must be able to write it.
    // (The state directory is 0700, so nobody else reaches the fifo by path.)
    std::fs::set_permissions(&fifo, std::os::unix::fs::PermissionsExt::from_mode(0o622)).map_err(RuntimeError::io("chmod", &fifo))?;

    let linux = spec.linux().as_ref().expect("validated");
    let mut cgroup = Cgroup::for_host(linux.cgroups_path().as_deref(), &opts.id)?;
    // Rootless (runc's `--rootless auto`): a user with no cgroup of their own to write runs
    // the container without one, unless the spec asks for limits, which would then be silently
    // lost: those are refused, naming why. Root of a user namespace (rootless doca) is rootless
    // too. Device rules are left to the user namespace, in
    // which no device can be made anyway.
    let rootless = opts.rootless.unwrap_or_else(|| !nix::unistd::geteuid().is_root() || !doca_mount::userns::in_initial());
    match cgroup.create() {
        Ok(()) => {}
        Err(e) if rootless => {
            if let Some(what) = linux.resources().as_ref().and_then(crate::cgroups::limits_asked) {
                return Err(RuntimeError::Spec(format!(
                    "linux.resources.{what}: rootless, and no cgroup to apply it in ({e}): a delegated cgroup (cgroup v2) is needed"
                )));
            }
            cgroup = Cgroup { dirs: Vec::new() };
        }
        Err(e) => return Err(e),
    }
    undo.cgroup = Some(cgroup.clone());
    if let (Some(r), false) = (linux.resources(), cgroup.dirs.is_empty()) {
        cgroup.apply(r)?;
    }

    let (parent_sock, child_sock) = sync::pair()?;
    let mut child_sock = Some(child_sock);
    let mut stack = vec![0u8; 8 << 20];
    let flags = clone_flags(&spec);
    let cgroupns = spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::Cgroup && n.path().is_none()));
    let joins: Vec<(PathBuf, CloneFlags)> = linux
        .namespaces()
        .iter()
        .flatten()
        .filter_map(|n| {
            let f = match n.typ() {
                LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
                LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
                LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
                LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
                // A joined mount namespace is where the rootfs is then set up, as runc does:
                // the bundle's rootfs must be visible in it (a namespace made with unshare
                // from the host's, not another container's, whose root is its own rootfs).
                LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
                _ => return None,
            };
            n.path().clone().map(|p| (p, f))
        })
        .collect();
    // With a new user namespace, the namespaces given by path that belong to the host's (the
    // engine's network namespace) are joined before it is made, by the process that makes the
    // init: from inside the new one, setns(2) into them is refused (EPERM: it needs
    // CAP_SYS_ADMIN over their owner). runc's nsexec joins first and unshares after, too. A
    // mount namespace is still joined by the init, in its new user namespace, where it mounts.
    type Joins = Vec<(PathBuf, CloneFlags)>;
    let (early, joins): (Joins, Joins) =
        joins.into_iter().partition(|(_, f)| flags.contains(CloneFlags::CLONE_NEWUSER) && *f != CloneFlags::CLONE_NEWNS);
    let parent_end = std::os::fd::AsRawFd::as_raw_fd(&parent_sock);
    let cb = Box::new(|| {
        let sock = child_sock.take().expect("cloned once");
        // Until it is ready, the init dies with the runtime (a runtime killed mid-create must
        // not leave it waiting forever; runc's nsexec does the same), and it keeps no copy of
        // the runtime's end of the socket, which would stop its reads from ever seeing EOF.
        let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL);
        // SAFETY: the child's copy of the runtime's descriptor; no object owns it in the child.
        unsafe { libc::close(parent_end) };
        // Namespaces given by path are joined before anything else happens in them.
        for (p, f) in &joins {
            let r = std::fs::File::open(p)
                .map_err(|e| e.to_string())
                .and_then(|fd| nix::sched::setns(fd, *f).map_err(|e| e.desc().to_lowercase()));
            if let Err(e) = r {
                let _ = sync::put(&sock, &Msg::Failed { message: format!("join namespace {}: {e}", p.display()), code: 1 });
                return 1;
            }
        }
        let ctx = InitContext {
            spec: &spec,
            rootfs: rootfs.clone(),
            exec_fifo: fifo.clone(),
            sync: sock,
            cgroup: &cgroup,
            preserve_fds: opts.preserve_fds,
            no_pivot: opts.no_pivot,
            cgroupns,
            seccomp: seccomp.as_ref(),
        };
        init::run(ctx)
    });
    // A user namespace given by path must own the namespaces made next (user_namespaces(7)),
    // so they are made by a process inside it; the runtime itself stays outside, where it keeps
    // the rights to place the init in its cgroup and write the state.
    let user_ns = linux.namespaces().iter().flatten().find(|n| n.typ() == LinuxNamespaceType::User).and_then(|n| n.path().clone());
    let clone_init = |extra: CloneFlags| -> Result<Pid> {
        enter_for_children(linux)?;
        // SAFETY: this process is single-threaded (doca-runc never starts threads), and so is
        // the intermediate that may run this, so the child, a copy without CLONE_VM, may
        // allocate and run ordinary code until execve.
        unsafe { nix::sched::clone(cb, &mut stack, flags | extra, Some(libc::SIGCHLD)) }
            .map_err(|e| RuntimeError::Sys(format!("clone into new namespaces: {}", e.desc().to_lowercase())))
    };
    let pid = match user_ns {
        None if early.is_empty() => clone_init(CloneFlags::empty())?,
        None => crate::userns::spawn_with(|| crate::userns::join_all(&early), clone_init)?,
        Some(path) => crate::userns::spawn_in(&path, linux, clone_init)?,
    };
    undo.child = Some(pid);
    cgroup.add(pid.as_raw())?;
    if flags.contains(CloneFlags::CLONE_NEWUSER) {
        write_id_maps(pid.as_raw(), linux)?;
    }
    let annotations: std::collections::HashMap<String, String> = spec.annotations().clone().unwrap_or_default().into_iter().collect();
    let hook_state = crate::hooks::state_json(&opts.id, "creating", pid.as_raw(), &bundle, &annotations);
    sync::put(&parent_sock, &Msg::Go { state: hook_state.clone() })?;
    loop {
        match sync::get(&parent_sock)? {
            Some(Msg::Ready) => break,
            Some(Msg::Console { name }) => {
                let master = sync::recv_fd(&parent_sock)?;
                crate::init::console::send_to_console_socket(opts.console_socket.as_deref().expect("checked above"), &master, &name)?;
            }
            Some(Msg::RuntimeHooks) => {
                // In the runtime's namespaces, with the container's namespaces in place and its
                // pid known (libnetwork-setkey finds the network namespace through it).
                let hooks = spec.hooks().as_ref();
                crate::hooks::run("prestart", hooks.and_then(|h| h.prestart().as_deref()).unwrap_or(&[]), &hook_state)?;
                crate::hooks::run("createRuntime", hooks.and_then(|h| h.create_runtime().as_deref()).unwrap_or(&[]), &hook_state)?;
                sync::put(&parent_sock, &Msg::Go { state: hook_state.clone() })?;
            }
            Some(Msg::Failed { message, code }) => {
                return Err(RuntimeError::Init { message: format!("unable to start container process: {message}"), code });
            }
            other => return Err(RuntimeError::Sys(format!("container init ended before it was ready ({other:?})"))),
        }
    }
    let state = State {
        oci_version: spec.version().clone(),
        id: opts.id.clone(),
        pid: pid.as_raw(),
        bundle,
        rootfs,
        created: now_rfc3339(),
        annotations,
        init_start_time: process_start_time(pid.as_raw()).map(|(t, _)| t).unwrap_or(0),
        cgroup_paths: cgroup.paths(),
        spec: spec.clone(),
    };
    state.save(&opts.root)?;
    if let Some(p) = &opts.pid_file {
        write_pid_file(p, pid.as_raw())?;
    }
    undo.dir = None;
    undo.cgroup = None;
    undo.child = None;
    Ok(state)
}

/// What the next clone(2) is born into without asking for it: a new or joined time namespace
/// and a joined pid namespace take effect for the caller's children, not the caller.
fn enter_for_children(linux: &oci_spec::runtime::Linux) -> Result<()> {
    let given = |t: LinuxNamespaceType| linux.namespaces().iter().flatten().find(|n| n.typ() == t);
    // A new time namespace cannot come from clone(2) (CLONE_NEWTIME overlaps the exit-signal
    // bits): unshare it here, and set its offsets while no process is in it yet
    // (time_namespaces(7)).
    if given(LinuxNamespaceType::Time).is_some_and(|n| n.path().is_none()) {
        nix::sched::unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
            .map_err(|e| RuntimeError::Sys(format!("unshare time namespace: {}", e.desc().to_lowercase())))?;
        let offsets: String = linux
            .time_offsets()
            .iter()
            .flatten()
            .map(|(clock, o)| format!("{clock} {} {}\n", o.secs().unwrap_or(0), o.nanosecs().unwrap_or(0)))
            .collect();
        if !offsets.is_empty() {
            std::fs::write("/proc/self/timens_offsets", &offsets)
                .map_err(|e| RuntimeError::Spec(format!("linux.timeOffsets {:?}: {e}", offsets.trim())))?;
        }
    }
    for (t, flag, name, op) in [
        (LinuxNamespaceType::Time, CloneFlags::from_bits_retain(libc::CLONE_NEWTIME), "time", "open time namespace"),
        (LinuxNamespaceType::Pid, CloneFlags::CLONE_NEWPID, "pid", "open pid namespace"),
    ] {
        if let Some(p) = given(t).and_then(|n| n.path().as_ref()) {
            let f = std::fs::File::open(p).map_err(RuntimeError::io(op, p))?;
            nix::sched::setns(f, flag)
                .map_err(|e| RuntimeError::Sys(format!("join {name} namespace {}: {}", p.display(), e.desc().to_lowercase())))?;
        }
    }
    Ok(())
}

/// user_namespaces(7): the maps are written once, before the init goes on; "containerID
/// hostID size" per line. Root writes them. A user writes a map of their own id alone (gids
/// only once setgroups(2) is denied in the namespace, which the kernel requires of an
/// unprivileged writer); other maps go through newuidmap(1)/newgidmap(1) (Debian's `uidmap`),
/// which check them against /etc/subuid and /etc/subgid, as runc's rootless mode does.
fn write_id_maps(pid: i32, linux: &oci_spec::runtime::Linux) -> Result<()> {
    let root = nix::unistd::geteuid().is_root();
    for (file, maps, own, helper) in [
        ("uid_map", linux.uid_mappings(), nix::unistd::geteuid().as_raw(), "newuidmap"),
        ("gid_map", linux.gid_mappings(), nix::unistd::getegid().as_raw(), "newgidmap"),
    ] {
        let maps: Vec<_> = maps.iter().flatten().collect();
        let text: String = maps.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect();
        let p = format!("/proc/{pid}/{file}");
        let written = if root || matches!(maps.as_slice(), [m] if m.size() == 1 && m.host_id() == own) {
            if !root && file == "gid_map" {
                let sg = format!("/proc/{pid}/setgroups");
                std::fs::write(&sg, "deny").map_err(|e| RuntimeError::Sys(format!("write deny to {sg}: {e}")))?;
            }
            std::fs::write(&p, &text).map_err(|e| e.to_string())
        } else {
            let args: Vec<String> = maps.iter().flat_map(|m| [m.container_id(), m.host_id(), m.size()].map(|n| n.to_string())).collect();
            match std::process::Command::new(helper).arg(pid.to_string()).args(&args).output() {
                Ok(o) if o.status.success() => Ok(()),
                Ok(o) => Err(format!("{helper}: {}", String::from_utf8_lossy(&o.stderr).trim())),
                Err(e) => Err(format!("{helper}: {e} (install Debian's uidmap)")),
            }
        };
        written.map_err(|e| RuntimeError::Sys(format!("write {} to {p}: {e}", text.trim().replace('\n', ", "))))?;
    }
    Ok(())
}

/// Written beside the target and renamed: a reader sees a whole pid or none (runc does this).
pub fn write_pid_file(p: &Path, pid: i32) -> Result<()> {
    let tmp = p.with_file_name(format!(".{}.tmp", p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
    std::fs::write(&tmp, pid.to_string()).map_err(RuntimeError::io("write pid file", &tmp))?;
    std::fs::rename(&tmp, p).map_err(RuntimeError::io("write pid file", p))
}

pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil from days (Howard Hinnant's algorithm), to avoid a date crate in the runtime.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z", rem / 3600, rem % 3600 / 60, rem % 60, d.subsec_nanos())
}
