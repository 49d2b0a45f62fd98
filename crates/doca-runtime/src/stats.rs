//! `events` and `ps`: what the container's cgroup says about it, in runc's JSON shape.

use crate::error::Result;
use crate::state::State;
use serde_json::{json, Value};
use std::path::Path;

fn read_u64(dir: &Path, file: &str) -> Option<u64> {
    std::fs::read_to_string(dir.join(file)).ok()?.trim().parse().ok()
}

/// runc's `events --stats` event (types.Event with types.Stats).
pub fn stats(state: &State) -> Result<Value> {
    let mut cpu_total = None;
    let mut mem = (None, None, None);
    let mut pids = (None, None);
    for p in &state.cgroup_paths {
        cpu_total = cpu_total.or_else(|| read_u64(p, "cpuacct.usage"));
        if let Some(u) = read_u64(p, "memory.usage_in_bytes") {
            mem = (Some(u), read_u64(p, "memory.max_usage_in_bytes"), read_u64(p, "memory.limit_in_bytes"));
        }
        if let Some(c) = read_u64(p, "pids.current") {
            pids = (Some(c), read_u64(p, "pids.max"));
        }
        // cgroup v2
        if cpu_total.is_none() {
            if let Ok(s) = std::fs::read_to_string(p.join("cpu.stat")) {
                cpu_total =
                    s.lines().find_map(|l| l.strip_prefix("usage_usec ")).and_then(|v| v.trim().parse::<u64>().ok()).map(|us| us * 1000);
            }
        }
        if mem.0.is_none() {
            if let Some(u) = read_u64(p, "memory.current") {
                mem = (Some(u), read_u64(p, "memory.peak"), read_u64(p, "memory.max"));
            }
        }
    }
    Ok(json!({
        "type": "stats",
        "id": state.id,
        "data": {
            "cpu": {"usage": {"total": cpu_total.unwrap_or(0)}},
            "memory": {"usage": {"usage": mem.0.unwrap_or(0), "max": mem.1.unwrap_or(0), "limit": mem.2.unwrap_or(0)}},
            "pids": {"current": pids.0.unwrap_or(0), "limit": pids.1.unwrap_or(0)}
        }
    }))
}

/// Every process in the container.
pub fn pids(state: &State) -> Vec<i32> {
    if state.cgroup_paths.is_empty() {
        return pid_namespace_members(state.pid);
    }
    crate::cgroups::pids(&state.cgroup_paths)
}

/// A container without a cgroup (rootless, none delegated): the processes in its init's pid
/// namespace (the same /proc/PID/ns/pid), the init included. A container that shares another
/// pid namespace has only its init found.
fn pid_namespace_members(init: i32) -> Vec<i32> {
    let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(own) = ns(&init.to_string()) else { return Vec::new() };
    if std::fs::read_link("/proc/self/ns/pid").ok().as_ref() == Some(&own) {
        return vec![init];
    }
    let mut out: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| ns(&p.to_string()).as_ref() == Some(&own))
        .collect();
    out.sort_unstable();
    out
}

/// How many times the kernel's OOM killer has killed in the container's memory cgroup: v1's
/// `oom_kill` line of memory.oom_control (kernel 4.13+), v2's of memory.events.
pub fn oom_kills(state: &State) -> Option<u64> {
    state.cgroup_paths.iter().find_map(|p| {
        ["memory.oom_control", "memory.events"].iter().find_map(|f| {
            std::fs::read_to_string(p.join(f)).ok()?.lines().find_map(|l| l.strip_prefix("oom_kill ")).and_then(|v| v.trim().parse().ok())
        })
    })
}

/// runc's OOM event.
pub fn oom_event(state: &State) -> Value {
    json!({"type": "oom", "id": state.id})
}
