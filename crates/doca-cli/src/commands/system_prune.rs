//! `doca system prune [-a] [-f] [--volumes]`: docker's order and output (cli/command/system
//! prune.go): stopped containers, unused networks, with --volumes unused anonymous volumes,
//! dangling (with -a: unused) images, then the build cache (with -a: all of it, cache mounts
//! too); each removal's block as its own prune prints it, then the total.

use crate::cli::SystemPruneArgs;
use crate::output::{deleted_section, print};
use crate::units::human_size;
use crate::{CmdResult, Failure};
use doca_engine::build::BuilderPrune;
use doca_engine::images::PruneImages;
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: SystemPruneArgs) -> CmdResult {
    if !a.filter.is_empty() {
        return Err(Failure::new(1, "system prune --filter is not supported yet"));
    }
    if !a.force && !super::confirm(&warning(&a))? {
        return Ok(());
    }
    let mut out = String::new();
    let mut total = 0u64;
    let (text, bytes) = super::rm::prune_containers(e)?;
    out.push_str(&text);
    total += bytes;
    out.push_str(&deleted_section("Deleted Networks", e.prune_networks()?));
    if a.volumes {
        let (names, bytes) = e.prune_volumes(false)?;
        out.push_str(&deleted_section("Deleted Volumes", names));
        total += bytes;
    }
    let (text, bytes) = super::prune::prune_images(e, &PruneImages { all: a.all, filters: Vec::new() })?;
    out.push_str(&text);
    total += bytes;
    let (text, bytes) = super::build::prune_build_cache(e, &BuilderPrune { all: a.all, until: None })?;
    out.push_str(&text);
    total += bytes;
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
    let list: String = what.iter().map(|w| format!("\n  - {w}")).collect();
    format!("WARNING! This will remove:{list}\n\nAre you sure you want to continue? [y/N] ")
}
