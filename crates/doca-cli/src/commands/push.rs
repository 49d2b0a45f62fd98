//! `doca push`: docker's lines (`The push refers to repository [...]`, a line per blob,
//! `TAG: digest: sha256:... size: N`), or only the reference with `-q`; `-a` pushes every tag
//! of the repository.

use crate::cli::PushArgs;
use crate::output::print;
use crate::{CmdResult, Failure};
use doca_engine::images::{ListImages, PushImage, PushProgress};
use doca_engine::Engine;
use std::io::Write;

pub fn run(e: &mut Engine, a: PushArgs) -> CmdResult {
    let parsed = doca_engine::Reference::parse(&a.name).map_err(|err| Failure::failed(format!("invalid reference format: {err}")))?;
    let names: Vec<String> = if a.all_tags {
        if parsed.tag().is_some() {
            return Err(Failure::failed("tag can't be used with --all-tags/-a"));
        }
        let repo = parsed.familiar_name();
        let mut tags: Vec<String> = e
            .list_images(&ListImages::default())?
            .into_iter()
            .flat_map(|i| i.repo_tags)
            .filter(|t| t.rsplit_once(':').is_some_and(|(r, _)| r == repo))
            .collect();
        tags.sort();
        if tags.is_empty() {
            return Err(Failure::failed(format!("An image does not exist locally with the tag: {repo}")));
        }
        tags
    } else {
        vec![a.name.clone()]
    };
    if !a.quiet {
        print(&format!("The push refers to repository [{}]\n", parsed.familiar_name()))?;
    }
    let quiet = a.quiet;
    let progress = |p: PushProgress| {
        if quiet {
            return;
        }
        let (d, what) = match p {
            PushProgress::Preparing(d) => (d, "Preparing"),
            PushProgress::Exists(d) => (d, "Layer already exists"),
            PushProgress::Mounted(d) => (d, "Mounted from another repository"),
            PushProgress::Pushed(d) => (d, "Pushed"),
        };
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}: {what}", &d.hex()[..12]);
        let _ = out.flush();
    };
    for name in names {
        let r = e.push_image(&PushImage { name: name.clone(), auth: None }, &progress)?;
        if quiet {
            print(&format!("{}\n", r.reference.familiar()))?;
        } else {
            print(&format!("{}: digest: {} size: {}\n", r.reference.tag().unwrap_or("latest"), r.digest, r.size))?;
        }
    }
    Ok(())
}
