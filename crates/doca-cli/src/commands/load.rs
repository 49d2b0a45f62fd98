//! `doca load [-i FILE] [-q]`

use crate::cli::LoadArgs;
use crate::{CmdResult, Failure};
use doca_engine::images::LoadImages;
use doca_engine::Engine;
use std::io::{IsTerminal, Read};

pub fn run(e: &mut Engine, a: LoadArgs) -> CmdResult {
    let (archive, input): (String, Box<dyn Read>) = match &a.input {
        Some(p) => {
            let f = std::fs::File::open(p).map_err(|err| Failure::failed(format!("open {}: {err}", p.display())))?;
            (p.display().to_string(), Box::new(f))
        }
        None => {
            if std::io::stdin().is_terminal() {
                return Err(Failure::failed("requested load from stdin, but stdin is empty"));
            }
            ("stdin".into(), Box::new(std::io::stdin().lock()))
        }
    };
    let loaded = e.load_images(LoadImages { archive, input })?;
    if a.quiet {
        return Ok(());
    }
    let mut out = String::new();
    for img in loaded {
        for (tag, old) in &img.moved {
            out.push_str(&format!("The image {} already exists, renaming the old one with ID {old} to empty string\n", tag.familiar()));
        }
        if img.tags.is_empty() {
            out.push_str(&format!("Loaded image ID: {}\n", img.id));
        }
        for t in &img.tags {
            out.push_str(&format!("Loaded image: {}\n", t.familiar()));
        }
    }
    crate::output::print(&out)
}
