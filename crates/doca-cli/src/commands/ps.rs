//! `doca ps` / `doca container ls`: docker's columns, `--format` fields and filters.

use crate::cli::PsArgs;
use crate::output::{print, row, Format};
use crate::units::{human_duration, human_size};
use crate::CmdResult;
use doca_engine::containers::{Container, ContainerFilter, ListContainers, Status};
use doca_engine::Engine;
use serde_json::{json, Value};

fn unix(rfc3339: Option<&str>) -> i64 {
    rfc3339.and_then(doca_engine::parse_rfc3339).unwrap_or(0)
}

/// docker's State string: "Up 5 minutes (healthy)", "Exited (0) 2 hours ago", "Created", ...
pub fn status_text(c: &Container, health: Option<&str>, now: i64) -> String {
    let st = &c.state;
    match st.status {
        Status::Created => "Created".into(),
        Status::Running => {
            let up = format!("Up {}", human_duration(now - unix(st.started_at.as_deref())));
            match health {
                Some("starting") => format!("{up} (health: starting)"),
                Some(h) => format!("{up} ({h})"),
                None => up,
            }
        }
        Status::Paused => format!("Up {} (Paused)", human_duration(now - unix(st.started_at.as_deref()))),
        Status::Restarting => format!("Restarting ({}) {} ago", st.exit_code, human_duration(now - unix(st.finished_at.as_deref()))),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        Status::Exited => format!("Exited ({}) {} ago", st.exit_code, human_duration(now - unix(st.finished_at.as_deref()))),
    }
}

/// docker's ps command column: quoted, shortened to 20 characters with an ellipsis.
fn command_text(argv: &[String], no_trunc: bool) -> String {
    let cmd = argv.join(" ");
    if no_trunc || cmd.chars().count() <= 20 {
        return format!("\"{cmd}\"");
    }
    format!("\"{}…\"", cmd.chars().take(19).collect::<String>())
}

pub fn run(e: &mut Engine, a: PsArgs) -> CmdResult {
    let filters = a.filter.iter().map(|f| ContainerFilter::parse(f)).collect::<Result<Vec<_>, _>>()?;
    let last = if a.latest { Some(1) } else { a.last.filter(|n| *n >= 0).map(|n| n as usize) };
    let list = e.list_containers(&ListContainers { all: a.all, last, filters })?;
    let now = super::now();
    let mut rows = Vec::new();
    // One read of each image's config, however many containers share it.
    let mut images: std::collections::HashMap<doca_engine::Digest, doca_engine::ContainerConfig> = Default::default();
    // What each name the containers were made from names now, once per name: a container
    // whose name no longer leads to its image shows the image's id (docker's list.go).
    let mut names: std::collections::HashMap<String, Option<doca_engine::Digest>> = Default::default();
    for c in &list {
        let now_names = names.entry(c.config.image.clone()).or_insert_with(|| e.resolve_image(&c.config.image).ok().map(|r| r.image.id));
        let image = if now_names.as_ref() == Some(&c.image_id) {
            c.config.image.clone()
        } else if a.no_trunc {
            c.image_id.to_string()
        } else {
            c.image_id.short().to_string()
        };
        if !images.contains_key(&c.image_id) {
            let cfg = e.image_run_config(&c.image_id)?;
            images.insert(c.image_id.clone(), cfg);
        }
        let argv = doca_engine::containers::command(&images[&c.image_id], &c.config).unwrap_or_default();
        let size = if a.size {
            format!("{} (virtual {})", human_size(e.container_size(&c.id)), human_size(image_size(e, c)))
        } else {
            String::new()
        };
        let labels: Vec<String> = c.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let created = unix(Some(&c.created));
        // As docker: only a running container shows its ports.
        let ports = if c.state.status.is_live() { doca_engine::networks::ports_column(&e.container_ports(c)?) } else { String::new() };
        rows.push(row(vec![
            ("Command", json!(command_text(&argv, a.no_trunc))),
            ("CreatedAt", json!(created_at(&c.created))),
            ("ID", json!(if a.no_trunc { c.id.as_str() } else { c.id.short() })),
            ("Image", json!(image)),
            ("Labels", json!(labels.join(","))),
            crate::output::label_method(&c.config.labels),
            ("LocalVolumes", json!("0")),
            ("Mounts", json!("")),
            ("Names", json!(c.name)),
            ("Networks", json!(c.config.network.name())),
            ("Ports", json!(ports)),
            ("RunningFor", json!(format!("{} ago", human_duration(now - created)))),
            ("Size", json!(size)),
            ("State", json!(c.state.status.as_str())),
            (
                "Status",
                json!(status_text(
                    c,
                    if c.state.status == Status::Running { e.container_health(c).map(|h| h.status) } else { None }.as_deref(),
                    now
                )),
            ),
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

fn image_size(e: &mut Engine, c: &Container) -> u64 {
    e.inspect_image(c.image_id.as_str()).map(|i| i.size.max(0) as u64).unwrap_or(0)
}

/// Go's time.Time.String() of the creation time, as docker's CreatedAt field.
fn created_at(rfc3339: &str) -> String {
    crate::units::go_time(unix(Some(rfc3339)))
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
        let argv: Vec<String> = ["sh", "-c", "while true; do sleep 1; done"].iter().map(|s| s.to_string()).collect();
        assert_eq!(super::command_text(&argv, false), "\"sh -c while true; d…\"");
        assert_eq!(super::command_text(&argv[..1], false), "\"sh\"");
        assert_eq!(super::command_text(&argv, true), "\"sh -c while true; do sleep 1; done\"");
    }
}
