//! `doca top` and `doca update`.

use super::run_opts::resources;
use super::stop::for_each_container;
use crate::cli::{TopArgs, UpdateArgs};
use crate::output::print;
use crate::CmdResult;
use doca_engine::containers::RestartPolicy;
use doca_engine::containers::UpdateFields;
use doca_engine::Engine;

pub fn top(e: &mut Engine, a: TopArgs) -> CmdResult {
    print(&e.top_container(&a.container, &a.ps_args)?)
}

pub fn update(e: &mut Engine, a: UpdateArgs) -> CmdResult {
    let r = resources(&a.resources, crate::exit::Verb::Other)?;
    let f = &a.resources;
    let set = UpdateFields {
        memory: f.memory.is_some(),
        memory_swap: f.memory_swap.is_some(),
        memory_reservation: f.memory_reservation.is_some(),
        nano_cpus: f.cpus.is_some(),
        cpu_shares: f.cpu_shares.is_some(),
        cpu_quota: f.cpu_quota.is_some(),
        cpu_period: f.cpu_period.is_some(),
        cpuset_cpus: f.cpuset_cpus.is_some(),
        cpuset_mems: f.cpuset_mems.is_some(),
        pids_limit: f.pids_limit.is_some(),
        restart: a.restart.as_deref().map(RestartPolicy::parse).transpose()?,
    };
    for_each_container(&a.containers, |n| e.update_container(n, &r, &set).map(|_| ()))
}
