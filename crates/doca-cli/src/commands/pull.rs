//! `doca pull`: docker's lines (`latest: Pulling from library/busybox`, a line per layer,
//! `Digest:`, `Status:`, the full reference), or only the reference with `-q`.

use crate::cli::PullArgs;
use crate::output::print;
use crate::{CmdResult, Failure};
use doca_engine::images::{PullImage, PullProgress};
use doca_engine::Engine;
use std::io::Write;

fn short(d: &doca_store::Digest) -> &str {
    &d.hex()[..12]
}

pub fn run(e: &mut Engine, a: PullArgs) -> CmdResult {
    let names = if a.all_tags {
        let parsed = doca_image::Reference::parse(&a.name).map_err(|err| Failure::new(1, format!("invalid reference format: {err}")))?;
        if parsed.tag().is_some() || parsed.digest().is_some() {
            return Err(Failure::new(1, "tag can't be used with --all-tags/-a"));
        }
        let repo = parsed.familiar_name();
        e.remote_tags(&a.name)?.into_iter().map(|t| format!("{repo}:{t}")).collect()
    } else {
        vec![a.name.clone()]
    };
    for name in names {
        let r = pull(e, &name, a.platform.as_deref(), a.quiet, &mut std::io::stdout())?;
        if a.quiet {
            print(&format!("{}\n", r.reference))?;
        }
    }
    Ok(())
}

/// Pulls `name` with docker's lines on `out` (nothing with `quiet`): `pull` prints them on
/// stdout, `run`/`create` on stderr.
pub fn pull(
    e: &mut Engine,
    name: &str,
    platform: Option<&str>,
    quiet: bool,
    out: &mut (dyn Write + Send),
) -> Result<doca_engine::images::PullResult, Failure> {
    let parsed = doca_image::Reference::parse(name).map_err(|err| Failure::new(1, format!("invalid reference format: {err}")))?;
    if !quiet {
        let mut head = String::new();
        if parsed.tag().is_none() && parsed.digest().is_none() {
            head.push_str("Using default tag: latest\n");
        }
        let what = parsed.digest().map(|d| d.to_string()).unwrap_or_else(|| parsed.tag().unwrap_or("latest").to_string());
        head.push_str(&format!("{what}: Pulling from {}\n", parsed.path()));
        out.write_all(head.as_bytes())?;
        out.flush()?;
    }
    let out = std::sync::Mutex::new(out);
    let progress = |p: PullProgress| {
        if quiet {
            return;
        }
        let line = match p {
            PullProgress::Exists(d) => format!("{}: Already exists\n", short(d)),
            PullProgress::Downloaded(d) => format!("{}: Pull complete\n", short(d)),
            _ => return,
        };
        let mut out = out.lock().expect("out");
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    };
    let r = e.pull_image(&PullImage { reference: name.to_string(), platform: platform.map(String::from) }, &progress)?;
    if !quiet {
        let status = if r.up_to_date { "Image is up to date for" } else { "Downloaded newer image for" };
        let out = out.into_inner().expect("out");
        out.write_all(format!("Digest: {}\nStatus: {status} {}\n{}\n", r.manifest_digest, r.reference.familiar(), r.reference).as_bytes())?;
    }
    Ok(r)
}
