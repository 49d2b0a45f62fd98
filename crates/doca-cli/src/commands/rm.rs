//! `doca rm` and `doca container prune`.

use super::stop::for_each_container;
use crate::cli::{ContainerPruneArgs, RmArgs};
use crate::output::{deleted_section, print};
use crate::units::human_size;
use crate::{CmdResult, Failure};
use doca_engine::prune::PruneFilters;
use doca_engine::Engine;

pub fn rm(e: &mut Engine, a: RmArgs) -> CmdResult {
    if a.link {
        return Err(Failure::failed("links are a legacy feature doca does not have"));
    }
    for_each_container(&a.containers, |n| e.remove_container(n, a.force, a.volumes).map(|_| ()))
}

pub fn prune(e: &mut Engine, a: ContainerPruneArgs) -> CmdResult {
    let filters = PruneFilters::from_args(&a.filter)?;
    if !a.force && !super::confirm("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ")? {
        return Ok(());
    }
    let (mut out, total) = prune_containers(e, &filters)?;
    out.push_str(&format!("Total reclaimed space: {}\n", human_size(total)));
    print(&out)
}

/// Removes the stopped containers: docker's "Deleted Containers" block and the bytes freed.
pub fn prune_containers(e: &mut Engine, filters: &PruneFilters) -> Result<(String, u64), Failure> {
    let removed = e.prune_containers(filters)?;
    let total: u64 = removed.iter().map(|(_, s)| s).sum();
    Ok((deleted_section("Deleted Containers", removed.into_iter().map(|(c, _)| c.id.to_string())), total))
}
