//! `doca rmi` / `doca image rm`: each name in turn; a failure does not stop the others, and
//! the exit code is 1 if any failed.

use crate::cli::RmiArgs;
use crate::{CmdResult, Failure};
use doca_engine::images::{RemoveEvent, RemoveImage};
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: RmiArgs) -> CmdResult {
    let mut out = String::new();
    let mut errors = Vec::new();
    for name in &a.images {
        match e.remove_image(&RemoveImage { name: name.clone(), force: a.force }) {
            Ok(events) => {
                for ev in events {
                    match ev {
                        RemoveEvent::Untagged(t) => out.push_str(&format!("Untagged: {t}\n")),
                        RemoveEvent::Deleted(d) => out.push_str(&format!("Deleted: {d}\n")),
                    }
                }
            }
            Err(err) => errors.push(err.to_string()),
        }
    }
    crate::output::print(&out)?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(errors.join("\nError: ")))
    }
}
