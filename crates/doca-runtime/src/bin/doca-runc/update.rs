//! `update`

use crate::cli::UpdateArgs;
use anyhow::Context;
use std::path::Path;

pub fn run(root: &Path, a: UpdateArgs) -> anyhow::Result<()> {
    use doca_runtime::update::parse_size;
    let mut r: serde_json::Value = match &a.resources {
        Some(p) if p.as_os_str() == "-" => serde_json::from_reader(std::io::stdin()).context("parse resources from stdin")?,
        Some(p) => serde_json::from_slice(&std::fs::read(p).with_context(|| format!("read {}", p.display()))?)
            .with_context(|| format!("parse {}", p.display()))?,
        None => serde_json::json!({}),
    };
    let mut set = |section: &str, key: &str, v: serde_json::Value| {
        r.as_object_mut().expect("object").entry(section).or_insert_with(|| serde_json::json!({}))[key] = v;
    };
    if let Some(m) = &a.memory {
        set("memory", "limit", parse_size(m)?.into());
    }
    if let Some(m) = &a.memory_reservation {
        set("memory", "reservation", parse_size(m)?.into());
    }
    if let Some(m) = &a.memory_swap {
        set("memory", "swap", parse_size(m)?.into());
    }
    if let Some(v) = a.cpu_shares {
        set("cpu", "shares", v.into());
    }
    if let Some(v) = a.cpu_quota {
        set("cpu", "quota", v.into());
    }
    if let Some(v) = a.cpu_period {
        set("cpu", "period", v.into());
    }
    if let Some(v) = &a.cpuset_cpus {
        set("cpu", "cpus", v.clone().into());
    }
    if let Some(v) = &a.cpuset_mems {
        set("cpu", "mems", v.clone().into());
    }
    if let Some(v) = a.pids_limit {
        set("pids", "limit", v.into());
    }
    if let Some(v) = a.blkio_weight {
        set("blockIO", "weight", v.into());
    }
    let resources: oci_spec::runtime::LinuxResources = serde_json::from_value(r).context("resources")?;
    doca_runtime::update::update(root, &a.id, &resources)?;
    Ok(())
}
