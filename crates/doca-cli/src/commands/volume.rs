//! `doca volume create|ls|inspect|rm|prune`

use crate::cli::VolumeCommand;
use crate::output::{print, row, Format};
use crate::units::human_size;
use crate::{CmdResult, Failure};
use doca_engine::volumes::{CreateVolume, VolumeFilter};
use doca_engine::Engine;
use serde_json::json;

pub fn run(e: &mut Engine, cmd: VolumeCommand) -> CmdResult {
    match cmd {
        VolumeCommand::Create(a) => {
            let name = match (a.name_flag, a.name) {
                (Some(x), Some(y)) if x != y => {
                    return Err(Failure::new(
                        1,
                        format!("conflicting options: either specify --name or provide positional arg, not both ({x}, {y})"),
                    ))
                }
                (x, y) => x.or(y),
            };
            let v = e.create_volume(&CreateVolume {
                name,
                driver: a.driver,
                labels: super::key_values(&a.label, "label", crate::exit::Verb::Other)?,
                options: super::key_values(&a.opt, "option", crate::exit::Verb::Other)?,
                anonymous: false,
            })?;
            print(&format!("{}\n", v.name))
        }
        VolumeCommand::Ls(a) => {
            let filters = a.filter.iter().map(|f| VolumeFilter::parse(f)).collect::<Result<Vec<_>, _>>()?;
            let vols = e.list_volumes(&filters)?;
            let rows: Vec<_> = vols
                .iter()
                .map(|v| {
                    let labels: Vec<String> = v.labels.iter().map(|(k, x)| format!("{k}={x}")).collect();
                    row(vec![
                        ("Driver", json!(v.driver)),
                        ("Labels", json!(labels.join(","))),
                        crate::output::label_method(&v.labels),
                        ("Mountpoint", json!(v.mountpoint)),
                        ("Name", json!(v.name)),
                        ("Scope", json!("local")),
                    ])
                })
                .collect();
            let format = match (&a.format, a.quiet) {
                (Some(f), _) => f.clone(),
                (None, true) => "{{.Name}}".into(),
                (None, false) => "table {{.Driver}}\t{{.Name}}".into(),
            };
            let headers = row(vec![
                ("Driver", json!("DRIVER")),
                ("Labels", json!("LABELS")),
                ("Mountpoint", json!("MOUNTPOINT")),
                ("Name", json!("VOLUME NAME")),
                ("Scope", json!("SCOPE")),
            ]);
            print(&Format::parse(&format)?.render(&headers, &rows)?)
        }
        VolumeCommand::Inspect(a) => {
            super::inspect::print_found(&a.names, a.format.as_deref(), |n| e.volume(n).map(|v| v.resource()).map_err(|err| err.to_string()))
        }
        VolumeCommand::Rm(a) => super::stop::for_each_container(&a.names, |n| e.remove_volume(n, a.force)),
        VolumeCommand::Prune(a) => {
            let filters = doca_engine::prune::PruneFilters::from_args(&a.filter)?;
            filters.refuse_until()?;
            let warning = if a.all {
                "WARNING! This will remove all local volumes not used by at least one container."
            } else {
                "WARNING! This will remove anonymous local volumes not used by at least one container."
            };
            if !a.force && !super::confirm(&format!("{warning}\nAre you sure you want to continue? [y/N] "))? {
                return Ok(());
            }
            let (names, bytes) = e.prune_volumes(a.all, &filters)?;
            let mut out = crate::output::deleted_section("Deleted Volumes", names);
            out.push_str(&format!("Total reclaimed space: {}\n", human_size(bytes)));
            print(&out)
        }
    }
}
