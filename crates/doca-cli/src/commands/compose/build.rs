//! `doca compose build` and `pull`.

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
