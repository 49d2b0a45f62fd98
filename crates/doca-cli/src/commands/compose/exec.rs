//! `doca compose exec SERVICE CMD`: `doca exec` into the service's container (`--index`).

use crate::cli::{ComposeExecArgs, ExecArgs};
use crate::{CmdResult, Failure};
use doca_compose::up::Compose;
use doca_engine::Engine;

pub fn run(e: &mut Engine, c: &Compose, a: ComposeExecArgs) -> CmdResult {
    let containers = c.service_containers(e, std::slice::from_ref(&a.service), false)?;
    let index = a.index.to_string();
    let k = containers
        .iter()
        .find(|k| k.config.labels.get(doca_compose::service::NUMBER) == Some(&index))
        .ok_or_else(|| Failure::failed(format!("service {:?} is not running", a.service)))?;
    let mut container_and_command = vec![k.id.to_string()];
    container_and_command.extend(a.command);
    super::super::exec::run(
        e,
        ExecArgs {
            detach: a.detach,
            interactive: !a.no_tty && !a.detach,
            tty: !a.no_tty && !a.detach && super::super::attach_io::is_tty(0),
            env: a.env,
            env_file: Vec::new(),
            user: a.user,
            workdir: a.workdir,
            privileged: false,
            detach_keys: None,
            container_and_command,
        },
    )
}
