//! `doca system prune [-a] [-f] [--volumes] [--filter until=|label=|label!=]`: docker's order
//! and output (cli/command/system/prune.go): stopped containers, unused networks, with
//! --volumes unused anonymous volumes, dangling (with -a: unused) images, then the build cache
//! (with -a: all of it, cache mounts too); each removal's block as its own prune prints it,
//! then the total. The filters go to every kind (`until` to the build cache as last use).

use crate::cli::SystemPruneArgs;
use crate::output::{deleted_section, print};
use crate::units::human_size;
use crate::{CmdResult, Failure};
use doca_engine::build::BuilderPrune;
use doca_engine::images::PruneImages;
use doca_engine::prune::PruneFilters;
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: SystemPruneArgs) -> CmdResult {
    let filters = PruneFilters::from_args(&a.filter)?;
    if a.volumes && filters.until.is_some() {
        return Err(Failure::failed("ERROR: The \"until\" filter is not supported with \"--volumes\""));
    }
    if !a.force && !super::confirm(&warning(&a))? {
        return Ok(());
    }
    let mut out = String::new();
    let mut total = 0u64;
    let (text, bytes) = super::rm::prune_containers(e, &filters)?;
    out.push_str(&text);
    total += bytes;
    out.push_str(&deleted_section("Deleted Networks", e.prune_networks(&filters)?));
    if a.volumes {
        let (names, bytes) = e.prune_volumes(false, &filters)?;
        out.push_str(&deleted_section("Deleted Volumes", names));
        total += bytes;
    }
    let (text, bytes) = super::prune::prune_images(e, &PruneImages { all: a.all, filters: filters.clone() })?;
    out.push_str(&text);
    total += bytes;
    // The build cache carries no labels, so no `label=` filter matches it (`label!=` all of
    // it); `until` is when an entry was last used.
    if filters.label.is_empty() {
        let until = filters.until.map(|t| (t / 1_000_000_000) as i64);
        let (text, bytes) = super::build::prune_build_cache(e, &BuilderPrune { all: a.all, until })?;
        out.push_str(&text);
        total += bytes;
    }
    out.push_str(&format!("Total reclaimed space: {}\n", human_size(total)));
    print(&out)
}

fn warning(a: &SystemPruneArgs) -> String {
    let mut what = vec!["all stopped containers", "all networks not used by at least one container"];
    if a.volumes {
        what.push("all anonymous volumes not used by at least one container");
    }
    what.push(if a.all { "all images without at least one container associated to them" } else { "all dangling images" });
    what.push(if a.all { "all build cache" } else { "all dangling build cache" });
    let mut list: String = what.iter().map(|w| format!("\n  - {w}")).collect();
    // docker lists the filters after the kinds: "  Items to be pruned will be filtered with:".
    if !a.filter.is_empty() {
        list.push_str("\n\n  Items to be pruned will be filtered with:");
        for f in &a.filter {
            list.push_str(&format!("\n  - {f}"));
        }
    }
    format!("WARNING! This will remove:{list}\n\nAre you sure you want to continue? [y/N] ")
}
