//! `doca compose stop|start|restart|rm`: the services' containers, in docker compose's words.

use crate::cli::{ComposeRmArgs, ComposeServicesArgs, ComposeStopArgs};
use crate::{CmdResult, Failure};
use doca_compose::up::Compose;
use doca_engine::containers::StartContainer;
use doca_engine::Engine;

pub fn stop(e: &mut Engine, c: &Compose, a: ComposeStopArgs) -> CmdResult {
    for k in c.service_containers(e, &a.services, false)?.iter().rev() {
        e.stop_container(k.id.as_str(), a.timeout, None)?;
        super::progress("Container", &k.name, "Stopped");
    }
    Ok(())
}

pub fn start(e: &mut Engine, c: &Compose, a: ComposeServicesArgs) -> CmdResult {
    let order = c.order(&a.services, false)?;
    let mut all = c.service_containers(e, &a.services, true)?;
    all.sort_by_key(|k| order.iter().position(|o| Some(o) == k.config.labels.get(doca_compose::service::SERVICE)));
    for k in all.iter().filter(|k| !k.state.status.is_live()) {
        e.start_container(k.id.as_str(), &StartContainer::default())?;
        super::progress("Container", &k.name, "Started");
    }
    Ok(())
}

pub fn restart(e: &mut Engine, c: &Compose, a: ComposeStopArgs) -> CmdResult {
    for k in c.service_containers(e, &a.services, true)? {
        let k = e.stop_container(k.id.as_str(), a.timeout, None)?;
        e.start_container(k.id.as_str(), &StartContainer::default())?;
        super::progress("Container", &k.name, "Started");
    }
    Ok(())
}

pub fn rm(e: &mut Engine, c: &Compose, a: ComposeRmArgs) -> CmdResult {
    let all = c.service_containers(e, &a.services, true)?;
    let victims: Vec<_> = if a.stop { all } else { all.into_iter().filter(|k| !k.state.status.is_live()).collect() };
    if victims.is_empty() {
        eprintln!("No stopped containers");
        return Ok(());
    }
    if !a.force {
        let names: Vec<&str> = victims.iter().map(|k| k.name.as_str()).collect();
        if !super::super::confirm(&format!("Going to remove {}\n? Are you sure you want to continue? [y/N] ", names.join(", ")))? {
            return Err(Failure::failed(""));
        }
    }
    for k in victims {
        if k.state.status.is_live() {
            e.stop_container(k.id.as_str(), None, None)?;
            super::progress("Container", &k.name, "Stopped");
        }
        e.remove_container(k.id.as_str(), true, a.volumes)?;
        super::progress("Container", &k.name, "Removed");
    }
    Ok(())
}
