//! `doca start`: each container in turn; with `-a` (one container only) attached as `run` is.

use super::attach_io::{block_signals, pump, Pump};
use super::run::exit_with;
use super::run_opts::detach_keys;
use crate::cli::StartArgs;
use crate::output::print;
use crate::{CmdResult, Failure};
use doca_engine::containers::{AttachStreams, StartContainer};
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: StartArgs) -> CmdResult {
    if a.attach || a.interactive {
        if a.containers.len() > 1 {
            return Err(Failure::failed("you cannot start and attach multiple containers at once"));
        }
        let name = &a.containers[0];
        let c = e.container(name)?;
        let stdin = a.interactive && c.config.open_stdin;
        let p = Pump {
            stdin,
            tty: c.config.tty,
            detach_keys: detach_keys(a.detach_keys.as_deref())?,
            sig_proxy: true,
            engine: e.config().clone(),
            container: c.id.to_string(),
        };
        let signals = block_signals(&p);
        let streams = AttachStreams { stdin, stdout: true, stderr: true, cleanup: false };
        let attach = e
            .start_container(c.id.as_str(), &StartContainer { attach: Some(streams), console_size: super::attach_io::terminal_size() })
            .map_err(|err| Failure::failed(format!("{err}\nError: failed to start containers: {name}")))?;
        let code = match attach {
            Some(mut att) => match pump(p, signals, &mut att)? {
                Some(code) => code,
                None => return Ok(()),
            },
            None => e.wait_container(c.id.as_str())?,
        };
        return exit_with(code);
    }
    let mut failed = Vec::new();
    for name in &a.containers {
        match e.start_container(name, &StartContainer::default()) {
            Ok(_) => print(&format!("{name}\n"))?,
            Err(err) => failed.push(format!("{err}")),
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        failed.push(format!("failed to start containers: {}", a.containers.join(", ")));
        Err(Failure::failed(failed.join("\nError: ")))
    }
}
