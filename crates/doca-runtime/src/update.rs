//! `update`: new cgroup limits for a running container.

use crate::cgroups::Cgroup;
use crate::error::{Result, RuntimeError};
use crate::state::{State, Status};
use oci_spec::runtime::LinuxResources;
use std::path::Path;

pub fn update(root: &Path, id: &str, resources: &LinuxResources) -> Result<()> {
    let state = State::load(root, id)?;
    let status = state.status(root);
    if status == Status::Stopped {
        return Err(RuntimeError::State { op: "update", id: id.into(), status: status.to_string() });
    }
    let path = state.spec.linux().as_ref().and_then(|l| l.cgroups_path().clone());
    Cgroup::for_host(path.as_deref(), id)?.apply(resources)
}

/// runc's size syntax for update flags: bytes, or a number with k, m, g (powers of 1024).
pub fn parse_size(s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let (num, mult) = match t.trim_end_matches('b').chars().last() {
        Some('k') => (&t[..t.trim_end_matches('b').len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.trim_end_matches('b').len() - 1], 1 << 20),
        Some('g') => (&t[..t.trim_end_matches('b').len() - 1], 1 << 30),
        _ => (t.trim_end_matches('b'), 1),
    };
    if t == "-1" {
        return Ok(-1);
    }
    num.parse::<i64>().ok().and_then(|n| n.checked_mul(mult)).ok_or_else(|| RuntimeError::Sys(format!("invalid size {s:?}")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::parse_size("64m").unwrap(), 64 << 20);
        assert_eq!(super::parse_size("1G").unwrap(), 1 << 30);
        assert_eq!(super::parse_size("4096").unwrap(), 4096);
        assert_eq!(super::parse_size("-1").unwrap(), -1);
        assert!(super::parse_size("12zz").is_err());
    }
}
