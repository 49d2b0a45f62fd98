//! `doca system check [--repair]`: exit 0 when the store is consistent (dangling content is
//! reported, and removed with --repair), 1 when referenced content is missing or corrupt.

use crate::cli::CheckArgs;
use crate::units::human_size;
use crate::{CmdResult, Failure};
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: CheckArgs) -> CmdResult {
    let r = e.check_store(a.repair)?;
    let mut out = format!("checked {} images, {} blobs, {} snapshots\n", r.images, r.blobs, r.snapshots);
    for p in &r.problems {
        out.push_str(&format!("problem: {p}\n"));
    }
    for d in &r.dangling {
        out.push_str(&format!("dangling: {d}\n"));
    }
    if let Some(g) = &r.repaired {
        out.push_str(&format!(
            "repaired: removed {} blobs, {} snapshots, {} leftovers ({})\n",
            g.blobs_removed,
            g.snapshots_removed,
            g.leftovers_removed,
            human_size(g.reclaimed)
        ));
    } else if !r.dangling.is_empty() {
        out.push_str("run `doca system check --repair` to remove what is dangling\n");
    }
    if r.problems.is_empty() {
        out.push_str("store is consistent\n");
    }
    crate::output::print(&out)?;
    if r.problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(format!("store has {} problems", r.problems.len())))
    }
}
