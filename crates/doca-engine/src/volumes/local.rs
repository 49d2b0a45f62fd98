//! The local driver's options (`volume create -o type=... -o device=... -o o=...`, or
//! `--mount volume-opt=`): the volume's `_data` is a mount of `device` (a tmpfs, a block
//! device, a host directory with `o=bind`) made when the first container using it starts and
//! taken away when the last one stops, as docker's local driver does (volume/local/local_unix.go).
//!
//! Without a daemon to count users in memory, the count is files: `<run_root>/volumes/<name>/
//! users/<container id>`, changed under a lock on that directory. The run root is a tmpfs, so a
//! reboot forgets users and mounts together.

use crate::EngineError;
use doca_mount::{parse_options, MountOptions};
use nix::mount::MsFlags;
use std::collections::BTreeMap;
use std::path::Path;

/// The options docker's local driver accepts, and those each one needs beside it.
const VALID: [&str; 4] = ["type", "o", "device", "size"];
const NEEDS: [(&str, &[&str]); 3] = [("device", &["type"]), ("type", &["device"]), ("o", &["device", "type"])];

fn invalid(m: String) -> EngineError {
    EngineError::InvalidArgument(m)
}

/// Checks options as docker's `validateOpts` does, with its messages.
pub fn validate(opts: &BTreeMap<String, String>) -> Result<(), EngineError> {
    for k in opts.keys() {
        if !VALID.contains(&k.as_str()) {
            return Err(invalid(format!("invalid option: \"{k}\"")));
        }
    }
    if opts.contains_key("size") {
        // docker sets a project quota on xfs with pquota; doca keeps no quota support.
        return Err(invalid("quota size requested but no quota support".into()));
    }
    for (k, needs) in NEEDS {
        if opts.contains_key(k) {
            if let Some(missing) = needs.iter().find(|n| !opts.contains_key(**n)) {
                return Err(invalid(format!("missing required option: \"{missing}\"")));
            }
        }
    }
    if let Some(o) = opts.get("o") {
        parse_o(o)?;
    }
    Ok(())
}

/// Whether a volume with these options is a mount rather than a plain directory.
pub fn needs_mount(opts: &BTreeMap<String, String>) -> bool {
    opts.contains_key("type") || opts.contains_key("device")
}

/// `o=` split as mount(8) reads it (the runtime's parser of OCI mount options: the same
/// names): flags for mount(2), propagation for a second call, the rest as the filesystem's data.
fn parse_o(o: &str) -> Result<MountOptions, EngineError> {
    let opts: Vec<String> = o.split(',').filter(|s| !s.is_empty()).map(String::from).collect();
    if let Some(bad) = opts.iter().find(|o| ["remount", "rro"].contains(&o.as_str())) {
        return Err(invalid(format!("invalid option: o={bad}: a volume is mounted afresh, with mount(2)'s flags only")));
    }
    Ok(parse_options(&opts))
}

/// The host path a volume with `o=bind` (or `rbind`) mounts: a bind source like `-v`'s, held
/// to the same rule (never into doca's store).
pub fn bind_device(opts: &BTreeMap<String, String>) -> Option<&str> {
    let o = parse_o(opts.get("o")?).ok()?;
    o.flags.contains(MsFlags::MS_BIND).then(|| opts.get("device").map(String::as_str)).flatten()
}

/// `password=...` in `o` never reaches an error message (docker masks it the same way).
fn masked(o: &str) -> String {
    o.split(',')
        .map(|p| if p.starts_with("password=") { "password=********".to_string() } else { p.to_string() })
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `path` is the root of a mount (statx's STATX_ATTR_MOUNT_ROOT, Linux 5.8; it also
/// sees bind mounts of the same filesystem, which st_dev cannot).
pub fn is_mount_root(path: &Path) -> Result<bool, EngineError> {
    use rustix::fs::{statx, AtFlags, StatxAttributes, StatxFlags, CWD};
    let st = statx(CWD, path, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::BASIC_STATS).map_err(|e| EngineError::io("stat", path)(e.into()))?;
    if !st.stx_attributes_mask.contains(StatxAttributes::MOUNT_ROOT) {
        return Err(EngineError::Internal(format!("stat {}: the kernel does not report mount roots", path.display())));
    }
    Ok(st.stx_attributes.contains(StatxAttributes::MOUNT_ROOT))
}

/// Mounts `device` on `target` as the options say.
pub fn mount(opts: &BTreeMap<String, String>, target: &Path, volume: &str) -> Result<(), EngineError> {
    let device = opts.get("device").map(String::as_str).unwrap_or("");
    let fstype = opts.get("type").map(String::as_str).unwrap_or("");
    let o = opts.get("o").map(String::as_str).unwrap_or("");
    let parsed = parse_o(o)?;
    let fail = |e: nix::Error| {
        EngineError::InvalidArgument(format!(
            "error while mounting volume '{}': failed to mount local volume: mount {device}:{} (type {fstype}, options '{}'): {}",
            volume,
            target.display(),
            masked(o),
            e.desc().to_lowercase()
        ))
    };
    let data = parsed.data.join(",");
    let data = (!data.is_empty()).then_some(data.as_str());
    let fstype = (!fstype.is_empty() && fstype != "none").then_some(fstype);
    nix::mount::mount(Some(device), target, fstype, parsed.flags, data).map_err(fail)?;
    // A bind mount ignores MS_RDONLY and friends on the first call (mount(2), "Creating a bind
    // mount"): they take a remount.
    let remount = MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    if parsed.flags.contains(MsFlags::MS_BIND) && parsed.flags.intersects(remount) {
        let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | (parsed.flags & remount);
        if let Err(e) = nix::mount::mount(None::<&str>, target, None::<&str>, flags, None::<&str>) {
            let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
            return Err(fail(e));
        }
    }
    if !parsed.propagation.is_empty() {
        if let Err(e) = nix::mount::mount(None::<&str>, target, None::<&str>, parsed.propagation, None::<&str>) {
            let _ = nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH);
            return Err(fail(e));
        }
    }
    Ok(())
}

/// Takes the mount at `target` away; not being mounted is not an error.
pub fn unmount(target: &Path) -> Result<(), EngineError> {
    match nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(e) => return Err(EngineError::Internal(format!("unmount {}: {}", target.display(), e.desc().to_lowercase()))),
    }
    if target.exists() && is_mount_root(target)? {
        return Err(EngineError::Internal(format!("unmount {}: still mounted", target.display())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn options_as_dockers_local_driver_checks_them() {
        assert!(validate(&opts(&[])).is_ok());
        assert!(validate(&opts(&[("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=10m,uid=1000")])).is_ok());
        assert!(validate(&opts(&[("type", "none"), ("device", "/srv/data"), ("o", "bind")])).is_ok());
        for (o, why) in [
            (opts(&[("colour", "red")]), "invalid option: \"colour\""),
            (opts(&[("type", "tmpfs")]), "missing required option: \"device\""),
            (opts(&[("device", "/dev/sdb1")]), "missing required option: \"type\""),
            (opts(&[("o", "size=1m"), ("device", "tmpfs")]), "missing required option: \"type\""),
            (opts(&[("size", "10G")]), "no quota support"),
        ] {
            let e = validate(&o).unwrap_err().to_string();
            assert!(e.contains(why), "{o:?}: {e}");
        }
        assert!(needs_mount(&opts(&[("type", "tmpfs"), ("device", "tmpfs")])));
        assert!(!needs_mount(&opts(&[])));
    }

    #[test]
    fn o_splits_into_flags_propagation_and_data() {
        let m = parse_o("ro,nosuid,size=64m,uid=1000,rshared,noatime,defaults").unwrap();
        assert_eq!(m.flags, MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NOATIME);
        assert_eq!(m.propagation, MsFlags::MS_SHARED | MsFlags::MS_REC);
        assert_eq!(m.data, ["size=64m", "uid=1000"]);
        let m = parse_o("ro,rw,rbind").unwrap();
        assert_eq!(m.flags, MsFlags::MS_BIND | MsFlags::MS_REC);
        assert!(parse_o("remount").is_err() && parse_o("rro").is_err());
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(masked("addr=10.0.0.1,username=u,password=hunter2"), "addr=10.0.0.1,username=u,password=********");
    }
}
