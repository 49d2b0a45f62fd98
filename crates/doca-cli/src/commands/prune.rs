//! `doca image prune [-a] [-f]`

use crate::cli::PruneArgs;
use crate::units::human_size;
use crate::{CmdResult, Failure};
use doca_engine::images::{ImageFilter, PruneImages, RemoveEvent};
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: PruneArgs) -> CmdResult {
    let filters = a.filter.iter().map(|f| ImageFilter::parse(f)).collect::<Result<Vec<_>, _>>()?;
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
    let r = e.prune_images(&PruneImages { all: a.all, filters })?;
    let mut out = String::new();
    if !r.events.is_empty() {
        out.push_str("Deleted Images:\n");
        for ev in &r.events {
            match ev {
                RemoveEvent::Untagged(t) => out.push_str(&format!("untagged: {t}\n")),
                RemoveEvent::Deleted(d) => out.push_str(&format!("deleted: {d}\n")),
            }
        }
        out.push('\n');
    }
    out.push_str(&format!("Total reclaimed space: {}\n", human_size(r.reclaimed)));
    crate::output::print(&out).map_err(|f| if f.code == 0 { f } else { Failure::new(1, f.message) })
}
