//! `doca compose config`: the project in its canonical form, as `docker compose config`
//! prints it (doca_compose::canonical), or one list of its names.

use crate::cli::ComposeConfigArgs;
use crate::output::print;
use crate::{CmdResult, Failure};
use doca_compose::canonical::{canonical, render, ConfigRequest};
use doca_compose::up::Compose;

fn lines<I: IntoIterator<Item = String>>(items: I) -> CmdResult {
    let mut v: Vec<String> = items.into_iter().collect();
    v.sort();
    v.dedup();
    print(&v.iter().map(|n| format!("{n}\n")).collect::<String>())
}

pub fn run(c: &Compose, a: ComposeConfigArgs) -> CmdResult {
    // `config SERVICE...`: those and what they depend on, as compose-go's WithSelectedServices.
    let services: Vec<String> = if a.services_named.is_empty() {
        c.model.services.iter().map(|(n, _)| n.clone()).collect()
    } else {
        c.order(&a.services_named, true).map_err(|e| Failure::failed(e.to_string()))?
    };
    let tree = c.project.model.to_json();
    // Validated whole even when only names are asked for (compose's rule: `-q` checks).
    let model = canonical(&tree, &ConfigRequest { name: &c.project.name, dir: &c.dir, env: &c.env, services: &services })
        .map_err(|e| Failure::failed(e.to_string()))?;
    let keys = |section: &str| -> Vec<String> {
        model.get(section).and_then(|s| s.as_object()).map(|m| m.keys().cloned().collect()).unwrap_or_default()
    };
    if a.quiet {
        return Ok(());
    }
    if a.services {
        return lines(services);
    }
    if a.volumes {
        return lines(keys("volumes"));
    }
    if a.networks {
        return lines(keys("networks"));
    }
    if a.profiles {
        // Every profile the project defines, enabled or not.
        let all = tree.get("services").and_then(|s| s.as_object()).into_iter().flatten().flat_map(|(_, s)| {
            s.get("profiles").and_then(|p| p.as_array()).into_iter().flatten().filter_map(|p| p.as_str().map(String::from))
        });
        return lines(all.collect::<Vec<_>>());
    }
    if a.images {
        return lines(c.model.services.iter().map(|(n, s)| c.ctx().image(n, s)));
    }
    let text = render(&model, &a.format).map_err(Failure::failed)?;
    match &a.output {
        Some(path) => std::fs::write(path, text).map_err(|e| Failure::failed(format!("{}: {e}", path.display()))),
        None => print(&text),
    }
}
