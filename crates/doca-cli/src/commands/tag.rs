//! `doca tag SOURCE TARGET`

use crate::cli::TagArgs;
use crate::CmdResult;
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: TagArgs) -> CmdResult {
    e.tag_image(&a.source, &a.target)?;
    Ok(())
}
