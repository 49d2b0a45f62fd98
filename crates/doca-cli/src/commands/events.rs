//! `doca events`: docker's lines, or `--format` over docker's message shape.

use crate::cli::EventsArgs;
use crate::output::Format;
use crate::{CmdResult, Failure};
use doca_engine::containers::parse_time;
use doca_engine::events::{EventFilter, ListEvents};
use doca_engine::Engine;
use std::io::Write;

pub fn run(e: &mut Engine, a: EventsArgs) -> CmdResult {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let req = ListEvents {
        since: a.since.as_deref().map(|s| parse_time(s, now)).transpose()?,
        until: a.until.as_deref().map(|s| parse_time(s, now)).transpose()?,
        filters: a.filter.iter().map(|f| EventFilter::parse(f)).collect::<Result<_, _>>()?,
    };
    let fmt = a.format.as_deref().map(Format::parse).transpose()?;
    let mut out = std::io::stdout();
    let mut failed: Option<Failure> = None;
    e.events(&req, |ev| {
        let line = match &fmt {
            Some(f) => match f.render(&serde_json::Value::Null, &[serde_json::to_value(ev).expect("json")]) {
                Ok(s) => s,
                Err(err) => {
                    failed = Some(err);
                    return Err(std::io::Error::other("format"));
                }
            },
            None => format!("{}\n", ev.line()),
        };
        out.write_all(line.as_bytes()).and_then(|_| out.flush())
    })?;
    match failed {
        Some(f) => Err(f),
        None => Ok(()),
    }
}
