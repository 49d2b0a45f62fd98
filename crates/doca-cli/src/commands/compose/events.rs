//! `doca compose events`: the engine's container events for the project's containers (those
//! labelled with its name), as docker compose prints them: a line per event with compose's
//! labels left out of the attributes, or `--json` objects.

use crate::cli::ComposeEventsArgs;
use crate::CmdResult;
use doca_compose::service::{PROJECT, SERVICE};
use doca_compose::up::Compose;
use doca_engine::events::{EventFilter, ListEvents};
use doca_engine::Engine;
use std::collections::BTreeMap;
use std::io::Write;

pub fn run(e: &mut Engine, c: &Compose, a: ComposeEventsArgs) -> CmdResult {
    let req = ListEvents {
        since: None,
        until: None,
        filters: vec![EventFilter::parse("type=container")?, EventFilter::parse(&format!("label={PROJECT}={}", c.project.name))?],
    };
    let mut out = std::io::stdout();
    e.events(&req, |ev| {
        let service = ev.actor.attributes.get(SERVICE).cloned().unwrap_or_default();
        if !a.services.is_empty() && !a.services.contains(&service) {
            return Ok(());
        }
        let attributes: BTreeMap<&String, &String> =
            ev.actor.attributes.iter().filter(|(k, _)| !k.starts_with("com.docker.compose.")).collect();
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(ev.time_nano).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let line = if a.json {
            let time = t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
            let v = serde_json::json!({
                "action": ev.action, "attributes": attributes, "id": ev.actor.id, "service": service, "time": time, "type": "container",
            });
            format!("{v}\n")
        } else {
            let attrs: Vec<String> = attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let f = time::format_description::parse_borrowed::<2>("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]")
                .expect("format");
            format!("{} container {} {} ({})\n", t.format(&f).unwrap_or_default(), ev.action, ev.actor.id, attrs.join(", "))
        };
        out.write_all(line.as_bytes()).and_then(|_| out.flush())
    })?;
    Ok(())
}
