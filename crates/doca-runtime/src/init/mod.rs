//! The container's first process, between clone(2) and execve(2). It runs in the new
//! namespaces, in a copy of the runtime's (single-threaded) memory.

pub mod console;
pub mod process;
pub mod rootfs;

use crate::cgroups::Cgroup;
use crate::error::{Result, RuntimeError};
use crate::sync::{self, Msg};
use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::collections::HashSet;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::PathBuf;

pub struct InitContext<'a> {
    pub spec: &'a Spec,
    pub rootfs: PathBuf,
    pub exec_fifo: PathBuf,
    pub sync: OwnedFd,
    pub cgroup: &'a Cgroup,
    pub preserve_fds: i32,
    pub no_pivot: bool,
    /// Unshare the cgroup namespace now that the runtime has put us in our cgroup.
    pub cgroupns: bool,
    /// linux.seccomp, compiled by the runtime before the clone.
    pub seccomp: Option<&'a crate::seccomp::Filter>,
}

/// Runs the init; never returns. Failures go back to the runtime over the sync socket.
pub fn run(ctx: InitContext) -> isize {
    match init(&ctx) {
        Ok(never) => match never {},
        Err(e) => {
            let _ = sync::put(&ctx.sync, &Msg::Failed { message: e.to_string(), code: e.exit_code() });
            e.exit_code().max(1) as isize
        }
    }
}

fn has_new(spec: &Spec, t: LinuxNamespaceType) -> bool {
    spec.linux().as_ref().and_then(|l| l.namespaces().as_ref()).is_some_and(|ns| ns.iter().any(|n| n.typ() == t && n.path().is_none()))
}

/// A namespace of this type, new or joined by path.
fn has(spec: &Spec, t: LinuxNamespaceType) -> bool {
    spec.linux().as_ref().and_then(|l| l.namespaces().as_ref()).is_some_and(|ns| ns.iter().any(|n| n.typ() == t))
}

fn init(ctx: &InitContext) -> Result<std::convert::Infallible> {
    // Until execve this process is doca-runc's image. Not dumpable, no process of the container
    // can open it through /proc/1/exe and overwrite the runtime on the host (CVE-2019-5736).
    // execve of the container's program makes it dumpable again. Made so once the runtime has
    // written the user namespace's maps (the Go): a non-dumpable process's /proc files are
    // root's, and a rootless runtime could not open them. Until then nothing of the container
    // runs, and only the runtime's own user could reach this process.
    let hook_state = wait_go(&ctx.sync)?;
    nix::sys::prctl::set_dumpable(false).map_err(|e| RuntimeError::Sys(format!("prctl(PR_SET_DUMPABLE): {}", e.desc().to_lowercase())))?;
    let start_hooks_state: Option<String>;
    if ctx.cgroupns {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| RuntimeError::Sys(format!("unshare cgroup namespace: {}", e.desc().to_lowercase())))?;
    }
    let spec = ctx.spec;
    let proc_ = spec.process().as_ref().ok_or_else(|| RuntimeError::Spec("process is required".into()))?;
    // The fifo lives in the runtime's state dir on the host: hold it before pivot_root, and
    // before becoming root of a user namespace (that root is another uid on the host, which the
    // state directory, 0700, does not let in).
    let fifo = open(&ctx.exec_fifo, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| RuntimeError::Sys(format!("open {}: {}", ctx.exec_fifo.display(), e.desc().to_lowercase())))?;
    if has(ctx.spec, LinuxNamespaceType::User) {
        // New (its maps are written by now) or joined: become the namespace's root (its uid 0, another uid on the host).
        nix::unistd::setresgid(0.into(), 0.into(), 0.into())
            .map_err(|e| RuntimeError::Sys(format!("setgid 0 in the user namespace: {}", e.desc().to_lowercase())))?;
        nix::unistd::setresuid(0.into(), 0.into(), 0.into())
            .map_err(|e| RuntimeError::Sys(format!("setuid 0 in the user namespace: {}", e.desc().to_lowercase())))?;
    }
    if has_new(spec, LinuxNamespaceType::Uts) {
        if let Some(h) = spec.hostname() {
            nix::unistd::sethostname(h).map_err(|e| RuntimeError::Sys(format!("sethostname {h}: {}", e.desc().to_lowercase())))?;
        }
        if let Some(d) = spec.domainname() {
            set_domainname(d)?;
        }
    }
    // A joined mount namespace gets the rootfs set up in it too (runc does the same).
    if has(spec, LinuxNamespaceType::Mount) {
        rootfs::prepare(spec, &ctx.rootfs, ctx.cgroup)?;
        let hooks = spec.hooks().as_ref();
        let mut hook_state = hook_state;
        if hooks.is_some_and(|h| h.prestart().is_some() || h.create_runtime().is_some()) {
            sync::put(&ctx.sync, &Msg::RuntimeHooks)?;
            hook_state = wait_go(&ctx.sync)?;
        }
        // createContainer: in the container's namespaces, before pivot_root (config.md).
        crate::hooks::run("createContainer", hooks.and_then(|h| h.create_container().as_deref()).unwrap_or(&[]), &hook_state)?;
        rootfs::enter(&ctx.rootfs, ctx.no_pivot)?;
        start_hooks_state = Some(hook_state);
    } else {
        return Err(RuntimeError::Spec("linux.namespaces: a new mount namespace is required".into()));
    }
    for (k, v) in spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()).into_iter().flatten() {
        // Validated at create (sysctl::validate): a key of the container's own namespaces.
        let p = crate::sysctl::path(k)?;
        std::fs::write(&p, v).map_err(|e| RuntimeError::Sys(format!("sysctl {k}={v}: {e}")))?;
    }
    rootfs::finish(spec)?;
    if proc_.terminal() == Some(true) {
        let size = proc_.console_size().as_ref().map(|b| (b.height() as u16, b.width() as u16));
        send_console(&ctx.sync, size)?;
    } else {
        detach_from_terminal()?;
    }
    if let Some(adj) = proc_.oom_score_adj() {
        process::oom_score_adj(adj)?;
    }
    process::rlimits(proc_.rlimits().as_deref().unwrap_or(&[]))?;
    if let Some(p) = spec.linux().as_ref().and_then(|l| l.personality().as_ref()) {
        process::personality(p)?;
    }
    let nnp = proc_.no_new_privileges() == Some(true);
    let filter = ctx.seccomp;
    // Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we still have
    // it. With no_new_privs it is loaded last, right before execve, so that as few of our own
    // syscalls as possible run under the container's filter (runc does the same).
    if let (Some(f), false) = (filter, nnp) {
        crate::seccomp::load(f)?;
    }
    process::user_and_capabilities(proc_)?;
    let cwd = proc_.cwd();
    if !cwd.is_absolute() {
        return Err(RuntimeError::Spec(format!("process.cwd {} is not absolute", cwd.display())));
    }
    // After pivot_root "/" is the container's root, so cwd cannot name a host directory.
    std::fs::create_dir_all(cwd).ok();
    nix::unistd::chdir(cwd).map_err(|e| {
        RuntimeError::Sys(format!("chdir to cwd {:?} set in config.json failed: {}", cwd.display(), e.desc().to_lowercase()))
    })?;
    if nnp {
        process::no_new_privs()?;
    }
    let args = proc_.args().as_deref().unwrap_or(&[]);
    let arg0 = args.first().ok_or_else(|| RuntimeError::Spec("process.args must not be empty".into()))?;
    let env = proc_.env().clone().unwrap_or_default();
    let exe = process::find_executable(arg0, &env)?;
    let keep: HashSet<i32> = (3..3 + ctx.preserve_fds).chain([fifo.as_raw_fd(), ctx.sync.as_raw_fd()]).collect();
    process::close_fds_on_exec(&keep)?;
    let cstr = |s: &str| CString::new(s).map_err(|_| RuntimeError::Spec(format!("process: {s:?} contains a NUL byte")));
    let exe_c = cstr(&exe.to_string_lossy())?;
    let argv: Vec<CString> = args.iter().map(|a| cstr(a)).collect::<Result<_>>()?;
    let envp: Vec<CString> = env.iter().map(|e| cstr(e)).collect::<Result<_>>()?;
    // Ready: the runtime's `create` may now exit without taking the init with it.
    nix::sys::prctl::set_pdeathsig(None).map_err(RuntimeError::sys("prctl(PR_SET_PDEATHSIG)"))?;
    sync::put(&ctx.sync, &Msg::Ready)?;
    // From here on the runtime no longer listens: failures go to the container's stderr.
    let fail = |what: &str, e: nix::Error| -> ! {
        eprintln!("doca-runc init: {what}: {}", e.desc().to_lowercase());
        std::process::exit(1)
    };
    // Wait for `start`: opening the fifo for writing blocks until `start` opens it to read.
    let w = open(format!("/proc/self/fd/{}", fifo.as_raw_fd()).as_str(), OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())
        .unwrap_or_else(|e| fail("open exec fifo", e));
    nix::unistd::write(&w, &[0]).unwrap_or_else(|e| fail("write exec fifo", e));
    drop(w);
    drop(fifo);
    // startContainer: in the container, after `start`, before the program (config.md).
    if let Some(h) = spec.hooks().as_ref().and_then(|h| h.start_container().as_deref()) {
        let state = start_hooks_state.unwrap_or_default().replace("\"status\":\"creating\"", "\"status\":\"running\"");
        if let Err(e) = crate::hooks::run("startContainer", h, &state) {
            eprintln!("doca-runc init: {e}");
            std::process::exit(1);
        }
    }
    // Before seccomp: a strict profile may not allow rt_sigaction.
    crate::signals::reset_for_exec();
    if let (Some(f), true) = (filter, nnp) {
        if let Err(e) = crate::seccomp::load(f) {
            eprintln!("doca-runc init: {e}");
            std::process::exit(1);
        }
    }
    let e = nix::unistd::execve(&exe_c, &argv, &envp).unwrap_err();
    // The runtime has gone; stderr is all that is left to tell.
    let code = if e == nix::Error::ENOENT { 127 } else { 126 };
    eprintln!("exec {arg0:?}: {}", e.desc().to_lowercase());
    std::process::exit(code)
}

/// A process without process.terminal starts a session of its own: it then has no controlling
/// terminal, so whatever terminal the runtime's caller had (inherited by the runtime) is not
/// the container's `/dev/tty`, and TIOCSTI on it is refused (it needs the terminal to be the
/// caller's controlling one, tty_ioctl(4)). A pty is set up the same way, in console::setup.
pub fn detach_from_terminal() -> Result<()> {
    nix::unistd::setsid().map(|_| ()).map_err(RuntimeError::sys("setsid"))
}

/// Makes a pty our terminal and sends its master to the runtime.
pub fn send_console(sock: &OwnedFd, size: Option<(u16, u16)>) -> Result<()> {
    let (master, name) = console::setup(size)?;
    sync::put(sock, &Msg::Console { name: name.clone() })?;
    sync::send_fd(sock, &name, master.as_raw_fd())
}

fn wait_go(sock: &OwnedFd) -> Result<String> {
    match sync::get(sock)? {
        Some(Msg::Go { state }) => Ok(state),
        other => Err(RuntimeError::Sys(format!("init: expected go from the runtime, got {other:?}"))),
    }
}

fn set_domainname(d: &str) -> Result<()> {
    // SAFETY: setdomainname reads `len` bytes from a valid buffer.
    if unsafe { libc::setdomainname(d.as_ptr().cast(), d.len()) } != 0 {
        return Err(RuntimeError::Sys(format!("setdomainname {d}: {}", std::io::Error::last_os_error())));
    }
    Ok(())
}
