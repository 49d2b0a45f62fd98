//! `doca stop` and `doca restart`: docker prints each name as given once it is done.

use crate::cli::StopArgs;
use crate::output::print;
use crate::{CmdResult, Failure};
use doca_engine::containers::StartContainer;
use doca_engine::Engine;

pub(crate) fn for_each_container(names: &[String], mut f: impl FnMut(&str) -> Result<(), doca_engine::EngineError>) -> CmdResult {
    for_each_reporting(names, |n| f(n).map(|()| n.to_string()))
}

/// Runs `f` on each container, printing what it returns, as docker's multi-container commands
/// do; the errors are reported together and make the exit code 1.
pub(crate) fn for_each_reporting(names: &[String], mut f: impl FnMut(&str) -> Result<String, doca_engine::EngineError>) -> CmdResult {
    let mut errors = Vec::new();
    for n in names {
        match f(n) {
            Ok(line) => print(&format!("{line}\n"))?,
            Err(e) => errors.push(e.to_string()),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(errors.join("\nError: ")))
    }
}

pub fn stop(e: &mut Engine, a: StopArgs) -> CmdResult {
    for_each_container(&a.containers, |n| e.stop_container(n, a.time, a.signal.as_deref()).map(|_| ()))
}

pub fn restart(e: &mut Engine, a: StopArgs) -> CmdResult {
    for_each_container(&a.containers, |n| {
        let c = e.stop_container(n, a.time, a.signal.as_deref())?;
        e.start_container(c.id.as_str(), &StartContainer::default()).map(|_| ())
    })
}
