//! `doca compose up`: the project's networks, volumes, images and containers.

use crate::cli::ComposeUpArgs;
use crate::{CmdResult, Failure};
use doca_compose::up::{Compose, Up};
use doca_engine::Engine;
use std::io::Write;

pub fn run(e: &mut Engine, c: &Compose, a: ComposeUpArgs) -> CmdResult {
    let mut scale = std::collections::BTreeMap::new();
    for s in &a.scale {
        let (svc, n) = s.split_once('=').ok_or_else(|| Failure::failed(format!("invalid --scale {s:?}: want SERVICE=NUM")))?;
        scale.insert(svc.to_string(), n.parse::<u32>().map_err(|_| Failure::failed(format!("invalid --scale {s:?}: want SERVICE=NUM")))?);
    }
    let req = Up {
        services: a.services.clone(),
        build: a.build,
        no_build: a.no_build,
        force_recreate: a.force_recreate,
        no_recreate: a.no_recreate,
        no_deps: a.no_deps,
        remove_orphans: a.remove_orphans,
        scale,
        wait: a.wait,
        wait_timeout: a.wait_timeout.map(std::time::Duration::from_secs),
        no_start: false,
        pull: a.pull.clone(),
        timeout: a.timeout,
    };
    // --wait runs detached, as docker compose's does.
    if a.detach || a.wait {
        return Ok(c.up(e, &req, &mut super::progress)?);
    }
    // Attached: Ctrl-C stops the project's containers, as docker compose does.
    stop_on_signal(e.config().clone(), c.project.name.clone(), a.timeout);
    c.up(e, &req, &mut super::progress)?;
    let containers = c.service_containers(e, &a.services, true)?;
    let names: Vec<&str> = containers.iter().map(|k| k.name.as_str()).collect();
    eprintln!("Attaching to {}", names.join(", "));
    let abort = a.abort_on_container_exit || a.exit_code_from.is_some();
    let colour = !a.no_color && super::super::attach_io::is_tty(1);
    let mut remaining = containers.len();
    let mut first_exit: Option<String> = None;
    let mut out = std::io::stdout().lock();
    let show = super::logs::Show {
        logs: doca_engine::containers::ContainerLogs { follow: true, ..Default::default() },
        prefixes: true,
        colour,
        timestamps: false,
    };
    super::logs::stream(e, c, &containers, &show, |m| match m {
        super::logs::Msg::Line(l) => out.write_all(&l).and_then(|_| out.flush()).is_ok(),
        super::logs::Msg::Ended(name) => {
            first_exit.get_or_insert(name);
            remaining -= 1;
            remaining > 0 && !abort
        }
    })?;
    let mut code = 0;
    for k in &containers {
        let now = e.container(k.id.as_str())?;
        if !now.state.status.is_live() {
            eprintln!("{} exited with code {}", now.name, now.state.exit_code);
        }
    }
    if abort {
        eprintln!("Aborting on container exit...");
        let from = match &a.exit_code_from {
            Some(svc) => {
                containers.iter().find(|k| k.config.labels.get(doca_compose::service::SERVICE) == Some(svc)).map(|k| k.name.clone())
            }
            None => first_exit,
        };
        if let Some(name) = from {
            code = e.container(&name)?.state.exit_code;
        }
        for k in containers.iter().rev() {
            let k = e.stop_container(k.id.as_str(), a.timeout, None)?;
            super::progress("Container", &k.name, "Stopped");
        }
    }
    super::super::run::exit_with(code)
}

/// SIGINT, SIGTERM or SIGHUP while attached: the project's containers are stopped, then doca
/// exits as a shell does on SIGINT.
fn stop_on_signal(engine: doca_engine::EngineConfig, project: String, timeout: Option<i64>) {
    super::super::attach_io::on_interrupt(move || {
        eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
        let Ok(mut e) = doca_engine::Engine::open(engine) else { return };
        let Ok(f) = doca_engine::containers::ContainerFilter::parse(&format!("label={}={project}", doca_compose::service::PROJECT)) else {
            return;
        };
        let list = e.list_containers(&doca_engine::containers::ListContainers { all: false, last: None, filters: vec![f] });
        for k in list.unwrap_or_default() {
            if e.stop_container(k.id.as_str(), timeout, None).is_ok() {
                super::progress("Container", &k.name, "Stopped");
            }
        }
    });
}
