//! Whether this process runs in the initial user namespace, and what follows from it for
//! overlayfs. Rootless doca (issue 20) runs as root of a user namespace of its own: overlayfs
//! there can only keep its private attributes (opaque directories, whiteouts made by copy-up)
//! as `user.overlay.*` with the `userxattr` mount option (kernel 5.11+,
//! Documentation/filesystems/overlayfs.rst "User xattr"), since `trusted.*` needs
//! CAP_SYS_ADMIN in the initial namespace. The layers a store holds are unpacked, mounted and
//! diffed with the one prefix that store's processes can use.

use std::sync::atomic::{AtomicU8, Ordering};

/// What `in_initial` found: 0 not yet read, 1 the initial namespace, 2 another.
static INITIAL: AtomicU8 = AtomicU8::new(0);

/// uid_map of the initial user namespace: every id, unshifted (user_namespaces(7)).
fn is_identity_map(map: &str) -> bool {
    let f: Vec<&str> = map.split_whitespace().collect();
    f == ["0", "0", "4294967295"]
}

/// Whether this process is in the initial user namespace (read once, until `changed`).
pub fn in_initial() -> bool {
    match INITIAL.load(Ordering::Relaxed) {
        1 => true,
        2 => false,
        _ => {
            let initial = std::fs::read_to_string("/proc/self/uid_map").map(|m| is_identity_map(&m)).unwrap_or(true);
            INITIAL.store(if initial { 1 } else { 2 }, Ordering::Relaxed);
            initial
        }
    }
}

/// Says that this process joined another user namespace (setns(2)): `in_initial` reads again.
pub fn changed() {
    INITIAL.store(0, Ordering::Relaxed);
}

/// The host uid that `id` of this process's user namespace is (the first line of
/// /proc/self/uid_map that covers it).
pub fn host_uid(id: u32) -> Option<u32> {
    outside("/proc/self/uid_map", id)
}

/// Whether group `id` of this process's user namespace has a host group (a rootless doca
/// with only the user's own id mapped has no tty group, 5).
pub fn gid_mapped(id: u32) -> bool {
    outside("/proc/self/gid_map", id).is_some()
}

/// Whether setgroups(2) is denied in this process's user namespace (one made by an
/// unprivileged user who mapped only their own id: user_namespaces(7)).
pub fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

fn outside(map_file: &str, id: u32) -> Option<u32> {
    map_outside(&std::fs::read_to_string(map_file).ok()?, id)
}

/// The id outside that `id` is in a uid_map or gid_map's text (user_namespaces(7): lines of
/// `inside outside count`).
pub fn map_outside(map: &str, id: u32) -> Option<u32> {
    map.lines().find_map(|l| {
        let mut f = l.split_whitespace().map(|x| x.parse::<u64>().ok());
        let (inside, outside, count) = (f.next()??, f.next()??, f.next()??);
        (u64::from(id) >= inside && u64::from(id) < inside + count).then(|| (outside + u64::from(id) - inside) as u32)
    })
}

/// The prefix of overlayfs's private xattrs for mounts this process makes.
pub fn overlay_xattr_prefix() -> &'static str {
    if in_initial() {
        "trusted.overlay."
    } else {
        "user.overlay."
    }
}

/// The opaque-directory attribute (overlayfs.rst "whiteouts and opaque directories").
pub fn overlay_opaque_xattr() -> &'static str {
    if in_initial() {
        "trusted.overlay.opaque"
    } else {
        "user.overlay.opaque"
    }
}

/// Extra overlayfs mount options for this process: `userxattr` in a user namespace.
pub fn overlay_options() -> &'static str {
    if in_initial() {
        ""
    } else {
        ",userxattr"
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_the_whole_unshifted_range_is_the_initial_namespace() {
        assert!(super::is_identity_map("         0          0 4294967295\n"));
        assert!(!super::is_identity_map("         0       1000          1\n"));
        assert!(!super::is_identity_map("0 0 1\n1 100000 65536\n"));
    }
}
