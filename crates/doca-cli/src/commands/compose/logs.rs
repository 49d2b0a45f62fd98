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

/// What the log readers send: lines, and the end of a container's log (it stopped: its name).
pub enum Msg {
    Line(Vec<u8>),
    Ended(String),
}

/// How the lines of several containers are shown.
#[derive(Debug, Clone, Default)]
pub struct Show {
    pub logs: ContainerLogs,
    /// `name  | ` before each line.
    pub prefixes: bool,
    pub colour: bool,
    pub timestamps: bool,
}

/// Follows (or reads) the logs of `containers` together, each from a thread with an engine of
/// its own; hands every message to `each` until all have ended or `each` says to stop.
pub fn stream(
    e: &Engine,
    c: &Compose,
    containers: &[doca_engine::containers::Container],
    show: &Show,
    mut each: impl FnMut(Msg) -> bool,
) -> CmdResult {
    let (req, prefixes, colour, timestamps) = (&show.logs, show.prefixes, show.colour, show.timestamps);
    let prefix_of = |name: &str| name.strip_prefix(&format!("{}-", c.project.name)).unwrap_or(name).to_string();
    let width = containers.iter().map(|k| prefix_of(&k.name).len()).max().unwrap_or(0);
    let (tx, rx) = std::sync::mpsc::channel::<Msg>();
    for (i, k) in containers.iter().enumerate() {
        let mut prefix = if prefixes { format!("{:<width$}  | ", prefix_of(&k.name)) } else { String::new() };
        if colour && !prefix.is_empty() {
            prefix = format!("\x1b[{}m{prefix}\x1b[0m", COLOURS[i % COLOURS.len()]);
        }
        let (tx, req, id, name, config) = (tx.clone(), req.clone(), k.id.to_string(), k.name.clone(), e.config().clone());
        std::thread::spawn(move || {
            if let Ok(mut e) = Engine::open(config) {
                let _ = e.container_logs(&id, &req, |entry| {
                    let mut line = prefix.clone().into_bytes();
                    if timestamps {
                        line.extend_from_slice(entry.time.as_bytes());
                        line.push(b' ');
                    }
                    line.extend_from_slice(entry.log.as_bytes());
                    if !line.ends_with(b"\n") {
                        line.push(b'\n');
                    }
                    tx.send(Msg::Line(line)).map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))
                });
            }
            let _ = tx.send(Msg::Ended(name));
        });
    }
    drop(tx);
    for m in rx {
        if !each(m) {
            break;
        }
    }
    Ok(())
}

pub fn run(e: &mut Engine, c: &Compose, a: ComposeLogsArgs) -> CmdResult {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let since = a.since.as_deref().map(|s| parse_time(s, now)).transpose()?;
    let tail = match a.tail.as_str() {
        "all" | "" => None,
        n => Some(n.parse::<usize>().map_err(|_| Failure::failed(format!("invalid value for \"tail\": {n:?}")))?),
    };
    let req = ContainerLogs { follow: a.follow, since, until: None, tail };
    let containers = c.service_containers(e, &a.services, true)?;
    let colour = !a.no_color && super::super::attach_io::is_tty(1);
    let mut out = std::io::stdout().lock();
    let show = Show { logs: req, prefixes: !a.no_log_prefix, colour, timestamps: a.timestamps };
    stream(e, c, &containers, &show, |m| match m {
        Msg::Line(l) => out.write_all(&l).and_then(|_| out.flush()).is_ok(),
        Msg::Ended(_) => true,
    })
}
