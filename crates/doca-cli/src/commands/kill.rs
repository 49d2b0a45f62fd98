//! `doca kill`, `pause`, `unpause`, `wait`, `rename`: one engine call per container.

use super::stop::{for_each_container, for_each_reporting};
use crate::cli::{KillArgs, NamesArgs, RenameArgs};
use crate::CmdResult;
use doca_engine::Engine;

pub fn kill(e: &mut Engine, a: KillArgs) -> CmdResult {
    for_each_container(&a.containers, |n| e.kill_container(n, a.signal.as_deref()).map(|_| ()))
}

pub fn pause(e: &mut Engine, a: NamesArgs) -> CmdResult {
    for_each_container(&a.containers, |n| e.pause_container(n).map(|_| ()))
}

pub fn unpause(e: &mut Engine, a: NamesArgs) -> CmdResult {
    for_each_container(&a.containers, |n| e.unpause_container(n).map(|_| ()))
}

/// Prints each container's exit code as it stops.
pub fn wait(e: &mut Engine, a: NamesArgs) -> CmdResult {
    for_each_reporting(&a.containers, |n| e.wait_container(n).map(|code| code.to_string()))
}

pub fn rename(e: &mut Engine, a: RenameArgs) -> CmdResult {
    Ok(e.rename_container(&a.container, &a.new_name)?)
}
