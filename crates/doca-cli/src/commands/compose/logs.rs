//! `doca compose logs`: every container's log, each line prefixed with its container's name
//! (`web-1  | ...`, in its own colour on a terminal), followed together with `-f`.

use crate::cli::ComposeLogsArgs;
use crate::{CmdResult, Failure};
use doca_compose::up::Compose;
use doca_engine::containers::{parse_time, ContainerLogs};
use doca_engine::Engine;
use std::io::Write;

/// docker compose's colours for the prefixes, in turn.
const COLOURS: [&str; 6] = ["36", "33", "32", "35", "34", "31"];

pub fn run(e: &mut Engine, c: &Compose, a: ComposeLogsArgs) -> CmdResult {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let since = a.since.as_deref().map(|s| parse_time(s, now)).transpose()?;
    let tail = match a.tail.as_str() {
        "all" | "" => None,
        n => Some(n.parse::<usize>().map_err(|_| Failure::failed(format!("invalid value for \"tail\": {n:?}")))?),
    };
    let req = ContainerLogs { follow: a.follow, since, until: None, tail };
    let containers = c.service_containers(e, &a.services, true)?;
    let prefix_of = |name: &str| name.strip_prefix(&format!("{}-", c.project.name)).unwrap_or(name).to_string();
    let width = containers.iter().map(|k| prefix_of(&k.name).len()).max().unwrap_or(0);
    let colour = !a.no_color && super::super::attach_io::is_tty(1);
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let mut threads = Vec::new();
    for (i, k) in containers.iter().enumerate() {
        let mut prefix = if a.no_log_prefix { String::new() } else { format!("{:<width$}  | ", prefix_of(&k.name)) };
        if colour && !prefix.is_empty() {
            prefix = format!("\x1b[{}m{prefix}\x1b[0m", COLOURS[i % COLOURS.len()]);
        }
        let (tx, req, id, config, timestamps) = (tx.clone(), req.clone(), k.id.to_string(), e.config().clone(), a.timestamps);
        // Each container followed by a thread of its own, with an engine of its own.
        threads.push(std::thread::spawn(move || -> Result<(), doca_engine::EngineError> {
            let mut e = Engine::open(config)?;
            e.container_logs(&id, &req, |entry| {
                let mut line = prefix.clone().into_bytes();
                if timestamps {
                    line.extend_from_slice(entry.time.as_bytes());
                    line.push(b' ');
                }
                line.extend_from_slice(entry.log.as_bytes());
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                tx.send(line).map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            })
        }));
    }
    drop(tx);
    let mut out = std::io::stdout().lock();
    for line in rx {
        if out.write_all(&line).and_then(|_| out.flush()).is_err() {
            break;
        }
    }
    for t in threads {
        t.join().map_err(|_| Failure::failed("a log reader failed"))??;
    }
    Ok(())
}
