//! `doca compose build`, `pull`, `push` and `create`.

use crate::cli::{ComposeBuildArgs, ComposeServicesArgs};
use crate::CmdResult;
use doca_compose::up::Compose;
use doca_engine::Engine;

pub fn build(e: &mut Engine, c: &Compose, a: ComposeBuildArgs) -> CmdResult {
    Ok(c.build(e, &a.services, a.no_cache, a.pull, &mut super::progress)?)
}

pub fn pull(e: &mut Engine, c: &Compose, a: ComposeServicesArgs) -> CmdResult {
    Ok(c.pull(e, &a.services, &mut super::progress)?)
}

pub fn push(e: &mut Engine, c: &Compose, a: ComposeServicesArgs) -> CmdResult {
    Ok(c.push(e, &a.services, &mut super::progress)?)
}

pub fn create(e: &mut Engine, c: &Compose, a: ComposeServicesArgs) -> CmdResult {
    let req = doca_compose::up::Up { services: a.services, no_start: true, ..Default::default() };
    Ok(c.up(e, &req, &mut super::progress)?)
}
