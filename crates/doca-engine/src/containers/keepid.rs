//! `--userns=keep-id` (Podman's), rootless only: the user's uid and gid inside the container
//! are theirs outside, so that files of a bind-mounted project keep their owner both ways.
//!
//! Rootless doca runs in the user's namespace (`rootless.rs`): the user is its root (id 0),
//! the subordinate ids are 1..N. A keep-id container gets a user namespace of its own inside
//! it that moves the user's id back to its host value: container `U` is the user (0), and
//! the ids below it shift up by one so that every id keeps a place (Podman's map):
//!
//! ```text
//! container 0..U      -> 1..U+1       (the subordinate ids)
//! container U         -> 0            (the user)
//! container U+1..N+1  -> U+1..N+1
//! ```
//!
//! The image's files are stored with the ids they have in the image (a layer's root is 0 on
//! disk, as for every rootless container), and the kernel cannot idmap a mount for a user
//! namespace that does not own the filesystem: the rootfs is mounted by fuse-overlayfs with the
//! same map (`uidmapping=`, `gidmapping=`), which shows an id `c` on disk as the id the map
//! takes container `c` to, and stores what the container writes under its container ids.
//! The process runs as the user, with a passwd and group entry for them added (over bind
//! mounts, never in the container's layer, as Podman's) when the image has none.

use crate::EngineError;

/// `--userns`'s value (and compose's `userns_mode`).
pub const MODE: &str = "keep-id";

/// Whether `c` asked for keep-id.
pub fn asked(c: &super::Container) -> bool {
    c.config.userns == MODE
}

/// One line of a uid_map or gid_map: `size` ids from `inside` (the container's) are `outside`
/// and on in the namespace doca runs in.
pub use doca_fs::IdRange;

/// A keep-id container's ids: the user's, and the maps of its user namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepId {
    pub uid: u32,
    pub gid: u32,
    /// The user's name and home directory on the host, for the passwd entry.
    pub name: String,
    pub home: String,
    pub uid_map: Vec<IdRange>,
    pub gid_map: Vec<IdRange>,
}

/// The map for the user's id `own` in a namespace of `total` ids (0, the user, and the
/// subordinate ids after it).
pub fn map(own: u32, total: u32) -> Vec<IdRange> {
    let subordinate = total.saturating_sub(1);
    let mut out = Vec::new();
    let below = own.min(subordinate);
    if below > 0 {
        out.push(IdRange { inside: 0, outside: 1, size: below });
    }
    out.push(IdRange { inside: own, outside: 0, size: 1 });
    if subordinate > own {
        out.push(IdRange { inside: own + 1, outside: own + 1, size: subordinate - own });
    }
    out
}

/// The ids a namespace's map file gives (the sum of its sizes: rootless doca's ids are one
/// run from 0).
fn ids_in(map_file: &str) -> u32 {
    map_file.lines().filter_map(|l| l.split_whitespace().nth(2)?.parse::<u32>().ok()).sum()
}

/// The option fuse-overlayfs takes for a map: `container:parent:size` triples, joined by `:`.
pub fn fuse_option(map: &[IdRange]) -> String {
    map.iter().map(|r| format!("{}:{}:{}", r.inside, r.outside, r.size)).collect::<Vec<_>>().join(":")
}

impl KeepId {
    /// The current user's keep-id maps, read from the namespace doca runs in.
    pub fn of_user() -> Result<KeepId, EngineError> {
        if doca_mount::userns::in_initial() {
            return Err(EngineError::InvalidArgument(
                "--userns=keep-id is only supported in rootless mode (as Podman): as root, use --userns=auto".into(),
            ));
        }
        let read = |f: &str| std::fs::read_to_string(f).map_err(EngineError::io("read", std::path::Path::new(f)));
        let (uids, gids) = (read("/proc/self/uid_map")?, read("/proc/self/gid_map")?);
        let uid = doca_mount::userns::map_outside(&uids, 0)
            .ok_or_else(|| EngineError::Internal("--userns=keep-id: the user's id is not in this namespace's map".into()))?;
        let gid = doca_mount::userns::map_outside(&gids, 0)
            .ok_or_else(|| EngineError::Internal("--userns=keep-id: the user's group is not in this namespace's map".into()))?;
        let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid)).ok().flatten();
        let name = user.as_ref().map(|u| u.name.clone()).unwrap_or_else(|| format!("user{uid}"));
        let home = user.as_ref().map(|u| u.dir.display().to_string()).unwrap_or_else(|| "/".into());
        Ok(KeepId { uid, gid, name, home, uid_map: map(uid, ids_in(&uids)), gid_map: map(gid, ids_in(&gids)) })
    }

    /// How owners move between the container's ids and those its fuse-mapped rootfs shows
    /// doca (`cp`, `export` and a volume's copy-up of a running container).
    pub fn shift(&self, into: bool) -> Option<doca_fs::IdShift> {
        doca_fs::IdShift::ranges(&self.uid_map, &self.gid_map, into)
    }

    /// The image's /etc/passwd with an entry for the user when it has none for their uid
    /// (Podman's fields: no password, the host's name and home, /bin/sh).
    pub fn passwd(&self, image: &str) -> String {
        let has = image.lines().any(|l| l.split(':').nth(2) == Some(&self.uid.to_string()));
        amended(image, has, &format!("{0}:*:{1}:{2}:{0}:{3}:/bin/sh", self.name, self.uid, self.gid, self.home))
    }

    /// The image's /etc/group with the user's group when it has none with their gid.
    pub fn group(&self, image: &str) -> String {
        let has = image.lines().any(|l| l.split(':').nth(2) == Some(&self.gid.to_string()));
        amended(image, has, &format!("{}:x:{}:", self.name, self.gid))
    }
}

fn amended(image: &str, has: bool, line: &str) -> String {
    let mut out = image.to_string();
    if !has {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_users_id_is_theirs_and_every_other_id_keeps_a_place() {
        // uid 1001 with 65,536 subordinate ids: Podman's three lines.
        let m = map(1001, 65537);
        assert_eq!(
            m,
            [
                IdRange { inside: 0, outside: 1, size: 1001 },
                IdRange { inside: 1001, outside: 0, size: 1 },
                IdRange { inside: 1002, outside: 1002, size: 64535 },
            ]
        );
        assert_eq!(m.iter().map(|r| r.size).sum::<u32>(), 65537);
        assert_eq!(fuse_option(&m), "0:1:1001:1001:0:1:1002:1002:64535");
        // Fewer subordinate ids than the uid: those there are, then the user.
        assert_eq!(map(5000, 11), [IdRange { inside: 0, outside: 1, size: 10 }, IdRange { inside: 5000, outside: 0, size: 1 }]);
        // No subordinate ids: the user alone.
        assert_eq!(map(1001, 1), [IdRange { inside: 1001, outside: 0, size: 1 }]);
        assert_eq!(ids_in("         0       1001          1\n         1     100000      65536\n"), 65537);
        assert_eq!(doca_mount::userns::map_outside("0 1001 1\n1 100000 65536\n", 0), Some(1001));
    }

    #[test]
    fn an_entry_is_added_only_where_the_image_has_none() {
        let k = KeepId { uid: 1001, gid: 1001, name: "ann".into(), home: "/home/ann".into(), uid_map: vec![], gid_map: vec![] };
        assert_eq!(k.passwd("root:x:0:0:root:/root:/bin/sh"), "root:x:0:0:root:/root:/bin/sh\nann:*:1001:1001:ann:/home/ann:/bin/sh\n");
        let has = "root:x:0:0:root:/root:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n";
        assert_eq!(k.passwd(has), has);
        assert_eq!(k.group(""), "ann:x:1001:\n");
        assert_eq!(k.group("root:x:0:\nstaff:x:1001:\n"), "root:x:0:\nstaff:x:1001:\n");
    }
}
