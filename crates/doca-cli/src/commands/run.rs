//! `doca run` and `doca create`.

use super::attach_io::{block_signals, pump, Pump};
use super::run_opts::{create_request, detach_keys};
use crate::cli::RunArgs;
use crate::exit::{run_failure, Verb};
use crate::output::print;
use crate::{CmdResult, Failure};
use doca_engine::containers::{AttachStreams, StartContainer};
use doca_engine::Engine;

fn write_cidfile(a: &RunArgs, id: &str) -> Result<(), Failure> {
    let Some(path) = &a.cidfile else { return Ok(()) };
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            Failure::not_run(format!("Container ID file found, make sure the other container isn't running or delete {}", path.display()))
        } else {
            Failure::not_run(format!("failed to create the container ID file: {e}"))
        }
    })?;
    crate::user_file_mode(&f)
        .and_then(|_| f.write_all(id.as_bytes()))
        .map_err(|e| Failure::not_run(format!("failed to write the container ID file: {e}")))
}

/// `--pull`: `always` pulls, `missing` pulls when the store lacks the image (docker's "Unable
/// to find image ... locally" first), `never` leaves it to create's "No such image". The pull's
/// lines go to stderr, as docker's do, so the container's output stays alone on stdout.
fn ensure_image(e: &mut Engine, a: &RunArgs, image: &str, verb: Verb) -> CmdResult {
    let pull = match a.pull.as_str() {
        "always" => true,
        "missing" => {
            let m = matches!(e.resolve_image(image), Err(doca_engine::EngineError::NoSuchImage(_)));
            if m && doca_engine::Reference::parse(image).is_ok() {
                let shown = doca_engine::Reference::parse(image).map(|r| {
                    if r.tag().is_none() && r.digest().is_none() {
                        r.with_tag("latest")
                    } else {
                        r
                    }
                });
                eprintln!("Unable to find image '{}' locally", shown.map(|r| r.familiar()).unwrap_or_else(|_| image.to_string()));
            }
            m
        }
        _ => false,
    };
    if pull && doca_engine::Reference::parse(image).is_ok() {
        super::pull::pull(e, image, a.platform.as_deref(), a.quiet, super::attach_io::is_tty(2), &mut std::io::stderr()).map_err(|f| {
            if verb == Verb::Run {
                Failure::not_run(f.message)
            } else {
                f
            }
        })?;
    }
    Ok(())
}

pub fn create(e: &mut Engine, a: RunArgs) -> CmdResult {
    let req = create_request(&a, Verb::Other)?;
    ensure_image(e, &a, &req.image, Verb::Other)?;
    let c = e.create_container(&req)?;
    write_cidfile(&a, c.id.as_str())?;
    print(&format!("{}\n", c.id))
}

pub fn run(e: &mut Engine, a: RunArgs) -> CmdResult {
    let req = create_request(&a, Verb::Run)?;
    let keys = detach_keys(a.detach_keys.as_deref())?;
    ensure_image(e, &a, &req.image, Verb::Run)?;
    let c = e.create_container(&req).map_err(run_failure)?;
    write_cidfile(&a, c.id.as_str())?;
    let id = c.id.to_string();
    if a.detach {
        e.start_container(&id, &StartContainer::default()).map_err(run_failure)?;
        return print(&format!("{id}\n"));
    }
    attached(e, &req, &id, keys, a.sig_proxy)
}

/// A created container started with its streams attached (`run`, `compose run`): output as it
/// comes, stdin when asked, the exit code as doca's own.
pub fn attached(e: &mut Engine, req: &doca_engine::containers::CreateContainer, id: &str, keys: Vec<u8>, sig_proxy: bool) -> CmdResult {
    let id = id.to_string();
    let p = Pump { stdin: req.attach_stdin, tty: req.tty, detach_keys: keys, sig_proxy, engine: e.config().clone(), container: id.clone() };
    let signals = block_signals(&p);
    // Without a restart policy this process records the exit itself (and removes an --rm
    // container) as soon as it hears it; with one, the monitor's exit command decides.
    let cleanup = req.restart == doca_engine::containers::RestartPolicy::No;
    let streams = AttachStreams { stdin: req.attach_stdin, stdout: req.attach_stdout, stderr: req.attach_stderr, cleanup };
    let attach = e
        .start_container(&id, &StartContainer { attach: Some(streams), console_size: super::attach_io::terminal_size() })
        .map_err(run_failure)?;
    let code = match attach {
        Some(mut att) => match pump(p, signals, &mut att)? {
            Some(code) => {
                if cleanup {
                    att.cleanup(e, &id)?;
                }
                code
            }
            // Detached with the detach keys: the container goes on.
            None if req.tty => return Ok(()),
            None => e.wait_container(&id).unwrap_or(0),
        },
        None => e.wait_container(&id)?,
    };
    exit_with(code)
}

/// The container's exit code as doca's own.
pub fn exit_with(code: i32) -> CmdResult {
    if code == 0 {
        Ok(())
    } else {
        Err(Failure::new((code & 0xff) as u8, ""))
    }
}
