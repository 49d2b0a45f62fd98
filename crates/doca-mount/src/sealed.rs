//! An executable no container can write: the binary seen through a read-only overlayfs that
//! is never attached to any mount namespace (fsopen(2)/fsmount(2)), as runc 1.2 seals itself
//! (libcontainer/exeseal). A process executed from it has it as `/proc/self/exe`: reopening
//! that for writing fails (EROFS), and unlike a read-only bind mount there is no writable mount
//! of the same inode to reach it through. No copy is made; the page cache is the binary's.
//!
//! doca-runc seals itself before it enters a container (CVE-2019-5736); the engine and the
//! monitor, which run doca-runc often, start it already sealed, which doca-runc recognises, so
//! it need not execute itself a second time.

use rustix::fs::{self as rfs, Mode, OFlags};
use rustix::mount::{self as rmount, FsMountFlags, FsOpenFlags, MountAttrFlags};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// A sealed view of an executable, held by an O_PATH descriptor.
#[derive(Debug)]
pub struct SealedExe {
    fd: OwnedFd,
}

impl SealedExe {
    /// Seals `binary`. overlayfs is lower-only (nothing can be written) with two lower layers:
    /// the binary's directory on top (so a file of the same name in `scratch` cannot mask it)
    /// and `scratch`, an existing directory of the caller's own.
    pub fn new(binary: &Path, scratch: &Path) -> io::Result<SealedExe> {
        let real = std::fs::canonicalize(binary)?;
        let (Some(dir), Some(name)) = (real.parent(), real.file_name()) else {
            return Err(io::Error::other(format!("{} has no directory", real.display())));
        };
        // lowerdir separates layers with ':' and escapes with '\' (filesystems/overlayfs.rst).
        let esc = |p: &Path| p.to_string_lossy().replace('\\', "\\\\").replace(':', "\\:");
        let ctx = rmount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
        rmount::fsconfig_set_string(&ctx, "lowerdir", format!("{}:{}", esc(dir), esc(scratch)).as_str())?;
        // xino only adds log lines when the layers are on different filesystems.
        let _ = rmount::fsconfig_set_string(&ctx, "xino", "off");
        rmount::fsconfig_create(&ctx)?;
        let attrs = MountAttrFlags::MOUNT_ATTR_RDONLY | MountAttrFlags::MOUNT_ATTR_NODEV | MountAttrFlags::MOUNT_ATTR_NOSUID;
        let mnt = rmount::fsmount(&ctx, FsMountFlags::FSMOUNT_CLOEXEC, attrs)?;
        let fd = rfs::openat(&mnt, name, OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC, Mode::empty())?;
        Ok(SealedExe { fd })
    }

    /// The descriptor, for execveat(2).
    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// A path that executes it, valid in this process and in children it spawns (execve
    /// resolves it before close-on-exec descriptors are closed).
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()))
    }
}

/// How to run `binary` when it enters a container: doca-runc through a sealed view of itself
/// (`SealedExe`, which doca-runc recognises, so it need not re-execute itself), anything else
/// (runc, crun seal themselves), or doca-runc where sealing fails (it then seals itself), as it
/// is. Keep the value until the program has been started: the view lives as long as it does
/// (and then as long as the started process runs from it).
pub enum RuntimeProgram {
    Sealed(SealedExe),
    Plain(PathBuf),
}

impl RuntimeProgram {
    pub fn new(binary: &Path, scratch: &Path) -> RuntimeProgram {
        if binary.file_name().is_some_and(|n| n == "doca-runc") {
            if let Ok(s) = std::fs::create_dir_all(scratch).and_then(|_| SealedExe::new(binary, scratch)) {
                return RuntimeProgram::Sealed(s);
            }
        }
        RuntimeProgram::Plain(binary.to_path_buf())
    }

    /// The path to execute.
    pub fn path(&self) -> PathBuf {
        match self {
            RuntimeProgram::Sealed(s) => s.path(),
            RuntimeProgram::Plain(p) => p.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_sealed_binary_runs_and_cannot_be_written() {
        if !rustix::process::geteuid().is_root() {
            return;
        }
        let scratch = std::env::temp_dir();
        let s = super::SealedExe::new(std::path::Path::new("/bin/true"), &scratch).expect("seal /bin/true");
        assert!(std::process::Command::new(s.path()).status().unwrap().success());
        let e = std::fs::OpenOptions::new().write(true).open(s.path()).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(30), "EROFS: {e}");
    }
}
