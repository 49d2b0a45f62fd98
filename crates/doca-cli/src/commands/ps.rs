//! `doca ps` / `doca container ls`: docker's columns, `--format` fields and filters.

use crate::cli::PsArgs;
use crate::output::{print, row, Format};
use crate::units::human_size;
use crate::CmdResult;
use doca_engine::containers::{ContainerFilter, ListContainers, SummaryOptions};
use doca_engine::docker::human_duration;
use doca_engine::Engine;
use serde_json::{json, Value};

/// docker's ps command column: quoted, shortened to 20 characters with an ellipsis.
fn command_text(cmd: &str, no_trunc: bool) -> String {
    if no_trunc || cmd.chars().count() <= 20 {
        return format!("\"{cmd}\"");
    }
    format!("\"{}…\"", cmd.chars().take(19).collect::<String>())
}

/// `ps`'s PORTS: `0.0.0.0:8080->80/tcp, :::8080->80/tcp, 53/udp`.
fn ports_text(ports: &[doca_engine::docker::SummaryPort]) -> String {
    ports
        .iter()
        .map(|p| match (&p.ip, p.public_port) {
            (Some(ip), Some(public)) => format!("{ip}:{public}->{}/{}", p.private_port, p.kind),
            _ => format!("{}/{}", p.private_port, p.kind),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn run(e: &mut Engine, a: PsArgs) -> CmdResult {
    let filters = a.filter.iter().map(|f| ContainerFilter::parse(f)).collect::<Result<Vec<_>, _>>()?;
    let last = if a.latest { Some(1) } else { a.last.filter(|n| *n >= 0).map(|n| n as usize) };
    let list = e.container_summaries(&ListContainers { all: a.all, last, filters }, SummaryOptions { size: a.size })?;
    let now = super::now();
    let mut rows = Vec::new();
    for c in &list {
        let image = match c.image.strip_prefix("sha256:") {
            Some(_) if a.no_trunc => c.image.clone(),
            Some(hex) => hex.chars().take(12).collect(),
            None => c.image.clone(),
        };
        let size = match (c.size_rw, c.size_root_fs) {
            (Some(rw), Some(root)) => {
                format!("{} (virtual {})", human_size(rw.max(0) as u64), human_size((root - rw).max(0) as u64))
            }
            _ => String::new(),
        };
        let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        rows.push(row(vec![
            ("Command", json!(command_text(&c.command, a.no_trunc))),
            ("CreatedAt", json!(crate::units::go_time(c.created))),
            ("ID", json!(super::short_id(&c.id, a.no_trunc))),
            ("Image", json!(image)),
            ("Labels", json!(labels.join(","))),
            crate::output::label_method(&c.labels),
            ("LocalVolumes", json!("0")),
            ("Mounts", json!("")),
            ("Names", json!(c.names.iter().map(|n| n.trim_start_matches('/')).collect::<Vec<_>>().join(","))),
            ("Networks", json!(c.host_config.network_mode)),
            ("Ports", json!(ports_text(&c.ports))),
            ("RunningFor", json!(format!("{} ago", human_duration(now - c.created)))),
            ("Size", json!(size)),
            ("State", json!(c.state)),
            ("Status", json!(c.status)),
        ]));
    }
    let format = match (&a.format, a.quiet) {
        (Some(f), _) => f.clone(),
        (None, true) => "{{.ID}}".into(),
        (None, false) if a.size => {
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}".into()
        }
        (None, false) => "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}".into(),
    };
    print(&Format::parse(&format)?.render(&headers(), &rows)?)
}

fn headers() -> Value {
    row(vec![
        ("Command", json!("COMMAND")),
        ("CreatedAt", json!("CREATED AT")),
        ("ID", json!("CONTAINER ID")),
        ("Image", json!("IMAGE")),
        ("Labels", json!("LABELS")),
        ("LocalVolumes", json!("LOCAL VOLUMES")),
        ("Mounts", json!("MOUNTS")),
        ("Names", json!("NAMES")),
        ("Networks", json!("NETWORKS")),
        ("Ports", json!("PORTS")),
        ("RunningFor", json!("CREATED")),
        ("Size", json!("SIZE")),
        ("State", json!("STATE")),
        ("Status", json!("STATUS")),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn commands_shorten_as_docker_does() {
        let cmd = "sh -c while true; do sleep 1; done";
        assert_eq!(super::command_text(cmd, false), "\"sh -c while true; d…\"");
        assert_eq!(super::command_text("sh", false), "\"sh\"");
        assert_eq!(super::command_text(cmd, true), "\"sh -c while true; do sleep 1; done\"");
    }
}
