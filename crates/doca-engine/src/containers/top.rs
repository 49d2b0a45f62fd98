//! `doca top`, `doca stats` and `doca update`: a running container's processes, its cgroup's
//! figures, and new limits, through the runtime.

use super::record::{Resources, Status, ZERO_TIME};
use crate::docker::{CpuStats, CpuUsage, MemoryStats, PidsStats, Stats, ThrottlingData};
use crate::{Engine, EngineError};

/// One sample of a container's resource use.
#[derive(Debug, Clone, PartialEq)]
pub struct StatsSample {
    /// Nanoseconds of CPU time used so far.
    pub cpu_total: u64,
    pub memory_usage: u64,
    /// The memory limit (the host's memory when unlimited, as docker shows it).
    pub memory_limit: u64,
    pub pids: u64,
    /// When it was taken, to turn two samples into a CPU percentage.
    pub at: std::time::Instant,
    /// The same instant as docker's `read` (RFC 3339, nanoseconds).
    pub read: String,
    /// The host's CPU time so far (all CPUs, nanoseconds, from /proc/stat), docker's
    /// system_cpu_usage.
    pub system_cpu: u64,
    /// What the runtime reported, whole.
    pub runtime: super::runtime::RuntimeStats,
}

impl StatsSample {
    /// docker's StatsJSON for this sample, after `previous` (docker's precpu_stats and preread).
    pub fn to_docker(&self, c: &super::Container, previous: Option<&StatsSample>) -> Stats {
        let cpu = |s: &StatsSample| CpuStats {
            cpu_usage: CpuUsage {
                total_usage: s.cpu_total,
                percpu_usage: s.runtime.cpu.usage.percpu.clone(),
                usage_in_kernelmode: s.runtime.cpu.usage.kernel,
                usage_in_usermode: s.runtime.cpu.usage.user,
            },
            system_cpu_usage: s.system_cpu,
            online_cpus: online_cpus(),
            throttling_data: ThrottlingData::default(),
        };
        Stats {
            read: self.read.clone(),
            preread: previous.map_or_else(|| ZERO_TIME.to_string(), |p| p.read.clone()),
            pids_stats: PidsStats { current: self.pids, limit: self.runtime.pids.limit },
            cpu_stats: cpu(self),
            precpu_stats: previous.map(cpu).unwrap_or_default(),
            memory_stats: MemoryStats {
                usage: self.memory_usage,
                max_usage: self.runtime.memory.usage.max,
                stats: self.runtime.memory.raw.clone(),
                failcnt: self.runtime.memory.usage.failcnt,
                limit: self.memory_limit,
            },
            name: format!("/{}", c.name),
            id: c.id.to_string(),
            ..Stats::default()
        }
    }
}

fn online_cpus() -> u32 {
    std::thread::available_parallelism().map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX))
}

/// The host's CPU time in nanoseconds: the first line of /proc/stat, in clock ticks of
/// USER_HZ (100 on Linux, proc(5)), as docker reads it.
fn system_cpu() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: u64 = stat
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("cpu "))
        .map(|l| l.split_whitespace().take(7).filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    ticks * (1_000_000_000 / 100)
}

fn host_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().find_map(|l| l.strip_prefix("MemTotal:")).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}

impl Engine {
    fn running(&mut self, name: &str) -> Result<super::Container, EngineError> {
        let c = self.container(name)?;
        match c.state.status {
            Status::Running | Status::Paused => Ok(c),
            _ => Err(EngineError::Conflict(format!("Container {} is not running", c.id))),
        }
    }

    /// `doca top CONTAINER [ps OPTIONS]`: ps(1)'s table of the container's processes.
    pub fn top_container(&mut self, name: &str, ps_args: &[String]) -> Result<String, EngineError> {
        let c = self.running(name)?;
        let args: Vec<String> = if ps_args.is_empty() { vec!["-ef".into()] } else { ps_args.to_vec() };
        self.runtime_of(&c)?.ps(c.id.as_str(), &args)
    }

    pub fn container_stats(&mut self, name: &str) -> Result<(super::Container, StatsSample), EngineError> {
        let c = self.running(name)?;
        let v = self.runtime_of(&c)?.stats(c.id.as_str())?;
        let limit = v.memory.usage.limit;
        let host = host_memory();
        let sample = StatsSample {
            cpu_total: v.cpu.usage.total,
            // docker subtracts the page cache (inactive_file) from usage; runc's figure
            // includes it, and so does this one.
            memory_usage: v.memory.usage.usage,
            // v1 reports "no limit" as a huge number: the host's memory is the real bound.
            memory_limit: if limit == 0 || limit > host { host } else { limit },
            pids: v.pids.current,
            at: std::time::Instant::now(),
            read: doca_image::config::rfc3339_nano(crate::now()),
            system_cpu: system_cpu(),
            runtime: v,
        };
        Ok((c, sample))
    }

    /// `doca update`: new limits, applied by the runtime to a running container and kept for
    /// its next start.
    pub fn update_container(&mut self, name: &str, r: &Resources, set: &UpdateFields) -> Result<super::Container, EngineError> {
        let mut c = self.container(name)?;
        let x = &mut c.config.resources;
        let mut flags: Vec<String> = Vec::new();
        let mut add = |flag: &str, v: String| {
            flags.push(format!("--{flag}"));
            flags.push(v);
        };
        if set.memory {
            x.memory = r.memory;
            add("memory", r.memory.to_string());
        }
        if set.memory_swap {
            x.memory_swap = r.memory_swap;
            add("memory-swap", r.memory_swap.to_string());
        } else if set.memory && x.memory_swap == 0 && r.memory > 0 {
            // As at create: memory without swap allows as much swap again.
            add("memory-swap", (2 * r.memory).to_string());
        }
        if set.memory_reservation {
            x.memory_reservation = r.memory_reservation;
            add("memory-reservation", r.memory_reservation.to_string());
        }
        if set.nano_cpus {
            x.nano_cpus = r.nano_cpus;
            add("cpu-period", "100000".into());
            add("cpu-quota", (r.nano_cpus * 100_000 / 1_000_000_000).to_string());
        }
        if set.cpu_shares {
            x.cpu_shares = r.cpu_shares;
            add("cpu-shares", r.cpu_shares.to_string());
        }
        if set.cpu_quota {
            x.cpu_quota = r.cpu_quota;
            add("cpu-quota", r.cpu_quota.to_string());
        }
        if set.cpu_period {
            x.cpu_period = r.cpu_period;
            add("cpu-period", r.cpu_period.to_string());
        }
        if set.cpuset_cpus {
            x.cpuset_cpus = r.cpuset_cpus.clone();
            add("cpuset-cpus", r.cpuset_cpus.clone());
        }
        if set.cpuset_mems {
            x.cpuset_mems = r.cpuset_mems.clone();
            add("cpuset-mems", r.cpuset_mems.clone());
        }
        if set.pids_limit {
            x.pids_limit = r.pids_limit;
            add("pids-limit", if r.pids_limit > 0 { r.pids_limit.to_string() } else { "-1".into() });
        }
        if let Some(p) = set.restart {
            c.config.restart = p;
        }
        if flags.is_empty() && set.restart.is_none() {
            return Err(EngineError::InvalidArgument("you must provide one or more flags when using this command".into()));
        }
        // The same checks as at create (memory minimum, swap above memory, CPU range).
        let probe = super::record::CreateContainer { cmd: vec!["check".into()], ..c.config.clone() };
        super::spec::oci_spec(
            &Default::default(),
            &super::spec::RunOptions::from_request(&probe, "check", Default::default(), "/".into(), String::new()),
        )?;
        if c.state.status.is_live() && !flags.is_empty() {
            self.runtime_of(&c)?.update(c.id.as_str(), &flags)?;
        }
        let config = serde_json::to_string(&c.config).expect("json");
        self.store.db.write(|tx| tx.set_container_config(c.id.as_str(), &config))?;
        Ok(c)
    }
}

/// Which fields of an update were given (zero is a value, not "unset").
#[derive(Debug, Clone, Default)]
pub struct UpdateFields {
    pub memory: bool,
    pub memory_swap: bool,
    pub memory_reservation: bool,
    pub nano_cpus: bool,
    pub cpu_shares: bool,
    pub cpu_quota: bool,
    pub cpu_period: bool,
    pub cpuset_cpus: bool,
    pub cpuset_mems: bool,
    pub pids_limit: bool,
    pub restart: Option<super::record::RestartPolicy>,
}
