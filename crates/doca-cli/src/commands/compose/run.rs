//! `doca compose run SERVICE [CMD]`: a one-off container of the service (its dependencies
//! up first), attached like `doca run`, labelled as compose labels one-offs.

use crate::cli::ComposeRunArgs;
use crate::output::print;
use crate::CmdResult;
use doca_compose::up::{Compose, RunOneOff};
use doca_engine::containers::StartContainer;
use doca_engine::Engine;

pub fn run(e: &mut Engine, c: &Compose, a: ComposeRunArgs) -> CmdResult {
    let tty = !a.no_tty && !a.detach && super::super::attach_io::is_tty(0) && super::super::attach_io::is_tty(1);
    let req = RunOneOff {
        service: a.service,
        command: a.command,
        entrypoint: a.entrypoint.map(|ep| if ep.is_empty() { Vec::new() } else { vec![ep] }),
        env: a.env,
        name: a.name,
        remove: a.rm,
        no_deps: a.no_deps,
        service_ports: a.service_ports,
        publish: a.publish,
        volumes: a.volume,
        user: a.user,
        workdir: a.workdir,
        tty,
        // compose run keeps stdin open unless detached (docker compose's -i is on by default).
        interactive: a.interactive || !a.detach,
    };
    let (create, connect) = c.one_off(e, &req, &mut super::progress)?;
    let k = e.create_container(&create).map_err(crate::exit::run_failure)?;
    for mut n in connect {
        n.container = k.id.to_string();
        e.connect_network(&n)?;
    }
    if a.detach {
        e.start_container(k.id.as_str(), &StartContainer::default()).map_err(crate::exit::run_failure)?;
        return print(&format!("{}\n", k.name));
    }
    super::super::run::attached(e, &create, k.id.as_str(), super::super::run_opts::detach_keys(None)?, true)
}
