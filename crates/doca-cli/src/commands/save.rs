//! `doca save [-o FILE] IMAGE...`: to a file (written beside it, then renamed, so a failed save
//! never leaves a partial archive under the name) or to a redirected stdout.

use crate::cli::SaveArgs;
use crate::{CmdResult, Failure};
use doca_engine::images::SaveImages;
use doca_engine::Engine;
use std::io::{BufWriter, IsTerminal};

pub fn run(e: &mut Engine, a: SaveArgs) -> CmdResult {
    match &a.output {
        None => {
            if std::io::stdout().is_terminal() {
                return Err(Failure::failed("cowardly refusing to save to a terminal. Use the -o flag or redirect"));
            }
            let out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            e.save_images(SaveImages { names: a.images, output: Box::new(out), archive: "stdout".into() })?;
            Ok(())
        }
        Some(path) => {
            let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
            let name = path.file_name().ok_or_else(|| Failure::failed(format!("invalid output path {}", path.display())))?;
            let tmp = dir.join(format!(".{}.doca-save-{}", name.to_string_lossy(), std::process::id()));
            let file = std::fs::File::create(&tmp)
                .and_then(|f| crate::user_file_mode(&f).map(|_| f))
                .map_err(|err| Failure::failed(format!("failed to save image: open {}: {err}", path.display())))?;
            let r = e.save_images(SaveImages {
                names: a.images,
                output: Box::new(BufWriter::with_capacity(1 << 20, &file)),
                archive: path.display().to_string(),
            });
            let r = r
                .map_err(Failure::from)
                .and_then(|_| file.sync_all().map_err(Failure::from))
                .and_then(|_| std::fs::rename(&tmp, path).map_err(Failure::from));
            if r.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            r
        }
    }
}
