//! `doca compose up`: the project's networks, volumes, images and containers.

use crate::cli::ComposeUpArgs;
use crate::{CmdResult, Failure};
use doca_compose::up::{Compose, Up};
use doca_engine::Engine;

pub fn run(e: &mut Engine, c: &Compose, a: ComposeUpArgs) -> CmdResult {
    if !a.detach {
        return Err(Failure::failed("doca compose up runs detached for now: give -d (then `doca compose logs`)"));
    }
    let mut scale = std::collections::BTreeMap::new();
    for s in &a.scale {
        let (svc, n) = s.split_once('=').ok_or_else(|| Failure::failed(format!("invalid --scale {s:?}: want SERVICE=NUM")))?;
        scale.insert(svc.to_string(), n.parse::<u32>().map_err(|_| Failure::failed(format!("invalid --scale {s:?}: want SERVICE=NUM")))?);
    }
    let req = Up {
        services: a.services,
        build: a.build,
        no_build: a.no_build,
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        no_deps: a.no_deps,
        remove_orphans: a.remove_orphans,
        scale,
        wait: a.wait,
        wait_timeout: a.wait_timeout.map(std::time::Duration::from_secs),
    };
    Ok(c.up(e, &req, &mut super::progress)?)
}
