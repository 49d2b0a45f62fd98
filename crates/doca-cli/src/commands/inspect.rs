//! `doca inspect` / `doca image inspect`: a JSON array of what was found (docker prints the
//! found objects even when some names fail), or each rendered through `--format`.

use crate::cli::InspectArgs;
use crate::output::{pretty_json, print, Format};
use crate::{CmdResult, Failure};
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: InspectArgs) -> CmdResult {
    let kind = a.kind.as_deref().unwrap_or("");
    if !matches!(kind, "" | "image" | "container") {
        return Err(Failure::failed(format!("\"{kind}\" is not a valid value for --type")));
    }
    print_found(&a.names, a.format.as_deref(), |n| {
        // Without --type docker looks for a container first, then an image.
        let container = if kind == "image" { None } else { e.inspect_container(n).ok() };
        let result = match container {
            Some(c) => Ok(json(&c)),
            None if kind == "container" => e.inspect_container(n).map(|c| json(&c)),
            None => e.inspect_image(n).map(|i| json(&i)),
        };
        result.map_err(|err| match err {
            doca_engine::EngineError::NoSuchImage(_) if kind.is_empty() => format!("No such object: {n}"),
            err => err.to_string(),
        })
    })
}

/// One of docker's shapes as the JSON that `--format` templates walk.
pub(crate) fn json(v: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(v).expect("docker's shapes serialize")
}

/// Every `inspect` (containers, images, volumes, networks): the objects found as one JSON
/// array or each through `--format`, then the names that failed, exit 1, as docker does.
pub(crate) fn print_found<T: serde::Serialize>(
    names: &[String],
    format: Option<&str>,
    mut find: impl FnMut(&str) -> Result<T, String>,
) -> CmdResult {
    let mut found = Vec::new();
    let mut errors = Vec::new();
    for n in names {
        match find(n) {
            Ok(v) => found.push(json(&v)),
            Err(err) => errors.push(err),
        }
    }
    match format {
        Some(f) => print(&Format::parse(f)?.render(&serde_json::Value::Null, &found)?)?,
        None => print(&format!("{}\n", pretty_json(&found)))?,
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Failure::failed(errors.join("\nError: ")))
    }
}
