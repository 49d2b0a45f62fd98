//! `doca inspect` / `doca image inspect`: a JSON array of what was found (docker prints the
//! found objects even when some names fail), or each rendered through `--format`.

use crate::cli::InspectArgs;
use crate::output::{pretty_json, print, Format};
use crate::{CmdResult, Failure};
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: InspectArgs) -> CmdResult {
    if let Some(k) = &a.kind {
        if k != "image" {
            return Err(Failure::new(1, format!("\"{k}\" is not a valid value for --type")));
        }
    }
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in &a.names {
        match e.inspect_image(n) {
            Ok(i) => found.push(serde_json::to_value(i).expect("json")),
            Err(err) => errors.push(err.to_string()),
        }
    }
    match &a.format {
        Some(f) => {
            let fmt = Format::parse(f)?;
            print(&fmt.render(&serde_json::Value::Null, &found)?)?;
        }
        None => print(&format!("{}\n", pretty_json(&found)))?,
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::new(1, errors.join("\nError: ")))
    }
}
