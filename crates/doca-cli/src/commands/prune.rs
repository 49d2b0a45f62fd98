//! `doca image prune [-a] [-f] [--filter until=|label=|label!=]`

use crate::cli::PruneArgs;
use crate::output::deleted_section;
use crate::units::human_size;
use crate::{CmdResult, Failure};
use doca_engine::images::{PruneImages, RemoveEvent};
use doca_engine::prune::PruneFilters;
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: PruneArgs) -> CmdResult {
    let filters = PruneFilters::from_args(&a.filter)?;
    if !a.force {
        let warning = if a.all {
            "WARNING! This will remove all images without at least one container associated to them."
        } else {
            "WARNING! This will remove all dangling images."
        };
        if !super::confirm(&format!("{warning}\nAre you sure you want to continue? [y/N] "))? {
            return Ok(());
        }
    }
    let (mut out, reclaimed) = prune_images(e, &PruneImages { all: a.all, filters })?;
    out.push_str(&format!("Total reclaimed space: {}\n", human_size(reclaimed)));
    crate::output::print(&out).map_err(|f| if f.code == crate::exit::SUCCESS { f } else { Failure::failed(f.message) })
}

/// Removes unused images: docker's "Deleted Images" block and the bytes freed.
pub fn prune_images(e: &mut Engine, req: &PruneImages) -> Result<(String, u64), Failure> {
    let r = e.prune_images(req)?;
    let lines = r.events.iter().map(|ev| match ev {
        RemoveEvent::Untagged(t) => format!("untagged: {t}"),
        RemoveEvent::Deleted(d) => format!("deleted: {d}"),
    });
    Ok((deleted_section("Deleted Images", lines), r.reclaimed))
}
