//! `doca compose cp`: `doca cp` with a service's container for `SERVICE:` (`--index`, or every
//! container of the service with `--all` when copying in).

use crate::cli::{ComposeCpArgs, CpArgs};
use crate::{CmdResult, Failure};
use doca_compose::service::NUMBER;
use doca_compose::up::Compose;
use doca_engine::Engine;

pub fn run(e: &mut Engine, c: &Compose, a: ComposeCpArgs) -> CmdResult {
    let service_of = |p: &str| p.split_once(':').map(|(s, path)| (s.to_string(), path.to_string()));
    let (service, copy_in) = match (service_of(&a.src), service_of(&a.dest)) {
        (Some((s, _)), None) => (s, false),
        (None, Some((s, _))) => (s, true),
        (Some(_), Some(_)) => return Err(Failure::failed("copying between services is not supported")),
        (None, None) => return Err(Failure::failed("must specify at least one container source")),
    };
    if c.model.service(&service).is_none() {
        return Err(Failure::failed(format!("no such service: {service}")));
    }
    let containers = c.service_containers(e, std::slice::from_ref(&service), true)?;
    let index = a.index.to_string();
    let targets: Vec<String> = if a.all && copy_in {
        containers.iter().map(|k| k.name.clone()).collect()
    } else {
        containers.iter().filter(|k| k.config.labels.get(NUMBER) == Some(&index)).map(|k| k.name.clone()).take(1).collect()
    };
    if targets.is_empty() {
        return Err(Failure::failed(format!("no container found for service {service:?}")));
    }
    let rename = |p: &str, name: &str| match p.split_once(':') {
        Some((_, path)) => format!("{name}:{path}"),
        None => p.to_string(),
    };
    for name in targets {
        super::super::diff::cp(
            e,
            CpArgs {
                archive: a.archive,
                follow_link: a.follow_link,
                quiet: true,
                src: rename(&a.src, &name),
                dest: rename(&a.dest, &name),
            },
        )?;
    }
    Ok(())
}
