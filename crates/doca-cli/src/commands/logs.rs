//! `doca logs`: the container's json-file log, as docker prints it (each entry to the stream
//! it came from; `-t` prefixes the timestamp).

use crate::cli::LogsArgs;
use crate::{CmdResult, Failure};
use doca_engine::containers::parse_time;
use doca_engine::containers::ContainerLogs;
use doca_engine::Engine;
use std::io::Write;

pub fn run(e: &mut Engine, a: LogsArgs) -> CmdResult {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let since = a.since.as_deref().map(|s| parse_time(s, now)).transpose()?;
    let until = a.until.as_deref().map(|s| parse_time(s, now)).transpose()?;
    let tail = match a.tail.as_str() {
        "all" | "" => None,
        n => match n.parse::<i64>() {
            Ok(n) if n >= 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => return Err(Failure::failed(format!("invalid value for \"tail\": {n:?}"))),
        },
    };
    let req = ContainerLogs { follow: a.follow, since, until, tail };
    let mut stdout = std::io::stdout();
    let mut stderr = std::io::stderr();
    e.container_logs(&a.container, &req, |entry| {
        let mut line = Vec::with_capacity(entry.log.len() + 40);
        if a.timestamps {
            line.extend_from_slice(entry.time.as_bytes());
            line.push(b' ');
        }
        line.extend_from_slice(entry.log.as_bytes());
        if entry.stream == "stderr" {
            stderr.write_all(&line)
        } else {
            stdout.write_all(&line).and_then(|_| stdout.flush())
        }
    })?;
    Ok(())
}
