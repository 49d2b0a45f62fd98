//! User namespaces for root's containers (`--userns=auto`, dockerd's `userns-remap`): the
//! container's root is an unprivileged id on the host. Each container gets a range of 65,536
//! ids from root's subordinate ids (`/etc/subuid`, `/etc/subgid`, or `subordinate-ids` in
//! doca's config), recorded in its config, so that no two containers share ids.
//!
//! Layers are never copied or chowned per container: the rootfs is an overlay of idmapped
//! layers (mount_setattr(2) with MOUNT_ATTR_IDMAP on a clone of each layer, Linux 5.12; overlay
//! over idmapped layers, 5.19), so a layer's uid 0 is the container's root, and what the
//! container writes lands in its upper directory with the container's own ids, as without a
//! user namespace (`diff`, `commit` and `cp` of a stopped container see the same files). Named
//! volumes are idmapped the same way; bind mounts are not: a host file keeps its host owner, so
//! the container's root has no more power over it than the unprivileged id it is.

use crate::EngineError;
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

/// How many ids a container gets (podman's and docker's default).
pub const RANGE: u32 = 65536;

/// A container's ids on the host: its uid 0 is `uid`, its gid 0 is `gid`, `size` of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    pub uid: u32,
    pub gid: u32,
    pub size: u32,
}

impl IdMap {
    /// The container's id `id` on the host (uids).
    pub fn host_uid(&self, id: u32) -> Option<u32> {
        (id < self.size).then(|| self.uid + id)
    }

    pub fn host_gid(&self, id: u32) -> Option<u32> {
        (id < self.size).then(|| self.gid + id)
    }

    /// How owners move between the container's ids and the host's: `into` the container, or
    /// out of it (its idmapped rootfs seen from the host).
    pub fn shift(&self, into: bool) -> doca_fs::IdShift {
        doca_fs::IdShift::range(self.uid, self.gid, self.size, into)
    }
}

/// A subordinate range: `start`, `count` ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubIds {
    pub start: u32,
    pub count: u32,
}

/// doca's configuration file (`/etc/doca/config.json`, or `$DOCA_CONFIG`): the keys that are
/// about user namespaces. An absent file is the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `"default"` (every container shares the first range, as dockerd's `userns-remap`),
    /// `"auto"` (a range per container) or `""` (none).
    #[serde(default, rename = "userns-remap")]
    pub userns_remap: String,
    /// The ids to give containers, instead of root's lines in /etc/subuid and /etc/subgid.
    #[serde(default, rename = "subordinate-ids")]
    pub subordinate_ids: Option<SubordinateIds>,
    /// A FUSE program that mounts the overlay of every rootfs instead of the kernel
    /// (containers-storage.conf's `mount_program`): fuse-overlayfs. Rootless doca uses it
    /// without being told where the kernel refuses overlayfs in a user namespace, and for
    /// `--userns=keep-id` (keepid.rs).
    #[serde(default, rename = "mount-program")]
    pub mount_program: Option<std::path::PathBuf>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubordinateIds {
    pub uid: SubIds,
    pub gid: SubIds,
}

impl Settings {
    /// `$DOCA_CONFIG`, else root's `/etc/doca/config.json`, or an ordinary user's
    /// `$XDG_CONFIG_HOME/doca/config.json` (`~/.config/doca/config.json`), as Podman's
    /// rootless configuration sits in `~/.config/containers`.
    pub fn path() -> std::path::PathBuf {
        if let Some(p) = std::env::var_os("DOCA_CONFIG") {
            return p.into();
        }
        if !crate::rootless::is_rootless() {
            return "/etc/doca/config.json".into();
        }
        match std::env::var_os("XDG_CONFIG_HOME").filter(|v| Path::new(v).is_absolute()) {
            Some(d) => Path::new(&d).join("doca/config.json"),
            None => crate::rootless::home().join(".config/doca/config.json"),
        }
    }

    pub fn load() -> Result<Settings, EngineError> {
        let path = Self::path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => return Err(EngineError::io("read", &path)(e)),
        };
        let s: Settings = serde_json::from_str(&text).map_err(|e| EngineError::InvalidArgument(format!("{}: {e}", path.display())))?;
        if !matches!(s.userns_remap.as_str(), "" | "default" | "auto") {
            return Err(EngineError::InvalidArgument(format!(
                "{}: userns-remap {:?}: \"default\", \"auto\" or \"\"",
                path.display(),
                s.userns_remap
            )));
        }
        Ok(s)
    }

    /// Root's subordinate uids and gids: the configured ones, else root's first lines in
    /// /etc/subuid and /etc/subgid (subuid(5): `NAME_OR_UID:START:COUNT`).
    pub fn subordinate_ids(&self) -> Result<SubordinateIds, EngineError> {
        if let Some(s) = self.subordinate_ids {
            return Ok(s);
        }
        let read = |file: &str| -> Option<SubIds> {
            let text = std::fs::read_to_string(file).ok()?;
            parse_subids(&text, "root", 0)
        };
        match (read("/etc/subuid"), read("/etc/subgid")) {
            (Some(uid), Some(gid)) => Ok(SubordinateIds { uid, gid }),
            _ => Err(EngineError::InvalidArgument(format!(
                "user namespaces need subordinate ids for root: add a line such as \"root:1000000:65536000\" to /etc/subuid and \
                 /etc/subgid, or \"subordinate-ids\" to {}",
                Self::path().display()
            ))),
        }
    }
}

/// The first range of `user` (by name or uid) in a subuid(5)/subgid(5) file.
pub fn parse_subids(text: &str, user: &str, uid: u32) -> Option<SubIds> {
    text.lines().filter(|l| !l.trim_start().starts_with('#')).find_map(|l| {
        let mut f = l.trim().split(':');
        let (who, start, count) = (f.next()?, f.next()?.parse().ok()?, f.next()?.parse().ok()?);
        (who == user || who.parse::<u32>().ok() == Some(uid)).then_some(SubIds { start, count })
    })
}

/// The first block of `RANGE` ids in `pool` that none of `used` overlaps (uids and gids
/// taken together: block `n` is `uid.start + n*RANGE` and `gid.start + n*RANGE`).
pub fn first_free(pool: &SubordinateIds, used: &[IdMap]) -> Option<IdMap> {
    let blocks = (pool.uid.count / RANGE).min(pool.gid.count / RANGE);
    let overlaps = |a: u32, b: u32| a < b.saturating_add(RANGE) && b < a.saturating_add(RANGE);
    (0..blocks)
        .map(|n| IdMap { uid: pool.uid.start + n * RANGE, gid: pool.gid.start + n * RANGE, size: RANGE })
        .find(|m| !used.iter().any(|u| overlaps(u.uid, m.uid) || overlaps(u.gid, m.gid)))
}

/// A user namespace whose only use is as the id map of mounts: the container's ids
/// (`0..size` inside, `uid..uid+size` outside), and one more id, `size` inside, for the host's
/// root. Overlayfs creates its work directories and whiteouts with the credentials of whoever
/// mounted it (root): through an idmapped upper directory, root's id must map to something on
/// disk, or the mount goes read-only (EOVERFLOW). It maps to `size`, an id no process of the
/// container has (its user namespace maps only `0..size`). The namespace is made by a helper
/// (util-linux's unshare(1) running cat(1), both Essential in Debian: unshare(2) of a user
/// namespace is refused to a multi-threaded process such as the API server) that ends when its
/// stdin closes, once the namespace is open here.
pub fn mount_userns(map: &IdMap) -> Result<OwnedFd, EngineError> {
    use std::process::{Command, Stdio};
    let sys = |what: &str| {
        let what = what.to_string();
        move |e: std::io::Error| EngineError::Internal(format!("user namespace for idmapped mounts: {what}: {e}"))
    };
    let mut child = Command::new("unshare")
        .args(["--user", "--", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(sys("run unshare"))?;
    let pid = child.id();
    let result = (|| {
        // unshare(1) has unshared when its namespace is no longer ours.
        let own = std::fs::read_link("/proc/self/ns/user").map_err(sys("read own namespace"))?;
        let ns_path = format!("/proc/{pid}/ns/user");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match std::fs::read_link(&ns_path) {
                Ok(l) if l != own => break,
                Ok(_) if std::time::Instant::now() < deadline => std::thread::sleep(std::time::Duration::from_micros(200)),
                Ok(_) => return Err(sys("wait for unshare")(std::io::Error::from(std::io::ErrorKind::TimedOut))),
                Err(e) => return Err(sys("wait for unshare")(e)),
            }
        }
        let lines = |host: u32| format!("0 {host} {}\n{} 0 1\n", map.size, map.size);
        std::fs::write(format!("/proc/{pid}/uid_map"), lines(map.uid)).map_err(sys("write uid_map"))?;
        std::fs::write(format!("/proc/{pid}/gid_map"), lines(map.gid)).map_err(sys("write gid_map"))?;
        let f = std::fs::File::open(&ns_path).map_err(sys("open"))?;
        Ok(OwnedFd::from(f))
    })();
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// `src` seen through `userns`'s map, mounted at `target` (an existing directory): a detached
/// clone of `src`'s mount (open_tree(2) OPEN_TREE_CLONE), idmapped (mount_setattr(2)), moved
/// into place (move_mount(2)).
pub fn mount_idmapped(src: &Path, target: &Path, userns: &OwnedFd) -> Result<(), EngineError> {
    use rustix::mount::{move_mount, open_tree, MoveMountFlags, OpenTreeFlags};
    let fail = |what: &'static str, p: &Path| {
        let p = p.to_path_buf();
        move |e: rustix::io::Errno| {
            EngineError::InvalidArgument(format!(
                "idmapped mount of {}: {what}: {} (user namespaces need Linux 5.19+)",
                p.display(),
                std::io::Error::from(e)
            ))
        }
    };
    let tree = open_tree(rustix::fs::CWD, src, OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC)
        .map_err(fail("open_tree", src))?;
    doca_mount::setattr::idmap(tree.as_fd(), userns.as_fd())
        .map_err(|e| EngineError::InvalidArgument(format!("idmapped mount of {}: mount_setattr: {e}", src.display())))?;
    move_mount(tree.as_fd(), "", rustix::fs::CWD, target, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH).map_err(fail("move_mount", target))?;
    Ok(())
}

impl crate::Engine {
    /// A new container's ids: none with `--userns host`, or when it needs the host's
    /// namespaces and only the configured default would give it a user namespace (dockerd's
    /// rule); else a range (`auto`: the first free one; the config's `default`: the first,
    /// shared). The lock returned must be held until the container's record is stored, so that
    /// two creates at once never take one range.
    pub(crate) fn choose_id_map(
        &mut self,
        req: &super::CreateContainer,
    ) -> Result<(Option<IdMap>, Option<doca_store::lock::StoreLock>), EngineError> {
        let host_namespaces = req.privileged || req.pid_host || req.ipc_host || req.uts_host || req.network == super::NetworkMode::Host;
        if crate::rootless::is_rootless() {
            // A rootless container is in the user's namespace (rootless.rs), or, with keep-id,
            // in one of its own made at start (keepid.rs): no range of root's ids.
            return match req.userns.as_str() {
                "auto" => Err(EngineError::InvalidArgument(
                    "--userns=auto: rootless containers share the user's subordinate ids (use --userns=keep-id, or run as root)".into(),
                )),
                _ => Ok((None, None)),
            };
        }
        let asked = match req.userns.as_str() {
            "auto" => true,
            "" if !host_namespaces => false,
            _ => return Ok((None, None)),
        };
        let settings = Settings::load()?;
        let mode = if asked { "auto" } else { settings.userns_remap.as_str() };
        if mode.is_empty() {
            return Ok((None, None));
        }
        let pool = settings.subordinate_ids()?;
        let dir = self.config().run_root.join("locks");
        crate::private_dir(&dir)?;
        let path = dir.join("userns");
        let lock =
            doca_store::lock::StoreLock::acquire(&path, doca_store::lock::LockMode::Exclusive).map_err(EngineError::io("lock", &path))?;
        let used: Vec<IdMap> =
            if mode == "default" { Vec::new() } else { self.containers()?.iter().filter_map(|c| c.config.id_map).collect() };
        let map = first_free(&pool, &used).ok_or_else(|| {
            EngineError::InvalidArgument(format!(
                "no free range of {RANGE} ids left in root's subordinate ids ({} uids from {})",
                pool.uid.count, pool.uid.start
            ))
        })?;
        Ok((Some(map), Some(lock)))
    }

    /// How the owners of a container's files are seen by doca while it runs (see
    /// `doca_fs::IdShift`): through its range of ids (`--userns=auto`), through its keep-id map
    /// (rootless), or as they are.
    pub(crate) fn seen_ids(&self, c: &super::Container) -> Result<Option<doca_fs::IdShift>, EngineError> {
        if let Some(m) = c.config.id_map {
            return Ok(Some(m.shift(false)));
        }
        if super::keepid::asked(c) {
            return Ok(super::keepid::KeepId::of_user()?.shift(false));
        }
        Ok(None)
    }

    /// Where a container with a user namespace keeps what its init opens by path (its rootfs,
    /// the files and volumes bound into it): `<run_root>/userns/<id>`, 0700 and owned by the
    /// container's root on the host, under directories that are execute-only for others
    /// (0711), as dockerd's `/var/lib/docker/<uid>.<gid>`. The init becomes the namespace's
    /// root before it mounts, and that uid has no way through doca's 0700 directories. Nobody
    /// else gets in: another user cannot list the run root, nor enter the area.
    pub(crate) fn userns_area(&self, id: &super::ContainerId, map: &IdMap) -> Result<std::path::PathBuf, EngineError> {
        use std::os::unix::fs::PermissionsExt;
        let run = &self.config().run_root;
        let top = run.join("userns");
        let area = top.join(id.as_str());
        for d in [run, &top] {
            std::fs::create_dir_all(d).map_err(EngineError::io("create", d))?;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o711)).map_err(EngineError::io("chmod", d))?;
        }
        // Above the run root, the host's directories must let others through (as /run does),
        // or the container's root cannot reach its rootfs; said here, not as the runtime's
        // "permission denied".
        if let Some(closed) = run.ancestors().skip(1).find(|a| std::fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o001 == 0)) {
            return Err(EngineError::InvalidArgument(format!(
                "a user namespace needs the run root's parent directories to be searchable by others: {} is not (mode o+x)",
                closed.display()
            )));
        }
        // The area and its directories are the container root's (doca's umask makes them 0700).
        for d in [area.clone(), area.join("volumes")] {
            crate::private_dir(&d)?;
            std::os::unix::fs::chown(&d, Some(map.uid), Some(map.gid)).map_err(EngineError::io("chown", &d))?;
        }
        Ok(area)
    }

    /// The directory the runtime takes a container's bind sources from: its user namespace's
    /// area, or its own directory.
    pub(crate) fn bind_dir(&self, c: &super::Container) -> std::path::PathBuf {
        match c.config.id_map {
            Some(_) => self.config().run_root.join("userns").join(c.id.as_str()),
            None => self.container_paths(&c.id).dir,
        }
    }

    /// Unmounts what a start mounted in the area, and, with `remove`, the area itself.
    pub(crate) fn release_userns_area(&self, id: &super::ContainerId, remove: bool) {
        let area = self.config().run_root.join("userns").join(id.as_str());
        if !area.exists() {
            return;
        }
        super::rootfs::detach_all(&area.join("volumes"));
        for m in ["rootfs", "docker-init"] {
            while nix::mount::umount2(&area.join(m), nix::mount::MntFlags::MNT_DETACH).is_ok() {}
        }
        if remove {
            let _ = std::fs::remove_dir_all(&area);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ids_are_read_by_name_or_uid() {
        let text = "# comment\nalice:100000:65536\nroot:200000:655360\n";
        assert_eq!(parse_subids(text, "root", 0), Some(SubIds { start: 200000, count: 655360 }));
        assert_eq!(parse_subids("0:300000:65536\n", "root", 0), Some(SubIds { start: 300000, count: 65536 }));
        assert_eq!(parse_subids(text, "bob", 1000), None);
    }

    #[test]
    fn ranges_are_disjoint_and_run_out() {
        let pool = SubordinateIds { uid: SubIds { start: 100000, count: 3 * RANGE }, gid: SubIds { start: 500000, count: 2 * RANGE } };
        let a = first_free(&pool, &[]).unwrap();
        assert_eq!((a.uid, a.gid), (100000, 500000));
        let b = first_free(&pool, &[a]).unwrap();
        assert_eq!((b.uid, b.gid), (100000 + RANGE, 500000 + RANGE));
        // Two blocks of gids: the pool holds two containers.
        assert_eq!(first_free(&pool, &[a, b]), None);
        // A range that overlaps blocks by its uids alone takes them: one off the block
        // boundaries covers blocks 0 and 1, and the pool has only two blocks of gids.
        let odd = IdMap { uid: 100000 + 10, gid: 900000, size: RANGE };
        assert_eq!(first_free(&pool, &[odd]), None);
        let by_uid = IdMap { uid: 100000, gid: 900000, size: RANGE };
        assert_eq!(first_free(&pool, &[by_uid]).map(|m| m.uid), Some(100000 + RANGE));
    }
}
