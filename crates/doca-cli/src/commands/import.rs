//! `doca import FILE|- [REPOSITORY[:TAG]]`

use crate::cli::ImportArgs;
use crate::{CmdResult, Failure};
use doca_engine::images::ImportImage;
use doca_engine::Engine;
use std::io::Read;

pub fn run(e: &mut Engine, a: ImportArgs) -> CmdResult {
    if let Some(p) = &a.platform {
        let want = format!("linux/{}", doca_engine::host_arch());
        if p != &want && p != "linux" {
            return Err(Failure::not_run(format!("platform {p} is not supported on this host ({want})")));
        }
    }
    if a.file.contains("://") {
        return Err(Failure::not_run(format!("importing from a URL is not supported: download {} first and import the file", a.file)));
    }
    let input: Box<dyn Read> = if a.file == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(&a.file).map_err(|err| Failure::not_run(format!("open {}: {err}", a.file)))?)
    };
    let img =
        e.import_image(ImportImage { source: a.file.clone(), input, changes: a.change, message: a.message, reference: a.reference })?;
    crate::output::print(&format!("{}\n", img.id))
}
