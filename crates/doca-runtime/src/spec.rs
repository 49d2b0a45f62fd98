//! Loading and checking config.json beyond what its types enforce. Errors name the field.

use crate::error::{Result, RuntimeError};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::Path;

/// The name a spec enum value has in config.json ("RLIMIT_NOFILE", "CAP_KILL", ...): oci-spec's
/// serde names are the spec's, its Rust variant names are not.
pub fn enum_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

pub fn load(bundle: &Path) -> Result<Spec> {
    let p = bundle.join("config.json");
    let bytes = std::fs::read(&p).map_err(|e| RuntimeError::Spec(format!("read {}: {e}", p.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| RuntimeError::Spec(format!("{}: {e}", p.display())))
}

/// What doca cannot honour is refused by name, never silently dropped.
pub fn validate(spec: &Spec) -> Result<()> {
    let process = spec.process().as_ref().ok_or_else(|| RuntimeError::Spec("process: required".into()))?;
    if process.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(RuntimeError::Spec("process.args: must name the program to run".into()));
    }
    if !process.cwd().is_absolute() {
        return Err(RuntimeError::Spec(format!("process.cwd: {} is not absolute", process.cwd().display())));
    }
    if spec.root().is_none() {
        return Err(RuntimeError::Spec("root: required".into()));
    }
    // This host has neither AppArmor nor SELinux: applying nothing would be a silent downgrade.
    if let Some(p) = process.apparmor_profile() {
        if !Path::new("/sys/kernel/security/apparmor").exists() {
            return Err(RuntimeError::Unsupported(
                "process.apparmorProfile".into(),
                format!("{p:?} cannot be applied: AppArmor is not enabled on this host"),
            ));
        }
        return Err(RuntimeError::Unsupported("process.apparmorProfile".into(), "AppArmor profiles are not implemented yet".into()));
    }
    if let Some(l) = process.selinux_label() {
        return Err(RuntimeError::Unsupported(
            "process.selinuxLabel".into(),
            format!("{l:?} cannot be applied: SELinux is not enabled on this host"),
        ));
    }
    let linux = spec.linux().as_ref().ok_or_else(|| RuntimeError::Spec("linux: required on Linux".into()))?;
    if let Some(h) = spec.hooks() {
        for (kind, list) in [
            ("prestart", h.prestart()),
            ("createRuntime", h.create_runtime()),
            ("createContainer", h.create_container()),
            ("startContainer", h.start_container()),
            ("poststart", h.poststart()),
            ("poststop", h.poststop()),
        ] {
            for hook in list.iter().flatten() {
                if !hook.path().is_absolute() {
                    return Err(RuntimeError::Spec(format!("hooks.{kind}: path {} is not absolute", hook.path().display())));
                }
            }
        }
    }
    crate::sysctl::validate(linux)?;
    for ns in linux.namespaces().iter().flatten() {
        match (ns.typ(), ns.path()) {
            (LinuxNamespaceType::User, None)
                if linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty())
                    || linux.gid_mappings().as_ref().is_none_or(|m| m.is_empty()) =>
            {
                return Err(RuntimeError::Spec("linux.uidMappings and linux.gidMappings are required with a user namespace".into()));
            }
            (LinuxNamespaceType::Time, Some(p)) if linux.time_offsets().as_ref().is_some_and(|o| !o.is_empty()) => {
                // Offsets belong to a namespace when it is made (time_namespaces(7)): they
                // cannot be given for one that is joined.
                return Err(RuntimeError::Spec(format!("linux.timeOffsets cannot be set when joining the time namespace {}", p.display())));
            }
            _ => {}
        }
    }
    Ok(())
}
