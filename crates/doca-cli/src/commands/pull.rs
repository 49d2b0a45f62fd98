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
    if a.all_tags {
        return Err(Failure::new(1, "--all-tags is not supported yet: pull each tag"));
    }
    let parsed = doca_image::Reference::parse(&a.name).map_err(|err| Failure::new(1, format!("invalid reference format: {err}")))?;
    let quiet = a.quiet;
    let mut head = String::new();
    if !quiet && parsed.tag().is_none() && parsed.digest().is_none() {
        head.push_str("Using default tag: latest\n");
    }
    if !quiet {
        let what = parsed.digest().map(|d| d.to_string()).unwrap_or_else(|| parsed.tag().unwrap_or("latest").to_string());
        head.push_str(&format!("{what}: Pulling from {}\n", parsed.path()));
        print(&head)?;
    }
    let progress = |p: PullProgress| {
        if quiet {
            return;
        }
        let line = match p {
            PullProgress::Exists(d) => format!("{}: Already exists\n", short(d)),
            PullProgress::Downloaded(d) => format!("{}: Pull complete\n", short(d)),
            _ => return,
        };
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    };
    let r = e.pull_image(&PullImage { reference: a.name.clone(), platform: a.platform.clone() }, &progress)?;
    if quiet {
        return print(&format!("{}\n", r.reference));
    }
    let status = if r.up_to_date { "Image is up to date for" } else { "Downloaded newer image for" };
    print(&format!("Digest: {}\nStatus: {status} {}\n{}\n", r.manifest_digest, r.reference.familiar(), r.reference))
}
