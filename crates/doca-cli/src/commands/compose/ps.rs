//! `doca compose ps`: the project's containers, docker compose v2's columns.

use crate::cli::ComposePsArgs;
use crate::output::{print, row, Format};
use crate::CmdResult;
use doca_compose::service::{PROJECT, SERVICE};
use doca_compose::up::Compose;
use doca_engine::containers::{ContainerFilter, ListContainers, SummaryOptions};
use doca_engine::Engine;
use serde_json::json;

pub fn run(e: &mut Engine, c: &Compose, a: ComposePsArgs) -> CmdResult {
    let filters = vec![ContainerFilter::parse(&format!("label={PROJECT}={}", c.project.name))?];
    for svc in &a.service_names {
        if c.model.service(svc).is_none() {
            return Err(crate::Failure::failed(format!("no such service: {svc}")));
        }
    }
    // `--status` asks for stopped states too, as docker compose's does.
    let all = a.all || !a.status.is_empty();
    let mut list = e.container_summaries(&ListContainers { all, last: None, filters }, SummaryOptions::default())?;
    list.retain(|s| a.service_names.is_empty() || s.labels.get(SERVICE).is_some_and(|n| a.service_names.contains(n)));
    list.retain(|s| a.status.is_empty() || a.status.contains(&s.state));
    list.sort_by(|x, y| x.names.cmp(&y.names));
    if a.services {
        let mut names: Vec<String> = list.iter().filter_map(|s| s.labels.get(SERVICE).cloned()).collect();
        names.dedup();
        return print(&names.iter().map(|n| format!("{n}\n")).collect::<String>());
    }
    if a.quiet {
        return print(&list.iter().map(|s| format!("{}\n", s.id)).collect::<String>());
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let rows: Vec<_> = list
        .iter()
        .map(|s| {
            let ports: Vec<String> = s
                .ports
                .iter()
                .map(|p| match (&p.ip, p.public_port) {
                    (Some(ip), Some(public)) => format!("{ip}:{public}->{}/{}", p.private_port, p.kind),
                    _ => format!("{}/{}", p.private_port, p.kind),
                })
                .collect();
            row(vec![
                ("Name", json!(s.names.first().map(|n| n.trim_start_matches('/')).unwrap_or(""))),
                ("Image", json!(s.image)),
                ("Command", json!(format!("\"{}\"", s.command))),
                ("Service", json!(s.labels.get(SERVICE).cloned().unwrap_or_default())),
                ("CreatedAt", json!(crate::units::go_time(s.created))),
                ("RunningFor", json!(format!("{} ago", doca_engine::docker::human_duration(now - s.created)))),
                ("Status", json!(s.status)),
                ("State", json!(s.state)),
                ("Ports", json!(ports.join(", "))),
                ("ID", json!(s.id)),
            ])
        })
        .collect();
    let format = match a.format.as_str() {
        "table" => "table {{.Name}}\t{{.Image}}\t{{.Command}}\t{{.Service}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}".to_string(),
        "json" => "{{json .}}".to_string(),
        // A Go template, as docker compose takes one.
        f => f.to_string(),
    };
    let headers = row(vec![
        ("Name", json!("NAME")),
        ("Image", json!("IMAGE")),
        ("Command", json!("COMMAND")),
        ("Service", json!("SERVICE")),
        ("CreatedAt", json!("CREATED AT")),
        ("RunningFor", json!("CREATED")),
        ("Status", json!("STATUS")),
        ("State", json!("STATE")),
        ("Ports", json!("PORTS")),
        ("ID", json!("ID")),
    ]);
    print(&Format::parse(&format)?.render(&headers, &rows)?)
}
