//! `doca attach`: a running container's streams on this terminal.

use super::attach_io::{block_signals, pump, Pump};
use super::run::exit_with;
use super::run_opts::detach_keys;
use crate::cli::AttachArgs;
use crate::CmdResult;
use doca_engine::containers::AttachStreams;
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: AttachArgs) -> CmdResult {
    let c = e.container(&a.container)?;
    let stdin = !a.no_stdin && c.config.open_stdin;
    let p = Pump {
        stdin,
        tty: c.config.tty,
        detach_keys: detach_keys(a.detach_keys.as_deref())?,
        sig_proxy: a.sig_proxy && !c.config.tty,
        engine: e.config().clone(),
        container: c.id.to_string(),
    };
    let signals = block_signals(&p);
    let (_, mut att) = e.attach_container(c.id.as_str(), AttachStreams { stdin, stdout: true, stderr: true, cleanup: false })?;
    match pump(p, signals, &mut att)? {
        Some(code) => exit_with(code),
        None => Ok(()),
    }
}
