//! `doca compose down`: the project's containers and networks (and `-v` its volumes) gone.

use crate::cli::ComposeDownArgs;
use crate::CmdResult;
use doca_compose::up::{Compose, Down};
use doca_engine::Engine;

pub fn run(e: &mut Engine, c: &Compose, a: ComposeDownArgs) -> CmdResult {
    let req = Down { volumes: a.volumes, remove_orphans: a.remove_orphans, timeout: a.timeout, rmi: a.rmi };
    Ok(c.down(e, &req, &mut super::progress)?)
}
