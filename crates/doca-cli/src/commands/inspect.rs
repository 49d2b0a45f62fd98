//! `doca inspect` / `doca image inspect`: a JSON array of what was found (docker prints the
//! found objects even when some names fail), or each rendered through `--format`.

use crate::cli::InspectArgs;
use crate::output::{pretty_json, print, Format};
use crate::{CmdResult, Failure};
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: InspectArgs) -> CmdResult {
    let kind = a.kind.as_deref().unwrap_or("");
    if !matches!(kind, "" | "image" | "container") {
        return Err(Failure::new(1, format!("\"{kind}\" is not a valid value for --type")));
    }
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in &a.names {
        // Without --type docker looks for a container first, then an image.
        let container = if kind == "image" { None } else { e.inspect_container(n).ok() };
        let result = match container {
            Some(c) => Ok(c),
            None if kind == "container" => e.inspect_container(n),
            None => e.inspect_image(n).map(|i| serde_json::to_value(i).expect("json")),
        };
        match result {
            Ok(v) => found.push(v),
            Err(doca_engine::EngineError::NoSuchImage(_)) if kind.is_empty() => errors.push(format!("No such object: {n}")),
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
