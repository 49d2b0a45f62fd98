//! Cgroups for a container: v1 (one directory per mounted hierarchy) and v2 (the unified
//! hierarchy), including the hybrid layout where a cgroup2 mount sits beside the v1 ones
//! (/sys/fs/cgroup/unified). No systemd: directories are made and written directly.
//!
//! Resource semantics follow the runtime spec (config-linux.md "Control groups") and runc's
//! libcontainer/cgroups/fs (v1) and fs2 (v2) file mapping.

use crate::error::{Result, RuntimeError};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

/// One hierarchy the container's cgroup lives in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// v1 controllers of this mount (empty for cgroup2).
    pub controllers: Vec<String>,
    pub mountpoint: PathBuf,
    pub v2: bool,
}

/// The cgroup hierarchies mounted on this host, from a mountinfo text.
pub fn hierarchies(mountinfo: &str) -> Vec<Hierarchy> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        // mountinfo(5): fields ... mountpoint(5) ... " - " fstype source superopts
        let Some((left, right)) = line.split_once(" - ") else { continue };
        let mountpoint = left.split(' ').nth(4).unwrap_or_default();
        let mut r = right.split(' ');
        let fstype = r.next().unwrap_or_default();
        let superopts = r.nth(1).unwrap_or_default();
        match fstype {
            "cgroup2" => out.push(Hierarchy { controllers: Vec::new(), mountpoint: PathBuf::from(unescape(mountpoint)), v2: true }),
            "cgroup" => {
                let controllers: Vec<String> =
                    superopts.split(',').filter(|o| V1_CONTROLLERS.contains(o) || o.starts_with("name=")).map(str::to_string).collect();
                out.push(Hierarchy { controllers, mountpoint: PathBuf::from(unescape(mountpoint)), v2: false });
            }
            _ => {}
        }
    }
    out
}

/// cgroup v1 controllers (cgroups(7)); other super options (rw, xattr, noprefix, ...) are not.
const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

fn unescape(s: &str) -> String {
    s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")
}

/// The container's cgroup: one directory per hierarchy.
#[derive(Debug, Clone)]
pub struct Cgroup {
    pub dirs: Vec<(Hierarchy, PathBuf)>,
}

/// The first limit `r` asks for (memory, cpu, pids, block I/O, huge pages, unified), by its
/// spec name; device rules are not limits.
pub fn limits_asked(r: &LinuxResources) -> Option<&'static str> {
    if r.memory().as_ref().is_some_and(|m| m.limit().is_some() || m.reservation().is_some() || m.swap().is_some()) {
        return Some("memory");
    }
    if r.cpu().as_ref().is_some_and(|c| c.quota().is_some() || c.shares().is_some() || c.cpus().is_some() || c.period().is_some()) {
        return Some("cpu");
    }
    if r.pids().as_ref().is_some_and(|p| p.limit() > 0) {
        return Some("pids");
    }
    if r.block_io().is_some() {
        return Some("blockIO");
    }
    if r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty()) {
        return Some("hugepageLimits");
    }
    if r.unified().as_ref().is_some_and(|u| !u.is_empty()) {
        return Some("unified");
    }
    None
}

impl Cgroup {
    /// `cgroups_path` from the spec (absolute, or relative to the hierarchy root; runc's
    /// "slice:prefix:name" systemd form is refused: doca never needs systemd).
    pub fn new(cgroups_path: Option<&Path>, id: &str, mounts: &[Hierarchy]) -> Result<Self> {
        let rel = match cgroups_path {
            Some(p) if p.to_string_lossy().contains(':') => {
                return Err(RuntimeError::Unsupported(
                    "systemd cgroup path".into(),
                    format!("{} (use a path like /doca/{id})", p.display()),
                ))
            }
            Some(p) => p.strip_prefix("/").unwrap_or(p).to_path_buf(),
            None => PathBuf::from(id),
        };
        if rel.components().any(|c| matches!(c, std::path::Component::ParentDir)) {
            return Err(RuntimeError::Spec(format!("linux.cgroupsPath {} must not contain ..", rel.display())));
        }
        // A v2-only host mounts cgroup2 alone; the hybrid layout adds it beside the v1 mounts.
        let dirs = mounts.iter().filter(|h| h.v2 || !h.controllers.is_empty()).map(|h| (h.clone(), h.mountpoint.join(&rel))).collect();
        Ok(Cgroup { dirs })
    }

    pub fn for_host(cgroups_path: Option<&Path>, id: &str) -> Result<Self> {
        let mi = std::fs::read_to_string("/proc/self/mountinfo").map_err(RuntimeError::io("read", "/proc/self/mountinfo"))?;
        Self::new(cgroups_path, id, &hierarchies(&mi))
    }

    pub fn paths(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|(_, d)| d.clone()).collect()
    }

    fn dir_of(&self, controller: &str) -> Option<&Path> {
        self.dirs.iter().find(|(h, _)| h.controllers.iter().any(|c| c == controller)).map(|(_, d)| d.as_path())
    }

    fn unified(&self) -> Option<&Path> {
        self.dirs.iter().find(|(h, _)| h.v2).map(|(_, d)| d.as_path())
    }

    /// True when the host runs cgroup v2 only.
    fn v2_only(&self) -> bool {
        self.dirs.iter().all(|(h, _)| h.v2)
    }

    pub fn create(&self) -> Result<()> {
        for (h, d) in &self.dirs {
            // A parent can vanish between its mkdir and ours: another runtime (or engine)
            // removing the parent it found empty. Made again then; once ours exists, it cannot.
            let mut made = std::fs::create_dir_all(d);
            for _ in 0..20 {
                match &made {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => made = std::fs::create_dir_all(d),
                    _ => break,
                }
            }
            made.map_err(RuntimeError::io("create cgroup", d))?;
            if h.controllers.iter().any(|c| c == "cpuset") {
                init_cpuset(&h.mountpoint, d)?;
            }
            if h.v2 && self.v2_only() {
                enable_v2_controllers(&h.mountpoint, d)?;
            }
        }
        Ok(())
    }

    pub fn add(&self, pid: i32) -> Result<()> {
        for (_, d) in &self.dirs {
            write(d, "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    pub fn apply(&self, r: &LinuxResources) -> Result<()> {
        if self.v2_only() {
            return self.apply_v2(r);
        }
        if let Some(m) = r.memory() {
            if let Some(d) = self.dir_of("memory") {
                if let Some(l) = nonzero(m.limit()) {
                    write(d, "memory.limit_in_bytes", &l.to_string())?;
                }
                if let Some(l) = nonzero(m.reservation()) {
                    write(d, "memory.soft_limit_in_bytes", &l.to_string())?;
                }
                if let Some(s) = nonzero(m.swap()) {
                    // memsw exists only with swap accounting; asking for it without is an error.
                    write(d, "memory.memsw.limit_in_bytes", &s.to_string())?;
                }
                if m.disable_oom_killer() == Some(true) {
                    write(d, "memory.oom_control", "1")?;
                }
            }
        }
        if let Some(c) = r.cpu() {
            if let Some(d) = self.dir_of("cpu") {
                if let Some(s) = c.shares().filter(|s| *s != 0) {
                    write(d, "cpu.shares", &s.to_string())?;
                }
                // The period first: a quota larger than the old period's bound would be refused.
                if let Some(p) = c.period().filter(|p| *p != 0) {
                    write(d, "cpu.cfs_period_us", &p.to_string())?;
                }
                if let Some(q) = nonzero(c.quota()) {
                    write(d, "cpu.cfs_quota_us", &q.to_string())?;
                }
            }
            if let Some(d) = self.dir_of("cpuset") {
                if let Some(cpus) = c.cpus().as_ref().filter(|c| !c.is_empty()) {
                    write(d, "cpuset.cpus", cpus)?;
                }
                if let Some(mems) = c.mems().as_ref().filter(|m| !m.is_empty()) {
                    write(d, "cpuset.mems", mems)?;
                }
            }
        }
        if let Some(p) = r.pids().as_ref().filter(|p| p.limit() != 0) {
            if let Some(d) = self.dir_of("pids") {
                write(d, "pids.max", &if p.limit() > 0 { p.limit().to_string() } else { "max".into() })?;
            }
        }
        if let Some(b) = r.block_io() {
            if let Some(d) = self.dir_of("blkio") {
                if let Some(w) = b.weight().filter(|w| *w != 0) {
                    write(d, "blkio.weight", &w.to_string())?;
                }
                for (file, list) in [
                    ("blkio.throttle.read_bps_device", b.throttle_read_bps_device()),
                    ("blkio.throttle.write_bps_device", b.throttle_write_bps_device()),
                    ("blkio.throttle.read_iops_device", b.throttle_read_iops_device()),
                    ("blkio.throttle.write_iops_device", b.throttle_write_iops_device()),
                ] {
                    for t in list.iter().flatten() {
                        write(d, file, &format!("{}:{} {}", t.major(), t.minor(), t.rate()))?;
                    }
                }
            }
        }
        for h in r.hugepage_limits().iter().flatten() {
            match (self.dir_of("hugetlb"), self.unified()) {
                (Some(d), _) => write(d, &format!("hugetlb.{}.limit_in_bytes", h.page_size()), &h.limit().to_string())?,
                // The hybrid layout of some hosts carries hugetlb on the unified mount.
                (None, Some(u)) => write(u, &format!("hugetlb.{}.max", h.page_size()), &h.limit().to_string())?,
                (None, None) => return Err(RuntimeError::Unsupported("hugepage limits".into(), "no hugetlb controller is mounted".into())),
            }
        }
        if let Some(d) = self.dir_of("devices") {
            apply_devices_v1(d, r)?;
        }
        self.apply_unified(r)
    }

    fn apply_unified(&self, r: &LinuxResources) -> Result<()> {
        if let Some(map) = r.unified() {
            let u = self
                .unified()
                .ok_or_else(|| RuntimeError::Unsupported("linux.resources.unified".into(), "no cgroup2 hierarchy is mounted".into()))?;
            for (k, v) in map {
                if k.contains('/') || k.starts_with('.') {
                    return Err(RuntimeError::Spec(format!("linux.resources.unified key {k:?} is not a cgroup file name")));
                }
                write(u, k, v)?;
            }
        }
        Ok(())
    }

    /// cgroup v2 file mapping (runc fs2): memory.max/low/swap.max, cpu.weight/max,
    /// cpuset.*, pids.max, io.weight, hugetlb.*.max, then `unified`.
    fn apply_v2(&self, r: &LinuxResources) -> Result<()> {
        let d = self.unified().expect("v2 host has a unified dir");
        if let Some(m) = r.memory() {
            if let Some(l) = m.limit() {
                write(d, "memory.max", &limit_v2(l))?;
                if let Some(s) = m.swap() {
                    // v1 swap is memory+swap; v2 swap.max is swap alone.
                    let swap = if s < 0 { "max".into() } else { (s - l.max(0)).max(0).to_string() };
                    write(d, "memory.swap.max", &swap)?;
                }
            }
            if let Some(l) = m.reservation() {
                write(d, "memory.low", &limit_v2(l))?;
            }
            if m.disable_oom_killer() == Some(true) {
                return Err(RuntimeError::Unsupported("disableOOMKiller".into(), "cgroup v2 has no OOM-killer switch".into()));
            }
        }
        if let Some(c) = r.cpu() {
            if let Some(s) = c.shares() {
                write(d, "cpu.weight", &shares_to_weight(s).to_string())?;
            }
            if c.quota().is_some() || c.period().is_some() {
                let q = c.quota().filter(|q| *q > 0).map(|q| q.to_string()).unwrap_or_else(|| "max".into());
                write(d, "cpu.max", &format!("{q} {}", c.period().unwrap_or(100_000)))?;
            }
            if let Some(cpus) = c.cpus() {
                write(d, "cpuset.cpus", cpus)?;
            }
            if let Some(mems) = c.mems() {
                write(d, "cpuset.mems", mems)?;
            }
        }
        if let Some(p) = r.pids() {
            write(d, "pids.max", &if p.limit() > 0 { p.limit().to_string() } else { "max".into() })?;
        }
        if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
            // io.weight is 1..10000, blkio.weight 10..1000 (runc's ConvertBlkIOToIOWeightValue).
            write(d, "io.weight", &(1 + (u64::from(w.max(10)) - 10) * 9999 / 990).to_string())?;
        }
        for h in r.hugepage_limits().iter().flatten() {
            write(d, &format!("hugetlb.{}.max", h.page_size()), &h.limit().to_string())?;
        }
        if r.devices().is_some() {
            // v2 has no devices files: an eBPF program attached to the cgroup decides.
            crate::devicefilter::attach(d, &device_rules(r)).map_err(|e| RuntimeError::Io {
                op: "device rules",
                path: d.to_path_buf(),
                source: e,
            })?;
        }
        self.apply_unified(r)
    }
}

/// Zero means "not set" for limits, shares, weights and periods, as runc reads the spec
/// (dockerd sends zeros for everything the user did not ask for).
fn nonzero(v: Option<i64>) -> Option<i64> {
    v.filter(|v| *v != 0)
}

fn limit_v2(l: i64) -> String {
    if l < 0 {
        "max".into()
    } else {
        l.to_string()
    }
}

/// runc's ConvertCPUSharesToCgroupV2Value.
fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + ((shares.clamp(2, 262_144) - 2) * 9999) / 262_142
}

fn write(dir: &Path, file: &str, value: &str) -> Result<()> {
    let p = dir.join(file);
    std::fs::write(&p, value).map_err(|e| RuntimeError::Sys(format!("write {value:?} to {}: {e}", p.display())))
}

/// v1 cpuset: a new cgroup starts with empty cpus/mems and refuses tasks until they are set;
/// copy them down from the nearest ancestor that has them.
fn init_cpuset(mountpoint: &Path, dir: &Path) -> Result<()> {
    let rel = dir.strip_prefix(mountpoint).unwrap_or(dir);
    let mut cur = mountpoint.to_path_buf();
    for c in rel.components() {
        let parent = cur.clone();
        cur.push(c);
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let mine = std::fs::read_to_string(cur.join(f)).unwrap_or_default();
            if mine.trim().is_empty() {
                let theirs = std::fs::read_to_string(parent.join(f)).map_err(RuntimeError::io("read", parent.join(f)))?;
                write(&cur, f, theirs.trim())?;
            }
        }
    }
    Ok(())
}

/// v2: a controller works in a cgroup only when every ancestor, from the hierarchy's root,
/// enables it in cgroup.subtree_control.
fn enable_v2_controllers(mountpoint: &Path, dir: &Path) -> Result<()> {
    let rel = dir.strip_prefix(mountpoint).unwrap_or(dir);
    let comps: Vec<_> = rel.components().collect();
    let mut cur = mountpoint.to_path_buf();
    for c in comps {
        let avail = std::fs::read_to_string(cur.join("cgroup.controllers")).unwrap_or_default();
        let want: Vec<String> = avail.split_whitespace().map(|c| format!("+{c}")).collect();
        if !want.is_empty() {
            write(&cur, "cgroup.subtree_control", &want.join(" "))?;
        }
        cur.push(c);
    }
    Ok(())
}

/// v1 devices: deny all, then the spec's rules in order (runtime spec: "the runtime MUST
/// supply" the default devices, so those are allowed too).
fn apply_devices_v1(dir: &Path, r: &LinuxResources) -> Result<()> {
    write(dir, "devices.deny", "a")?;
    for d in r.devices().iter().flatten() {
        let kind = d.typ().map(|t| t.as_str().to_string()).unwrap_or_else(|| "a".into());
        let num = |n: Option<i64>| n.map(|n| n.to_string()).unwrap_or_else(|| "*".into());
        let access = d.access().clone().unwrap_or_else(|| "rwm".into());
        let rule = format!("{kind} {}:{} {access}", num(d.major()), num(d.minor()));
        write(dir, if d.allow() { "devices.allow" } else { "devices.deny" }, &rule)?;
    }
    for (major, minor) in crate::devices::always_allowed() {
        let minor = minor.map(|m| m.to_string()).unwrap_or_else(|| "*".into());
        write(dir, "devices.allow", &format!("c {major}:{minor} rwm"))?;
    }
    Ok(())
}

/// The device rules as v1 would apply them (deny all, the spec's rules in order, then the
/// default devices), for the v2 program.
fn device_rules(r: &LinuxResources) -> Vec<crate::devicefilter::Rule> {
    use crate::devicefilter::Rule;
    let mut rules = vec![Rule::from_spec(false, "a", None, None, "rwm")];
    for d in r.devices().iter().flatten() {
        let kind = d.typ().map(|t| t.as_str().to_string()).unwrap_or_else(|| "a".into());
        rules.push(Rule::from_spec(d.allow(), &kind, d.major(), d.minor(), d.access().as_deref().unwrap_or("rwm")));
    }
    for (major, minor) in crate::devices::always_allowed() {
        let minor = minor.map(i64::from);
        rules.push(Rule::from_spec(true, "c", Some(i64::from(major)), minor, "rwm"));
    }
    rules
}

/// Removes the container's cgroup directories (they must hold no process).
pub fn remove(paths: &[PathBuf]) -> Result<()> {
    for p in paths {
        for attempt in 0..50 {
            match std::fs::remove_dir(p) {
                Ok(()) => break,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                // EBUSY right after the last process died: the kernel frees it shortly.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) && attempt < 49 => std::thread::sleep(std::time::Duration::from_millis(10)),
                Err(e) => return Err(RuntimeError::io("remove cgroup", p)(e)),
            }
        }
    }
    Ok(())
}

/// Every process in the container's cgroup (for `kill --all`).
pub fn pids(paths: &[PathBuf]) -> Vec<i32> {
    let mut out: Vec<i32> = Vec::new();
    for p in paths {
        if let Ok(s) = std::fs::read_to_string(p.join("cgroup.procs")) {
            out.extend(s.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

pub fn is_frozen(paths: &[PathBuf]) -> bool {
    paths.iter().any(|p| {
        std::fs::read_to_string(p.join("freezer.state")).map(|s| s.trim() == "FROZEN").unwrap_or(false)
            || std::fs::read_to_string(p.join("cgroup.freeze")).map(|s| s.trim() == "1").unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "25 24 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
29 25 0:26 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd";

    #[test]
    fn parses_hybrid_mountinfo() {
        let h = hierarchies(HYBRID);
        assert_eq!(h.len(), 4);
        assert!(h[0].v2);
        assert_eq!(h[1].controllers, ["memory"]);
        assert_eq!(h[2].controllers, ["cpu", "cpuacct"]);
        assert_eq!(h[3].controllers, ["name=systemd"]);
        let cg = Cgroup::new(Some(Path::new("/doca/x")), "x", &h).unwrap();
        assert_eq!(cg.dir_of("cpu"), Some(Path::new("/sys/fs/cgroup/cpu,cpuacct/doca/x")));
        assert!(Cgroup::new(Some(Path::new("system.slice:doca:x")), "x", &h).is_err());
        assert!(Cgroup::new(Some(Path::new("/../../etc")), "x", &h).is_err());
    }

    /// cgroup v2 is what most users run; this host is hybrid, so v2 is tested against a fake
    /// cgroupfs tree: the files written and their values.
    #[test]
    fn v2_writes_the_unified_files() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        std::fs::write(root.join("cgroup.controllers"), "cpu memory pids io hugetlb cpuset").unwrap();
        std::fs::write(root.join("cgroup.subtree_control"), "").unwrap();
        let mounts = vec![Hierarchy { controllers: Vec::new(), mountpoint: root.to_path_buf(), v2: true }];
        let cg = Cgroup::new(Some(Path::new("/doca/c1")), "c1", &mounts).unwrap();
        cg.create().unwrap();
        std::fs::write(root.join("doca/cgroup.controllers"), "cpu memory pids").unwrap();
        let r: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": 104857600, "swap": 209715200, "reservation": 52428800},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0"},
            "pids": {"limit": 64},
            "unified": {"memory.high": "90000000"}
        }))
        .unwrap();
        cg.apply(&r).unwrap();
        let d = root.join("doca/c1");
        let rd = |f: &str| std::fs::read_to_string(d.join(f)).unwrap();
        assert_eq!(rd("memory.max"), "104857600");
        assert_eq!(rd("memory.swap.max"), "104857600");
        assert_eq!(rd("memory.low"), "52428800");
        assert_eq!(rd("cpu.weight"), "39");
        assert_eq!(rd("cpu.max"), "50000 100000");
        assert_eq!(rd("cpuset.cpus"), "0");
        assert_eq!(rd("pids.max"), "64");
        assert_eq!(rd("memory.high"), "90000000");
        assert_eq!(std::fs::read_to_string(root.join("cgroup.subtree_control")).unwrap(), "+cpu +memory +pids +io +hugetlb +cpuset");
    }
}
