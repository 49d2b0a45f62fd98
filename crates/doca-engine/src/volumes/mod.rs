//! Volumes: data that outlives its containers, as docker's local driver keeps it:
//! `<root>/volumes/<name>/_data`, a row in the store, mounted into containers by bind mounts.

pub mod local;

use crate::containers::mounts::MountKind;
use crate::containers::{Container, ContainerId};
use crate::docker::{nil_if_none, VolumeResource};
use crate::{Engine, EngineError};
use doca_store::{LockMode, StoreLock, VolumeRow};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    pub mountpoint: PathBuf,
    pub created: String,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub anonymous: bool,
}

#[derive(Debug, Clone, Default)]
pub struct CreateVolume {
    /// None: an anonymous volume, named by 64 random hex digits.
    pub name: Option<String>,
    pub driver: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
    pub anonymous: bool,
}

/// `volume ls --filter`: dangling, name (substring), label, driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeFilter {
    Dangling(bool),
    Name(String),
    Label(String, Option<String>),
    Driver(String),
}

impl VolumeFilter {
    pub fn parse(s: &str) -> Result<VolumeFilter, EngineError> {
        let (k, v) =
            s.split_once('=').ok_or_else(|| EngineError::InvalidArgument(format!("bad format of filter (expected name=value): {s}")))?;
        Ok(match k {
            "dangling" => match v {
                "true" | "1" => VolumeFilter::Dangling(true),
                "false" | "0" => VolumeFilter::Dangling(false),
                _ => return Err(EngineError::InvalidArgument(format!("invalid filter 'dangling={v}'"))),
            },
            "name" => VolumeFilter::Name(v.into()),
            "label" => match v.split_once('=') {
                Some((a, b)) => VolumeFilter::Label(a.into(), Some(b.into())),
                None => VolumeFilter::Label(v.into(), None),
            },
            "driver" => VolumeFilter::Driver(v.into()),
            _ => return Err(EngineError::InvalidFilter(k.to_string())),
        })
    }
}

/// docker's rule for local volume names (volume/local/local.go).
pub fn validate_name(name: &str) -> Result<(), EngineError> {
    if crate::containers::record::is_docker_name(name) {
        Ok(())
    } else {
        Err(EngineError::InvalidArgument(format!(
            "create {name}: \"{name}\" includes invalid characters for a local volume name, only \"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use absolute path"
        )))
    }
}

impl Volume {
    /// As docker shows it.
    pub fn resource(&self) -> VolumeResource {
        VolumeResource {
            created_at: self.created.clone(),
            driver: self.driver.clone(),
            // docker's CLI creates named volumes with empty maps, shown as {}; an anonymous
            // volume made for a container has none (null).
            labels: if self.anonymous { nil_if_none(self.labels.clone()) } else { Some(self.labels.clone()) },
            mountpoint: self.mountpoint.display().to_string(),
            name: self.name.clone(),
            options: if self.anonymous { nil_if_none(self.options.clone()) } else { Some(self.options.clone()) },
            scope: "local".into(),
        }
    }
}

impl Engine {
    /// Where volume `name` keeps its data: `<root>/volumes/<name>/_data`.
    pub(crate) fn volume_data(&self, name: &str) -> PathBuf {
        self.config().root.join("volumes").join(name).join("_data")
    }

    fn volume_from_row(&self, r: VolumeRow) -> Volume {
        Volume {
            mountpoint: self.volume_data(&r.name),
            labels: serde_json::from_str(&r.labels).unwrap_or_default(),
            options: serde_json::from_str(&r.options).unwrap_or_default(),
            name: r.name,
            driver: r.driver,
            created: r.created,
            anonymous: r.anonymous,
        }
    }

    /// `doca volume create`; an existing volume of that name is returned as it is (docker's
    /// create is idempotent).
    #[tracing::instrument(level = "debug", skip_all, fields(volume = ?req.name), err(level = "debug"))]
    pub fn create_volume(&mut self, req: &CreateVolume) -> Result<Volume, EngineError> {
        let driver = req.driver.clone().unwrap_or_else(|| "local".into());
        if driver != "local" {
            return Err(EngineError::InvalidArgument(format!("error looking up volume plugin {driver}: plugin \"{driver}\" not found")));
        }
        local::validate(&req.options)?;
        if let Some(device) = local::bind_device(&req.options) {
            self.bind_source_path(device)?;
        }
        let name = match &req.name {
            Some(n) => {
                validate_name(n)?;
                n.clone()
            }
            None => crate::containers::ContainerId::random()?.to_string(),
        };
        if let Some(r) = self.store.db.read(|tx| tx.volume(&name))? {
            return Ok(self.volume_from_row(r));
        }
        let data = self.volume_data(&name);
        // `_data` is the root of the volume inside containers: 0755 as docker makes it, for
        // every user of the container; the directory holding it stays root's alone.
        std::fs::create_dir_all(&data)
            .and_then(|_| std::fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o755)))
            .map_err(EngineError::io("create", &data))?;
        let row = VolumeRow {
            name: name.clone(),
            driver,
            created: doca_image::config::rfc3339_nano(crate::now()),
            labels: serde_json::to_string(&req.labels).expect("json"),
            options: serde_json::to_string(&req.options).expect("json"),
            anonymous: req.anonymous,
        };
        if !self.store.db.write(|tx| tx.insert_volume(&row))? {
            // Another process made it meanwhile: theirs it is.
            let r = self.store.db.read(|tx| tx.volume(&name))?.ok_or_else(|| EngineError::Internal(format!("volume {name} vanished")))?;
            return Ok(self.volume_from_row(r));
        }
        self.emit("volume", "create", &name, &[("driver", "local")]);
        Ok(self.volume_from_row(row))
    }

    pub fn volume(&mut self, name: &str) -> Result<Volume, EngineError> {
        let r = self.store.db.read(|tx| tx.volume(name))?.ok_or_else(|| EngineError::NoSuchVolume(name.to_string()))?;
        Ok(self.volume_from_row(r))
    }

    /// A volume's `_data`, checked to be a directory reached through no symlink: whatever is
    /// mounted there, or mounted from there into a container, must be the volume's own.
    pub(crate) fn volume_data_checked(&self, v: &Volume) -> Result<PathBuf, EngineError> {
        let data = self.volume_data(&v.name);
        for p in [data.parent().unwrap_or(&data), &data] {
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.is_dir() => {}
                _ => {
                    return Err(EngineError::Internal(format!(
                        "volume {}: {} is not a directory (a symlink or something else replaced it)",
                        v.name,
                        p.display()
                    )))
                }
            }
        }
        Ok(data)
    }

    /// Where the users of a mounted volume are counted, one file per container, and its lock.
    fn volume_run_dir(&self, name: &str) -> PathBuf {
        self.config().run_root.join("volumes").join(name)
    }

    fn lock_volume(&self, name: &str) -> Result<(StoreLock, PathBuf), EngineError> {
        let dir = self.volume_run_dir(name);
        let users = dir.join("users");
        std::fs::create_dir_all(&users).map_err(EngineError::io("create", &users))?;
        let lock = StoreLock::acquire(&dir.join("lock"), LockMode::Exclusive)
            .map_err(|e| EngineError::Internal(format!("lock volume {name}: {e}")))?;
        Ok((lock, users))
    }

    /// Before container `user` starts with volume `v`: a volume with driver options is mounted
    /// if no other container has it mounted already, and `user` is counted.
    pub(crate) fn acquire_volume(&self, v: &Volume, user: &ContainerId) -> Result<(), EngineError> {
        if !local::needs_mount(&v.options) {
            return Ok(());
        }
        let (_lock, users) = self.lock_volume(&v.name)?;
        let data = self.volume_data_checked(v)?;
        if !local::is_mount_root(&data)? {
            // The device of a bind is resolved again now: a symlink changed since `create`
            // must not lead the mount into the store.
            let mut opts = v.options.clone();
            if let Some(device) = local::bind_device(&v.options) {
                let real = self.bind_source_path(device)?;
                opts.insert("device".into(), real.display().to_string());
            }
            local::mount(&opts, &data, &v.name)?;
        }
        let marker = users.join(user.as_str());
        std::fs::write(&marker, b"").map_err(EngineError::io("write", &marker))
    }

    /// After container `c` stopped: it no longer counts, and a volume nobody counts any more is
    /// unmounted (docker's local driver unmounts when its last user goes). Safe to call twice.
    pub(crate) fn release_volumes(&self, c: &Container) -> Result<(), EngineError> {
        for m in c.config.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
            let dir = self.volume_run_dir(&m.source);
            if !dir.join("users").join(c.id.as_str()).exists() {
                continue;
            }
            let (_lock, users) = self.lock_volume(&m.source)?;
            let _ = std::fs::remove_file(users.join(c.id.as_str()));
            let idle = std::fs::read_dir(&users).map(|mut d| d.next().is_none()).unwrap_or(true);
            if idle {
                local::unmount(&self.volume_data(&m.source))?;
            }
        }
        Ok(())
    }

    /// The containers (ids) whose mounts use volume `name`.
    pub fn volume_users(&mut self, name: &str) -> Result<Vec<String>, EngineError> {
        Ok(self
            .containers()?
            .into_iter()
            .filter(|c| c.config.mounts.iter().any(|m| m.kind == crate::containers::mounts::MountKind::Volume && m.source == name))
            .map(|c| c.id.to_string())
            .collect())
    }

    pub fn list_volumes(&mut self, filters: &[VolumeFilter]) -> Result<Vec<Volume>, EngineError> {
        let rows = self.store.db.read(|tx| tx.volumes())?;
        let used: std::collections::HashSet<String> = self
            .containers()?
            .into_iter()
            .flat_map(|c| c.config.mounts.into_iter().filter(|m| m.kind == crate::containers::mounts::MountKind::Volume).map(|m| m.source))
            .collect();
        Ok(rows
            .into_iter()
            .map(|r| self.volume_from_row(r))
            .filter(|v| {
                filters.iter().all(|f| match f {
                    VolumeFilter::Dangling(d) => used.contains(&v.name) != *d,
                    VolumeFilter::Name(n) => v.name.contains(n.as_str()),
                    VolumeFilter::Label(k, val) => v.labels.get(k).is_some_and(|x| val.as_ref().is_none_or(|w| w == x)),
                    VolumeFilter::Driver(d) => v.driver == *d,
                })
            })
            .collect())
    }

    /// `doca volume rm`: refused while a container uses it (even with `force`, as docker).
    #[tracing::instrument(level = "debug", skip_all, fields(volume = name, force), err(level = "debug"))]
    pub fn remove_volume(&mut self, name: &str, force: bool) -> Result<(), EngineError> {
        let v = match self.volume(name) {
            Ok(v) => v,
            Err(EngineError::NoSuchVolume(_)) if force => return Ok(()),
            Err(e) => return Err(e),
        };
        let users = self.volume_users(name)?;
        if !users.is_empty() {
            return Err(EngineError::Conflict(format!("remove {name}: volume is in use - [{}]", users.join(", "))));
        }
        self.delete_volume(&v)
    }

    /// The record, then the data, of a volume known to be unused.
    fn delete_volume(&mut self, v: &Volume) -> Result<(), EngineError> {
        if local::needs_mount(&v.options) {
            let (_lock, _) = self.lock_volume(&v.name)?;
            local::unmount(&v.mountpoint)?;
        }
        // Whatever is mounted on _data (the volume's device, or a mount made by hand) is not
        // the volume's to delete: never recurse into it.
        if v.mountpoint.exists() && local::is_mount_root(&v.mountpoint)? {
            return Err(EngineError::Conflict(format!("remove {}: {} is a mount point", v.name, v.mountpoint.display())));
        }
        self.store.db.write(|tx| tx.delete_volume(&v.name))?;
        let _ = std::fs::remove_dir_all(self.volume_run_dir(&v.name));
        let dir = self.config().root.join("volumes").join(&v.name);
        std::fs::remove_dir_all(&dir)
            .or_else(|e| if e.kind() == std::io::ErrorKind::NotFound { Ok(()) } else { Err(e) })
            .map_err(EngineError::io("remove", &dir))?;
        self.emit("volume", "destroy", &v.name, &[("driver", "local")]);
        Ok(())
    }

    /// `doca volume prune`: unused anonymous volumes, or every unused one with `all` (docker
    /// 23's rule). Returns the names and the bytes freed.
    pub fn prune_volumes(&mut self, all: bool, filters: &crate::prune::PruneFilters) -> Result<(Vec<String>, u64), EngineError> {
        filters.refuse_until()?;
        let mut names = Vec::new();
        let mut bytes = 0;
        for v in self.list_volumes(&[VolumeFilter::Dangling(true)])? {
            if (v.anonymous || all) && filters.allows(&v.created, &v.labels) {
                bytes += crate::containers::list::dir_size(&v.mountpoint);
                // Listed as dangling: no container to look for again.
                self.delete_volume(&v)?;
                names.push(v.name);
            }
        }
        Ok((names, bytes))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_follow_dockers_rule() {
        assert!(super::validate_name("pgdata").is_ok());
        assert!(super::validate_name("my.vol_1-a").is_ok());
        let e = super::validate_name("bad/name").unwrap_err().to_string();
        assert!(e.contains("includes invalid characters for a local volume name"), "{e}");
        assert!(super::validate_name("-x").is_err());
    }
}
