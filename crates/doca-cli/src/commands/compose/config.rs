//! `doca compose config`: the project's model, merged and interpolated.

use crate::cli::ComposeConfigArgs;
use crate::output::print;
use crate::{CmdResult, Failure};
use doca_compose::up::Compose;

pub fn run(c: &Compose, a: ComposeConfigArgs) -> CmdResult {
    if a.quiet {
        return Ok(());
    }
    if a.services {
        return print(&c.model.services.iter().map(|(n, _)| format!("{n}\n")).collect::<String>());
    }
    if a.volumes {
        return print(&c.model.volumes.keys().map(|n| format!("{n}\n")).collect::<String>());
    }
    if a.images {
        let ctx_images: String = c
            .model
            .services
            .iter()
            .map(|(n, s)| format!("{}\n", s.image.clone().unwrap_or_else(|| format!("{}-{n}", c.project.name))))
            .collect();
        return print(&ctx_images);
    }
    let mut tree = c.project.model.to_json();
    if let Some(o) = tree.as_object_mut() {
        o.insert("name".into(), serde_json::json!(c.project.name));
    }
    match a.format.as_str() {
        "json" => print(&format!("{}\n", serde_json::to_string_pretty(&tree).expect("json"))),
        "yaml" => print(&doca_compose::yaml(&tree).map_err(Failure::failed)?),
        f => Err(Failure::failed(format!("unsupported format {f:?}: yaml or json"))),
    }
}
