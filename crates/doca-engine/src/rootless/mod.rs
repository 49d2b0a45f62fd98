//! Rootless doca (issue 20): an ordinary user runs every command on a store of their own,
//! as root of a user namespace that maps them to root and their subordinate ids (subuid(5),
//! subgid(5)) to the ids after it, as Podman does.
//!
//! The namespace, a mount namespace in which containers' filesystems are mounted, and a
//! network namespace that is the user's "host" for doca's networks, must outlive each
//! command: a container started by `run -d` is stopped by a later `stop`, and `cp` reaches its
//! mounts. A *pause process* holds them: the first command that needs them starts it
//! (`doca __rootless-pause`, which unshares them, waits until newuidmap(1) and newgidmap(1)
//! have written its maps, then sleeps), and every command joins the user and mount namespaces
//! with setns(2) before anything else runs, and the network namespace in the threads that work
//! there (`in_netns`). Its pid and start time are in `<run root>/pause.pid`, written under
//! `<run root>/pause.lock`, so two first commands make one.
//!
//! The network namespace is what Docker's rootless mode (RootlessKit) gives dockerd: bridges,
//! the firewall table and the embedded DNS work in it as root's do on the host, and
//! `--network host` is it, not the host's own. slirp4netns(1) connects it to the host: the
//! containers' traffic leaves through the host's sockets (never to the host's loopback:
//! `--disable-host-loopback`, the escape of CVE-2020-8558's kind), exiting with the pause
//! process. Published ports are sockets that a port helper, started by the pause process
//! before it left the host's network, makes there (doca-shim `hostports`,
//! `networks::rootless`).
//!
//! setns(2) into a user namespace is refused to a multi-threaded process: `enter` must run
//! before the command starts a thread.

use crate::containers::record::MonitorId;
use crate::containers::userns::{parse_subids, SubIds};
use std::io::{BufRead, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The user's network namespace, once `enter` has found it.
static PAUSE_NETNS: std::sync::OnceLock<std::os::fd::OwnedFd> = std::sync::OnceLock::new();

thread_local! {
    /// Whether this thread has joined `PAUSE_NETNS` (setns(2) of a network namespace is the
    /// calling thread's alone).
    static IN_NETNS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` in the user's network namespace, where doca's bridges, firewall table, container
/// namespaces and monitors live: in a thread of its own that joins it, so that the caller
/// stays on the host's network; at once where this thread is in it already, or doca is root's.
/// What `f` starts (nft, the monitor) is in the namespace too.
pub fn in_netns<T: Send, E: From<RootlessError> + Send>(f: impl FnOnce() -> Result<T, E> + Send) -> Result<T, E> {
    use nix::sched::{setns, CloneFlags};
    let Some(ns) = PAUSE_NETNS.get() else { return f() };
    if IN_NETNS.with(std::cell::Cell::get) {
        return f();
    }
    std::thread::scope(|s| {
        let worker = s.spawn(|| {
            setns(ns, CloneFlags::CLONE_NEWNET)
                .map_err(|e| RootlessError::Setup(format!("join the user's network namespace: {}", e.desc())))?;
            IN_NETNS.with(|c| c.set(true));
            f()
        });
        worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// The first argument of the pause process.
pub const PAUSE_ARG: &str = "__rootless-pause";

/// The first argument of the port helper (`ports_main`).
pub const PORTS_ARG: &str = "__rootless-ports";

/// The port helper: `doca __rootless-ports SOCKET PARENT-PID`, started by the pause process on
/// the host's network (doca-shim `hostports`).
pub fn ports_main(mut args: impl Iterator<Item = std::ffi::OsString>) -> std::process::ExitCode {
    let (Some(sock), Some(parent)) = (args.next(), args.next().and_then(|p| p.to_str()?.parse().ok())) else {
        return std::process::ExitCode::FAILURE;
    };
    doca_shim::hostports::serve(Path::new(&sock), parent)
}

/// The port helper's socket in `run_root`.
pub fn ports_socket(run_root: &Path) -> PathBuf {
    doca_shim::hostports::socket(run_root)
}

#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    #[error("rootless: {path}: {reason}")]
    Unsafe { path: PathBuf, reason: String },
    #[error("rootless: {what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("rootless: {0}")]
    Setup(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RootlessError {
    let what = what.into();
    move |source| RootlessError::Io { what, source }
}

/// Whether this doca is an ordinary user's: not root, or root only of a user namespace (a
/// command that a rootless doca runs, such as the monitor's, is already in its namespace).
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root() || !doca_mount::userns::in_initial()
}

/// The user this doca acts for, as the host knows them.
fn host_uid() -> u32 {
    let uid = nix::unistd::geteuid().as_raw();
    if doca_mount::userns::in_initial() {
        uid
    } else {
        doca_mount::userns::host_uid(uid).unwrap_or(uid)
    }
}

/// `$XDG_DATA_HOME/doca`, else `~/.local/share/doca` (Podman's choice, and the XDG base
/// directory specification's place for a user's data).
pub fn default_root() -> PathBuf {
    match std::env::var_os("XDG_DATA_HOME").filter(|v| Path::new(v).is_absolute()) {
        Some(d) => PathBuf::from(d).join("doca"),
        None => home().join(".local/share/doca"),
    }
}

/// The user's home: `$HOME`, else their passwd entry's.
pub fn home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| {
        nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(host_uid()))
            .ok()
            .flatten()
            .map(|u| u.dir)
            .unwrap_or_else(|| PathBuf::from("/"))
    })
}

/// `$XDG_RUNTIME_DIR/doca`, else `/tmp/doca-run-UID` (Podman's fallback, without a login
/// manager to make the runtime directory). Checked by `private_run_root` before use: /tmp
/// is every user's, and another may have made that name first.
pub fn default_run_root() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| Path::new(v).is_absolute()) {
        Some(d) => PathBuf::from(d).join("doca"),
        None => PathBuf::from(format!("/tmp/doca-run-{}", host_uid())),
    }
}

/// Creates `dir` (0700) if missing, and accepts it only as a real directory of this user that
/// nobody else can enter: a directory or a symlink planted there by another local user would
/// get them doca's sockets, locks and the pause process's pid.
pub fn private_run_root(dir: &Path) -> Result<(), RootlessError> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(format!("create {}", dir.display()))(e)),
    }
    let m = std::fs::symlink_metadata(dir).map_err(io(format!("stat {}", dir.display())))?;
    let uid = nix::unistd::geteuid().as_raw();
    let reason = if !m.is_dir() {
        Some("not a directory (a symlink?)".to_string())
    } else if m.uid() != uid {
        Some(format!("owned by uid {}, not by this user", m.uid()))
    } else if m.mode() & 0o077 != 0 {
        Some(format!("mode {:o} lets other users in", m.mode() & 0o7777))
    } else {
        None
    };
    match reason {
        Some(reason) => Err(RootlessError::Unsafe { path: dir.to_path_buf(), reason: format!("{reason}: refusing it as doca's run root") }),
        None => Ok(()),
    }
}

/// The ids the pause process's namespace maps after root: the user's subordinate ranges, if
/// both files have one and newuidmap/newgidmap are installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subordinates {
    pub uid: SubIds,
    pub gid: SubIds,
}

/// The user's first lines in /etc/subuid and /etc/subgid, by name or uid.
pub fn subordinates() -> Option<Subordinates> {
    let uid = host_uid();
    let name = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten().map(|u| u.name).unwrap_or_default();
    let read = |f: &str| std::fs::read_to_string(f).ok().and_then(|t| parse_subids(&t, &name, uid));
    Some(Subordinates { uid: read("/etc/subuid")?, gid: read("/etc/subgid")? })
}

/// A helper program (slirp4netns, fuse-overlayfs) from the system's directories only: never
/// one that the caller's PATH puts first.
pub(crate) fn tool(name: &str) -> Option<PathBuf> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].iter().map(|d| Path::new(d).join(name)).find(|p| p.exists())
}

/// Why a rootless doca has no cgroup to put containers in, or None when it has one (or is
/// root's). Delegation needs cgroup v2 with a subtree the user may write (systemd's
/// `user@.service` delegates one); on cgroup v1, as on this project's test machines, a user has
/// none: limits, pause and stats need one.
pub fn no_cgroups() -> Option<String> {
    if !is_rootless() {
        return None;
    }
    if !Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        return Some(
            "and this host has cgroup v1, which gives an ordinary user no cgroup of their own (delegation needs cgroup v2)".into(),
        );
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = own.lines().find_map(|l| l.strip_prefix("0::"))?;
    let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    match nix::unistd::access(&dir.join("cgroup.procs"), nix::unistd::AccessFlags::W_OK) {
        Ok(()) => None,
        Err(_) => Some(format!("and the user's cgroup {} is not delegated to them (systemd's user@.service delegates one)", dir.display())),
    }
}

/// What `doca info` warns of in rootless use: what is refused, and why.
pub fn warnings(run_root: &Path) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(why) = no_cgroups() {
        w.push(format!(
            "WARNING: rootless, {why}: --memory, --cpus, --pids-limit and the other limits, pause, and stats' figures are not available"
        ));
    }
    let mapped = std::fs::read_to_string("/proc/self/uid_map").map(|m| m.lines().count()).unwrap_or(0);
    if mapped < 2 {
        w.push(
            "WARNING: rootless, only the user's own id is mapped (no lines for the user in /etc/subuid and /etc/subgid, or no newuidmap \
             from the uidmap package): files of other owners in images cannot be stored"
                .into(),
        );
    }
    if !slirp_socket(run_root).exists() {
        w.push(
            "WARNING: rootless, containers on networks have no way out of the user's network namespace (slirp4netns is missing or failed)"
                .into(),
        );
    }
    w
}

/// Joins the user's pause process's namespaces, starting it first if it is not running.
/// Does nothing for root, or in a process already inside them.
pub fn enter(run_root: &Path) -> Result<(), RootlessError> {
    if nix::unistd::geteuid().is_root() || !doca_mount::userns::in_initial() {
        return Ok(());
    }
    private_run_root(run_root)?;
    let lock_path = run_root.join("pause.lock");
    let _lock =
        doca_store::StoreLock::acquire(&lock_path, doca_store::LockMode::Exclusive).map_err(io(format!("lock {}", lock_path.display())))?;
    let pid_file = run_root.join("pause.pid");
    let pause = match read_pid_file(&pid_file) {
        Some(p) if p.alive() => p,
        _ => {
            let p = start_pause(run_root)?;
            let tmp = run_root.join("pause.pid.tmp");
            std::fs::write(&tmp, format!("{} {}\n", p.pid, p.start_time)).map_err(io(format!("write {}", tmp.display())))?;
            std::fs::rename(&tmp, &pid_file).map_err(io(format!("write {}", pid_file.display())))?;
            p
        }
    };
    join(pause)
}

fn read_pid_file(path: &Path) -> Option<MonitorId> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut f = text.split_whitespace();
    Some(MonitorId { pid: f.next()?.parse().ok()?, start_time: f.next()?.parse().ok()? })
}

/// setns(2) into the pause process's user and mount namespaces (its network namespace is kept
/// for `in_netns`). Joining a mount namespace sets the working directory to its root: it is
/// set back by name (the namespace sees the host's directories: its mounts propagate from the
/// host's).
fn join(pause: MonitorId) -> Result<(), RootlessError> {
    use nix::sched::{setns, CloneFlags};
    let cwd = std::env::current_dir().ok();
    let open = |ns: &str| {
        let p = format!("/proc/{}/ns/{ns}", pause.pid);
        std::fs::File::open(&p).map_err(io(format!("open {p}")))
    };
    let (user, mnt, net) = (open("user")?, open("mnt")?, open("net")?);
    // The pid was checked alive with its start time before these opens, and is checked again
    // after: the namespaces are that process's, not a recycled pid's.
    if !pause.alive() {
        return Err(RootlessError::Setup(format!("the pause process {} ended while joining it: run the command again", pause.pid)));
    }
    setns(&user, CloneFlags::CLONE_NEWUSER).map_err(|e| RootlessError::Setup(format!("join the user namespace: {}", e.desc())))?;
    doca_mount::userns::changed();
    setns(&mnt, CloneFlags::CLONE_NEWNS).map_err(|e| RootlessError::Setup(format!("join the mount namespace: {}", e.desc())))?;
    // The network namespace is joined by the threads that work in it (`in_netns`): this one
    // stays on the host's network, where pulls, pushes and logins reach the host's registries
    // (one on its loopback too) at the host's speed, not through slirp4netns.
    let _ = PAUSE_NETNS.set(net.into());
    if let Some(d) = cwd {
        let _ = std::env::set_current_dir(d);
    }
    // doca runs the host's administration tools (nft) as root of its namespace: an ordinary
    // user's PATH lacks their directories. (One thread still: nothing reads the environment
    // concurrently.)
    let path = std::env::var("PATH").unwrap_or_default();
    let missing: Vec<&str> = ["/usr/local/sbin", "/usr/sbin", "/sbin"].into_iter().filter(|d| !path.split(':').any(|p| p == *d)).collect();
    if !missing.is_empty() {
        std::env::set_var("PATH", if path.is_empty() { missing.join(":") } else { format!("{path}:{}", missing.join(":")) });
    }
    Ok(())
}

/// Starts the pause process and writes its maps: the user as root and the subordinate ranges
/// after it with newuidmap/newgidmap, or with neither the user's id alone (a process may map
/// its own id into a namespace it made, once setgroups(2) is denied there:
/// user_namespaces(7) "Writing deny to the /proc/pid/setgroups file").
fn start_pause(run_root: &Path) -> Result<MonitorId, RootlessError> {
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().map_err(io("find doca's own binary"))?;
    let sock = ports_socket(&std::path::absolute(run_root).map_err(io("resolve the run root"))?);
    let mut child = Command::new(exe)
        .arg(PAUSE_ARG)
        .arg(sock)
        .env_clear()
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io("start the pause process"))?;
    let pid = child.id() as i32;
    let mut to = child.stdin.take().expect("piped");
    let mut from = std::io::BufReader::new(child.stdout.take().expect("piped"));
    // (`from` ends up as slirp4netns's stdin: once "ready" is read nothing more is buffered.)
    let mut line = String::new();
    let result = (|| {
        from.read_line(&mut line).map_err(io("read from the pause process"))?;
        if line.trim() != "unshared" {
            return Err(RootlessError::Setup(format!("the pause process could not make a user namespace: {}", line.trim())));
        }
        write_maps(pid)?;
        to.write_all(b"mapped\n").map_err(io("write to the pause process"))?;
        line.clear();
        from.read_line(&mut line).map_err(io("read from the pause process"))?;
        if line.trim() != "ready" {
            return Err(RootlessError::Setup(format!("the pause process failed: {}", line.trim())));
        }
        MonitorId::of(pid).ok_or_else(|| RootlessError::Setup("the pause process ended at once".into()))
    })();
    let pause = match result {
        Ok(p) => p,
        Err(e) => {
            let _ = child.kill();
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().expect("piped"), &mut err);
            let _ = child.wait();
            return Err(if err.trim().is_empty() { e } else { RootlessError::Setup(format!("{e}: {}", err.trim())) });
        }
    };
    // slirp4netns ends when the pause process does: its --exit-fd is the read end of the
    // pause process's stdout, which nobody writes to again and closes when it exits.
    let exit_fd = std::process::Stdio::from(std::os::fd::OwnedFd::from(from.into_inner()));
    // Without it the user's containers still run, with no way out of the namespace: said now,
    // and by `doca info` and a refused `-p` later.
    if let Err(e) = start_slirp4netns(run_root, pause, exit_fd) {
        eprintln!("WARNING: {e}: containers on networks have no way out");
    }
    // The pause process is nobody's child to wait for: once this command exits it is
    // reparented and reaped by the host's init when it ends.
    Ok(pause)
}

/// The slirp4netns API socket (`networks::slirp`) in `run_root`.
pub fn slirp_socket(run_root: &Path) -> PathBuf {
    run_root.join("slirp4netns.sock")
}

/// Connects the pause process's network namespace to the host: a tap device `tap0` with
/// 10.0.2.100/24, the default route and DNS at 10.0.2.3 (slirp4netns(1) `--configure`), and
/// the API socket for host forwards. Without slirp4netns the namespace has no way out, and
/// `doca info` says so. Waits until it is configured (`--ready-fd`).
fn start_slirp4netns(run_root: &Path, pause: MonitorId, exit_fd: std::process::Stdio) -> Result<(), RootlessError> {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let Some(prog) = tool("slirp4netns") else { return Ok(()) };
    let api = slirp_socket(run_root);
    let _ = std::fs::remove_file(&api);
    let mut child = Command::new(&prog)
        .args(["--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox", "--exit-fd=0", "--ready-fd=1"])
        .arg(format!("--api-socket={}", api.display()))
        .arg(format!("--userns-path=/proc/{}/ns/user", pause.pid))
        .arg(pause.pid.to_string())
        .arg("tap0")
        .stdin(exit_fd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(io(format!("run {}", prog.display())))?;
    let mut ready = [0u8; 1];
    let ok = child.stdout.take().expect("piped").read(&mut ready).is_ok_and(|n| n == 1);
    if !ok {
        let mut err = String::new();
        let _ = child.stderr.take().expect("piped").read_to_string(&mut err);
        let _ = child.kill();
        let _ = child.wait();
        let hint = if err.contains("/dev/net/tun") { " (/dev/net/tun must be mode 0666, as Debian's udev rules make it)" } else { "" };
        return Err(RootlessError::Setup(format!("slirp4netns failed: {}{hint}", err.trim().lines().next().unwrap_or(""))));
    }
    Ok(())
}

fn write_maps(pid: i32) -> Result<(), RootlessError> {
    let (uid, gid) = (nix::unistd::geteuid().as_raw(), nix::unistd::getegid().as_raw());
    match (subordinates(), tool("newuidmap"), tool("newgidmap")) {
        (Some(s), Some(nu), Some(ng)) => {
            let run = |prog: &Path, own: u32, sub: SubIds| -> Result<(), RootlessError> {
                let out = std::process::Command::new(prog)
                    .args([
                        pid.to_string(),
                        "0".into(),
                        own.to_string(),
                        "1".into(),
                        "1".into(),
                        sub.start.to_string(),
                        sub.count.to_string(),
                    ])
                    .output()
                    .map_err(io(format!("run {}", prog.display())))?;
                if out.status.success() {
                    Ok(())
                } else {
                    Err(RootlessError::Setup(format!("{}: {}", prog.display(), String::from_utf8_lossy(&out.stderr).trim())))
                }
            };
            run(&nu, uid, s.uid)?;
            run(&ng, gid, s.gid)
        }
        _ => {
            let w = |file: &str, text: String| {
                let p = format!("/proc/{pid}/{file}");
                std::fs::write(&p, text).map_err(io(format!("write {p}")))
            };
            w("uid_map", format!("0 {uid} 1\n"))?;
            w("setgroups", "deny".into())?;
            w("gid_map", format!("0 {gid} 1\n"))
        }
    }
}

/// The pause process: unshares a user namespace, says so on stdout, waits for "mapped" on
/// stdin, becomes its root, unshares a mount namespace that receives the host's mounts but
/// sends none back (MS_SLAVE: mount_namespaces(7)) and a network namespace with its loopback
/// up, says "ready", and sleeps until killed. Before the network namespace, it starts the port
/// helper on `ports_socket` (doca-shim `hostports`).
/// In a session of its own, so that the terminal's ^C to the first command does not end it.
pub fn pause_main(ports_socket: Option<PathBuf>) -> std::process::ExitCode {
    use nix::mount::{mount, MsFlags};
    use nix::sched::{unshare, CloneFlags};
    let fail = |what: &str, e: nix::Error| {
        println!("{what}: {}", e.desc());
        std::process::ExitCode::FAILURE
    };
    let _ = nix::unistd::setsid();
    if let Err(e) = unshare(CloneFlags::CLONE_NEWUSER) {
        return fail("unshare a user namespace", e);
    }
    println!("unshared");
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() || line.trim() != "mapped" {
        return std::process::ExitCode::FAILURE;
    }
    let root_gid = nix::unistd::Gid::from_raw(0);
    let root_uid = nix::unistd::Uid::from_raw(0);
    if let Err(e) = nix::unistd::setresgid(root_gid, root_gid, root_gid) {
        return fail("become root of the namespace (gid)", e);
    }
    if let Err(e) = nix::unistd::setresuid(root_uid, root_uid, root_uid) {
        return fail("become root of the namespace (uid)", e);
    }
    // Denied when only the user's own id is mapped: the user's groups then stay as they were.
    let _ = nix::unistd::setgroups(&[]);
    // The port helper stays on the host's network (doca-shim `hostports`), and ends with
    // this process. Its stdio is nothing of the first command's pipes: slirp4netns's exit
    // signal is this process's stdout closing, which a copy must not delay.
    if let Some(sock) = ports_socket {
        let helper = std::env::current_exe().and_then(|exe| {
            std::process::Command::new(exe)
                .arg(PORTS_ARG)
                .arg(sock)
                .arg(std::process::id().to_string())
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
        });
        if let Err(e) = helper {
            println!("start the port helper: {e}");
            return std::process::ExitCode::FAILURE;
        }
    }
    if let Err(e) = unshare(CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWNET) {
        return fail("unshare a mount and a network namespace", e);
    }
    let lo = doca_net::link::Netlink::open().and_then(|mut nl| match nl.index("lo")? {
        Some(i) => nl.set_up(i, None),
        None => Ok(()),
    });
    if let Err(e) = lo {
        println!("bring up lo: {e}");
        return std::process::ExitCode::FAILURE;
    }
    if let Err(e) = mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_SLAVE, None::<&str>) {
        return fail("make the mounts slaves", e);
    }
    println!("ready");
    // Nothing of the first command is held but stdout, slirp4netns's exit signal (never
    // written to again): stdin and stderr are the first command's pipes.
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
    loop {
        nix::unistd::pause();
    }
}
