//! `doca top` and `doca update`.

use super::run_opts::ram_in_bytes;
use super::stop::for_each_container;
use crate::cli::{TopArgs, UpdateArgs};
use crate::output::print;
use crate::{CmdResult, Failure};
use doca_engine::containers::top::UpdateFields;
use doca_engine::containers::{Resources, RestartPolicy};
use doca_engine::Engine;

pub fn top(e: &mut Engine, a: TopArgs) -> CmdResult {
    print(&e.top_container(&a.container, &a.ps_args)?)
}

pub fn update(e: &mut Engine, a: UpdateArgs) -> CmdResult {
    let size = |flag: &str, v: &Option<String>| -> Result<i64, Failure> {
        match v.as_deref() {
            None => Ok(0),
            Some("-1") => Ok(-1),
            Some(s) => ram_in_bytes(s).map_err(|err| Failure::new(1, format!("invalid argument \"{s}\" for \"{flag}\" flag: {err}"))),
        }
    };
    let nano_cpus = match &a.cpus {
        None => 0,
        Some(c) => {
            let f: f64 = c.parse().map_err(|_| Failure::new(1, format!("invalid argument \"{c}\" for \"--cpus\" flag")))?;
            (f * 1e9).round() as i64
        }
    };
    let r = Resources {
        memory: size("--memory", &a.memory)?,
        memory_swap: size("--memory-swap", &a.memory_swap)?,
        memory_reservation: size("--memory-reservation", &a.memory_reservation)?,
        nano_cpus,
        cpu_shares: a.cpu_shares.unwrap_or(0),
        cpu_quota: a.cpu_quota.unwrap_or(0),
        cpu_period: a.cpu_period.unwrap_or(0),
        cpuset_cpus: a.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: a.cpuset_mems.clone().unwrap_or_default(),
        pids_limit: a.pids_limit.unwrap_or(0),
        ..Default::default()
    };
    let set = UpdateFields {
        memory: a.memory.is_some(),
        memory_swap: a.memory_swap.is_some(),
        memory_reservation: a.memory_reservation.is_some(),
        nano_cpus: a.cpus.is_some(),
        cpu_shares: a.cpu_shares.is_some(),
        cpu_quota: a.cpu_quota.is_some(),
        cpu_period: a.cpu_period.is_some(),
        cpuset_cpus: a.cpuset_cpus.is_some(),
        cpuset_mems: a.cpuset_mems.is_some(),
        pids_limit: a.pids_limit.is_some(),
        restart: a.restart.as_deref().map(RestartPolicy::parse).transpose()?,
    };
    for_each_container(&a.containers, |n| e.update_container(n, &r, &set).map(|_| ()))
}
