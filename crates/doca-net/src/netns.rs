//! Network namespaces that outlive the process that made them: a new namespace bind-mounted on
//! a file (as `ip netns add` does), so the engine can configure it before the container starts
//! and the runtime joins it by path (config-linux.md "Namespaces": `path`).

use crate::NetError;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::fs::File;
use std::path::Path;

fn err(what: &str, path: &Path, e: nix::Error) -> NetError {
    NetError::Netns(format!("{what} {}: {}", path.display(), e.desc().to_lowercase()))
}

/// Makes a new network namespace, pins it at `path` (which must not exist), and runs `inside`
/// in it (a netlink socket made there stays there). The namespace is made by a short-lived
/// thread (unshare(2) changes only the calling thread's), so this process stays where it is.
pub fn create<T: Send + 'static>(
    path: &Path,
    inside: impl FnOnce() -> Result<T, NetError> + Send + 'static,
) -> Result<(File, T), NetError> {
    File::options().write(true).create_new(true).open(path).map_err(|e| NetError::Netns(format!("create {}: {e}", path.display())))?;
    let p = path.to_path_buf();
    let made = std::thread::spawn(move || -> Result<T, NetError> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| err("unshare network namespace for", &p, e))?;
        // /proc/thread-self: this thread's namespace, not the process's.
        mount(Some("/proc/thread-self/ns/net"), &p, None::<&str>, MsFlags::MS_BIND, None::<&str>)
            .map_err(|e| err("bind mount on", &p, e))?;
        inside()
    })
    .join()
    .map_err(|_| NetError::Netns("create network namespace: thread panicked".into()))?;
    match made {
        Ok(t) => Ok((open(path)?, t)),
        Err(e) => {
            let _ = remove(path);
            Err(e)
        }
    }
}

/// The namespace pinned at `path`.
pub fn open(path: &Path) -> Result<File, NetError> {
    File::open(path).map_err(|e| NetError::Netns(format!("open {}: {e}", path.display())))
}

/// Unpins and removes the namespace at `path`; a missing one is not an error. The namespace
/// itself goes when its last process and its last reference do (its veths with it).
pub fn remove(path: &Path) -> Result<(), NetError> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(e) => return Err(err("unmount", path, e)),
    }
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetError::Netns(format!("remove {}: {e}", path.display()))),
    }
}
