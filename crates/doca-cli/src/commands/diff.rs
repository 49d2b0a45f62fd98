//! `doca diff`, `doca export`, `doca commit` and `doca cp`: a container's filesystem and its
//! changes.

use crate::cli::{CommitArgs, ContainerArg, CpArgs, ExportArgs};
use crate::output::print;
use crate::{CmdResult, Failure};
use doca_engine::Engine;

pub fn diff(e: &mut Engine, a: ContainerArg) -> CmdResult {
    let changes = e.container_changes(&a.container)?;
    print(&changes.iter().map(|(k, p)| format!("{} {}\n", k.letter(), p.display())).collect::<String>())
}

pub fn commit(e: &mut Engine, a: CommitArgs) -> CmdResult {
    let id = e.commit_container(&doca_engine::containers::CommitContainer {
        container: a.container,
        reference: a.reference,
        author: a.author,
        message: a.message,
        changes: a.change,
        pause: a.pause,
    })?;
    print(&format!("{id}\n"))
}

/// `CONTAINER:PATH`, as docker splits it: a colon before any '/' (a local path with a colon
/// starts with `./` or `/`).
fn split_container(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    arg.split_once(':')
}

pub fn cp(e: &mut Engine, a: CpArgs) -> CmdResult {
    use doca_engine::containers::CopyRequest;
    let opts = doca_engine::containers::CopyOptions { keep_owner: a.archive, follow_link: a.follow_link };
    // `-`: a tar stream, out to stdout or in from stdin, as docker's.
    if a.dest == "-" {
        let Some((c, src)) = split_container(&a.src) else { return Err(Failure::failed("must specify at least one container source")) };
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        e.copy_out_archive(c, src, opts, &mut out)?;
        return std::io::Write::flush(&mut out).map_err(|err| Failure::failed(format!("write the archive: {err}")));
    }
    if a.src == "-" {
        let Some((c, dest)) = split_container(&a.dest) else { return Err(Failure::failed("must specify at least one container source")) };
        return Ok(e.copy_in_archive(c, dest, opts, &mut std::io::stdin().lock())?);
    }
    let (container, req) = match (split_container(&a.src), split_container(&a.dest)) {
        (Some((c, src)), None) => (c, CopyRequest::FromContainer { src: src.to_string(), dest: a.dest.clone().into() }),
        (None, Some((c, dest))) => (c, CopyRequest::ToContainer { src: a.src.clone().into(), dest: dest.to_string() }),
        (Some(_), Some(_)) => return Err(Failure::failed("copying between containers is not supported")),
        (None, None) => return Err(Failure::failed("must specify at least one container source")),
    };
    Ok(e.copy_files(container, &req, opts)?)
}

pub fn export(e: &mut Engine, a: ExportArgs) -> CmdResult {
    match &a.output {
        Some(path) => {
            // Written beside the target and renamed: an interrupted export leaves no half archive.
            let tmp = path.with_file_name(format!(".{}.tmp", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(&tmp)
                    .and_then(|f| crate::user_file_mode(&f).map(|_| f))
                    .map_err(|err| Failure::failed(format!("open {}: {err}", tmp.display())))?,
            );
            let r = e.export_container(&a.container, &mut f).and_then(|_| {
                use std::io::Write;
                f.flush().map_err(|err| doca_engine::EngineError::Internal(format!("write {}: {err}", path.display())))
            });
            if let Err(err) = r {
                let _ = std::fs::remove_file(&tmp);
                return Err(err.into());
            }
            std::fs::rename(&tmp, path)?;
            Ok(())
        }
        None => {
            // SAFETY: isatty on a descriptor number only reads its state.
            if unsafe { libc::isatty(1) } == 1 {
                return Err(Failure::failed("cowardly refusing to save to a terminal. Use the -o flag or redirect"));
            }
            let mut out = PipeAware { out: std::io::stdout().lock(), closed: false };
            let r = e.export_container(&a.container, &mut std::io::BufWriter::new(&mut out));
            match r {
                // `doca export C | tar -t | head`: the reader left; not an error worth a word.
                Err(_) if out.closed => Err(Failure::new(crate::exit::SUCCESS, "")),
                r => Ok(r?),
            }
        }
    }
}

/// Stdout that remembers whether the reader went away (EPIPE).
struct PipeAware<W> {
    out: W,
    closed: bool,
}

impl<W: std::io::Write> std::io::Write for PipeAware<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.out.write(b).inspect_err(|e| self.closed |= e.kind() == std::io::ErrorKind::BrokenPipe)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush().inspect_err(|e| self.closed |= e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}
