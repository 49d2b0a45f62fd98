//! A container's mounts: volumes, bind mounts and tmpfs, from `-v` and `--mount` in docker's
//! syntax (also what the Engine API's Binds and Mounts carry), resolved at create (volumes
//! made, the image's VOLUME paths given anonymous volumes) and mounted at each start.

use crate::EngineError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Volume,
    Bind,
    Tmpfs,
}

impl MountSpec {
    /// A mount with the defaults for everything but what it is, where from, where to.
    pub fn new(kind: MountKind, source: String, target: String, readonly: bool) -> MountSpec {
        MountSpec {
            kind,
            source,
            target,
            readonly,
            nocopy: false,
            propagation: None,
            anonymous: false,
            create_source: false,
            tmpfs_options: Vec::new(),
            volume_options: Default::default(),
            bind_spec: None,
        }
    }
}

impl MountKind {
    pub fn name(&self) -> &'static str {
        match self {
            MountKind::Volume => "volume",
            MountKind::Bind => "bind",
            MountKind::Tmpfs => "tmpfs",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountSpec {
    pub kind: MountKind,
    /// The volume's name (empty for an anonymous volume not made yet), or the host path.
    pub source: String,
    pub target: String,
    #[serde(default)]
    pub readonly: bool,
    /// `nocopy`: an empty volume is not filled with the image's content at its target.
    #[serde(default)]
    pub nocopy: bool,
    /// Bind propagation (rprivate by default, as docker).
    #[serde(default)]
    pub propagation: Option<String>,
    /// The volume was made for this container (VOLUME, `-v /path`): `rm -v` and `--rm` remove it.
    #[serde(default)]
    pub anonymous: bool,
    /// `-v` creates a missing bind source as a directory; `--mount` refuses it (docker's rule).
    #[serde(default)]
    pub create_source: bool,
    /// tmpfs options (size=, mode=).
    #[serde(default)]
    pub tmpfs_options: Vec<String>,
    /// `volume-opt=`: the local driver's options for a volume made on first use.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub volume_options: BTreeMap<String, String>,
    /// The `-v SRC:DST[:OPTS]` text as given, which docker lists in HostConfig.Binds (mounts
    /// given with `--mount`, or made for VOLUME and `-v /path`, are not binds there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_spec: Option<String>,
}

const PROPAGATIONS: [&str; 6] = ["shared", "rshared", "slave", "rslave", "private", "rprivate"];

fn bad(spec: &str, why: &str) -> EngineError {
    EngineError::InvalidArgument(format!("invalid volume specification: '{spec}': {why}"))
}

/// Refuses targets docker refuses: relative ones, `/` itself, and the kernel's own `/proc`.
fn check_target(spec: &str, target: &str) -> Result<(), EngineError> {
    if !target.starts_with('/') {
        return Err(bad(spec, &format!("invalid mount config: mount path \"{target}\" must be absolute")));
    }
    let t = target.trim_end_matches('/');
    if t.is_empty() {
        return Err(bad(spec, "invalid mount config: destination can't be '/'"));
    }
    if t == "/proc" || t.starts_with("/proc/") {
        return Err(bad(spec, &format!("invalid mount config: {target} is a kernel filesystem (/proc) and cannot be mounted over")));
    }
    Ok(())
}

/// Where a bind source may not lead: into doca's own store (image layers, other containers'
/// layers and state, the metadata database), whatever symlinks the path goes through. The
/// `reachable` parts stay open: the inside of a volume's `_data` (as with docker) and of a
/// build's `RUN --mount=type=cache` directory, never the directories that hold them: a
/// container given `<root>/volumes` could replace another volume's `_data` with a symlink to
/// `/`, and the next container given that volume would get the host's root. Returns the path
/// with its symlinks resolved, which is what gets mounted, so a link changed later cannot
/// redirect it. Of a source that does not exist yet (`-v` makes it), the nearest existing
/// ancestor is resolved: it is where the directory would be made.
pub(crate) fn resolve_bind_source(source: &str, store: &[&Path], reachable: &[Reachable]) -> Result<PathBuf, EngineError> {
    let mut existing = Path::new(source);
    let mut rest = Vec::new();
    let real = loop {
        match std::fs::canonicalize(existing) {
            Ok(p) => break rest.iter().rev().fold(p, |p, c| p.join(c)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name);
                    existing = parent;
                }
                _ => return Ok(PathBuf::from(source)),
            },
            Err(e) => {
                return Err(EngineError::InvalidArgument(format!("invalid mount config for type \"bind\": bind source path {source}: {e}")))
            }
        }
    };
    let inside = |dir: &Path| std::fs::canonicalize(dir).is_ok_and(|d| real.starts_with(d));
    if store.iter().any(|d| inside(d)) && !reachable.iter().any(|r| r.allows(&real)) {
        return Err(EngineError::InvalidArgument(format!(
            "invalid mount config for type \"bind\": bind source path {source} resolves to {}, inside doca's store, which containers may not reach",
            real.display()
        )));
    }
    Ok(real)
}

/// A part of the store a bind may lead into (`resolve_bind_source`).
pub(crate) enum Reachable<'a> {
    /// `DIR/<volume>/_data` and below: the data of one volume.
    VolumeData(&'a Path),
    /// `DIR/<name>` and below: one directory of those `DIR` holds.
    Below(&'a Path),
}

impl Reachable<'_> {
    fn allows(&self, real: &Path) -> bool {
        let (dir, min) = match self {
            Reachable::VolumeData(d) => (d, 2),
            Reachable::Below(d) => (d, 1),
        };
        let Some(rest) = std::fs::canonicalize(dir).ok().and_then(|d| real.strip_prefix(d).ok().map(Path::to_path_buf)) else {
            return false;
        };
        let parts: Vec<_> = rest.components().collect();
        parts.len() >= min && (matches!(self, Reachable::Below(_)) || parts[1].as_os_str() == "_data")
    }
}

/// `-v [SRC:]DST[:OPTS]`.
pub fn parse_volume_flag(spec: &str) -> Result<MountSpec, EngineError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, opts) = match parts.as_slice() {
        [dst] => ("", *dst, ""),
        [src, dst] => (*src, *dst, ""),
        [src, dst, opts] => (*src, *dst, *opts),
        _ => return Err(bad(spec, "too many colons")),
    };
    if target.is_empty() {
        return Err(bad(spec, "empty destination"));
    }
    check_target(spec, target)?;
    let kind = if source.is_empty() || !source.starts_with('/') { MountKind::Volume } else { MountKind::Bind };
    if kind == MountKind::Volume && !source.is_empty() {
        crate::volumes::validate_name(source)?;
    }
    let mut m = MountSpec {
        anonymous: source.is_empty(),
        create_source: kind == MountKind::Bind,
        bind_spec: (!source.is_empty()).then(|| spec.to_string()),
        ..MountSpec::new(kind, source.to_string(), target.to_string(), false)
    };
    for o in opts.split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" => m.readonly = true,
            "rw" => m.readonly = false,
            // SELinux relabeling: this host has no SELinux, and docker ignores them there too.
            "z" | "Z" => {}
            "nocopy" if kind == MountKind::Volume => m.nocopy = true,
            "consistent" | "cached" | "delegated" => {}
            p if PROPAGATIONS.contains(&p) && kind == MountKind::Bind => m.propagation = Some(p.to_string()),
            _ => return Err(bad(spec, &format!("invalid mode: {o}"))),
        }
    }
    Ok(m)
}

/// `--mount type=...,source=...,target=...[,readonly][,volume-nocopy][,bind-propagation=...]
/// [,tmpfs-size=...][,tmpfs-mode=...]`.
pub fn parse_mount_flag(spec: &str) -> Result<MountSpec, EngineError> {
    let invalid = |m: String| EngineError::InvalidArgument(format!("invalid argument \"{spec}\" for \"--mount\" flag: {m}"));
    let mut kind = MountKind::Volume;
    let mut m = MountSpec::new(kind, String::new(), String::new(), false);
    for field in spec.split(',') {
        let (k, v) = field.split_once('=').map(|(k, v)| (k, Some(v))).unwrap_or((field, None));
        let flag = |v: Option<&str>| match v {
            None | Some("1") | Some("true") => Ok(true),
            Some("0") | Some("false") => Ok(false),
            Some(x) => Err(invalid(format!("invalid value for '{k}': {x}"))),
        };
        match (k.to_ascii_lowercase().as_str(), v) {
            ("type", Some(t)) => {
                kind = match t {
                    "volume" => MountKind::Volume,
                    "bind" => MountKind::Bind,
                    "tmpfs" => MountKind::Tmpfs,
                    _ => return Err(invalid(format!("invalid mount type: {t}"))),
                }
            }
            ("source" | "src", Some(s)) => m.source = s.to_string(),
            ("target" | "destination" | "dst", Some(t)) => m.target = t.to_string(),
            ("readonly" | "ro", v) => m.readonly = flag(v)?,
            ("volume-nocopy", v) => m.nocopy = flag(v)?,
            ("bind-propagation", Some(p)) if PROPAGATIONS.contains(&p) => m.propagation = Some(p.to_string()),
            ("tmpfs-size", Some(s)) => m.tmpfs_options.push(format!("size={s}")),
            ("tmpfs-mode", Some(s)) => m.tmpfs_options.push(format!("mode={s}")),
            ("consistency", Some(_)) => {}
            ("volume-opt", Some(o)) => match o.split_once('=') {
                Some((name, value)) if !name.is_empty() => {
                    m.volume_options.insert(name.to_string(), value.to_string());
                }
                _ => return Err(invalid(format!("invalid volume-opt '{o}': expected name=value"))),
            },
            ("volume-driver", Some("local")) => {}
            ("volume-driver", Some(d)) => return Err(invalid(format!("error looking up volume plugin {d}: plugin \"{d}\" not found"))),
            _ => return Err(invalid(format!("unexpected key '{k}' in '{field}'"))),
        }
    }
    m.kind = kind;
    check_mount(m, spec)
}

/// docker's rules for a mount given field by field (`--mount`, the API's HostConfig.Mounts);
/// `spec` names it in messages.
pub fn check_mount(mut m: MountSpec, spec: &str) -> Result<MountSpec, EngineError> {
    let invalid = |m: String| EngineError::InvalidArgument(format!("invalid argument \"{spec}\" for \"--mount\" flag: {m}"));
    if m.target.is_empty() {
        return Err(invalid("target is required".into()));
    }
    check_target(spec, &m.target)?;
    match m.kind {
        MountKind::Bind if !m.source.starts_with('/') => {
            return Err(invalid(format!(
                "invalid mount config for type \"bind\": invalid mount path: '{}' mount path must be absolute",
                m.source
            )))
        }
        MountKind::Volume if !m.source.is_empty() => crate::volumes::validate_name(&m.source)?,
        MountKind::Volume => m.anonymous = true,
        MountKind::Tmpfs if !m.source.is_empty() => {
            return Err(invalid("invalid mount config for type \"tmpfs\": source must not be specified".into()))
        }
        _ => {}
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_flags_in_all_of_dockers_forms() {
        let m = parse_volume_flag("pgdata:/var/lib/postgresql/data").unwrap();
        assert_eq!((m.kind, m.source.as_str(), m.readonly, m.anonymous), (MountKind::Volume, "pgdata", false, false));
        let m = parse_volume_flag("/srv/code:/code:ro,rslave").unwrap();
        assert_eq!((m.kind, m.readonly, m.propagation.as_deref(), m.create_source), (MountKind::Bind, true, Some("rslave"), true));
        let m = parse_volume_flag("/data").unwrap();
        assert!(m.anonymous && m.kind == MountKind::Volume && m.source.is_empty());
        assert!(parse_volume_flag("vol:/x:nocopy,Z").unwrap().nocopy);
        for (spec, why) in [
            ("vol:relative", "must be absolute"),
            ("vol:/", "can't be '/'"),
            ("vol:/proc/sys", "kernel filesystem"),
            ("bad$name:/x", "invalid characters"),
            ("vol:/x:bogus", "invalid mode: bogus"),
            ("a:b:c:d", "too many colons"),
        ] {
            let e = parse_volume_flag(spec).unwrap_err().to_string();
            assert!(e.contains(why), "{spec}: {e}");
        }
    }

    #[test]
    fn bind_sources_never_lead_into_the_store() {
        let t = tempfile::tempdir().unwrap();
        let (root, outside) = (t.path().join("root"), t.path().join("outside"));
        std::fs::create_dir_all(root.join("volumes/v/_data")).unwrap();
        std::fs::create_dir_all(root.join("containers")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(root.join("containers"), outside.join("to-store")).unwrap();
        std::os::unix::fs::symlink(root.join("volumes/v/_data"), outside.join("to-volume")).unwrap();
        let volumes = root.join("volumes");
        let check = |p: &Path| resolve_bind_source(p.to_str().unwrap(), &[&root], &[Reachable::VolumeData(&volumes)]);
        // The volumes directory and a volume's own directory would let a container rearrange
        // what other containers mount (a `_data` swapped for a symlink to `/`).
        std::os::unix::fs::symlink(root.join("volumes"), outside.join("to-volumes")).unwrap();
        for bad in [
            outside.join("to-store"),
            outside.join("to-store/new/dir"),
            root.join("containers"),
            root.join("volumes"),
            root.join("volumes/v"),
            root.join("volumes/v/other"),
            outside.join("to-volumes"),
            root.join("volumes/v/_data/.."),
        ] {
            let e = check(&bad).unwrap_err().to_string();
            assert!(e.contains("inside doca's store"), "{}: {e}", bad.display());
        }
        assert_eq!(check(&outside.join("to-volume")).unwrap(), root.join("volumes/v/_data").canonicalize().unwrap());
        assert!(check(&root.join("volumes/v/_data/sub/new")).is_ok());
        assert_eq!(check(&outside.join("new")).unwrap(), outside.canonicalize().unwrap().join("new"));
        assert!(check(&outside).is_ok());
    }

    #[test]
    fn mount_flags_as_docker_parses_them() {
        let m = parse_mount_flag("type=bind,source=/srv,target=/app,readonly,bind-propagation=rshared").unwrap();
        assert_eq!((m.kind, m.readonly, m.propagation.as_deref(), m.create_source), (MountKind::Bind, true, Some("rshared"), false));
        let m = parse_mount_flag("type=volume,src=cache,dst=/cache,volume-nocopy").unwrap();
        assert!(m.nocopy && m.source == "cache");
        let m = parse_mount_flag("type=tmpfs,target=/scratch,tmpfs-size=64m,tmpfs-mode=1770").unwrap();
        assert_eq!(m.tmpfs_options, ["size=64m", "mode=1770"]);
        assert!(parse_mount_flag("type=volume,target=/x").unwrap().anonymous);
        assert!(parse_mount_flag("type=bind,source=rel,target=/x").is_err());
        assert!(parse_mount_flag("type=volume,target=/x,colour=red").unwrap_err().to_string().contains("unexpected key 'colour'"));
        assert!(parse_mount_flag("type=nfs,target=/x").is_err());
        assert!(parse_mount_flag("type=volume,source=v").unwrap_err().to_string().contains("target is required"));
        let m =
            parse_mount_flag("type=volume,src=scratch,dst=/s,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs").unwrap();
        assert_eq!(m.volume_options.get("type").map(String::as_str), Some("tmpfs"));
        assert!(parse_mount_flag("type=volume,dst=/s,volume-driver=nfs3").unwrap_err().to_string().contains("plugin \"nfs3\" not found"));
    }
}
