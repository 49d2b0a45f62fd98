//! `doca events`: what happened to containers and images, as docker reports it. Without a
//! daemon, each doca process appends its events to `<root>/events.log` (JSON lines, one
//! O_APPEND write each, so concurrent writers never interleave a line); the log keeps the last
//! ~1 MB (rotated once to `events.log.1`), and `events` reads it, then follows it.

use crate::{Engine, EngineError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

const MAX_LOG: u64 = 1 << 20;

/// Docker's events message (api/types/events.Message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i128,
    /// Docker's older fields, kept for clients that read them.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub from: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// docker's line: `2026-11-30T04:09:11.123456789Z container start ID (image=busybox, name=web)`.
    pub fn line(&self) -> String {
        let t = time::OffsetDateTime::from_unix_timestamp_nanos(self.time_nano).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let attrs: Vec<String> = self.actor.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z {} {} {} ({})",
            t.year(),
            t.month() as u8,
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            t.nanosecond(),
            self.kind,
            self.action,
            self.actor.id,
            attrs.join(", ")
        )
    }
}

/// `--filter` for events: container, event, image, label, type (docker's keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
    Container(String),
    Event(String),
    Image(String),
    Label(String, Option<String>),
    Type(String),
}

impl EventFilter {
    pub fn parse(s: &str) -> Result<EventFilter, EngineError> {
        let (k, v) =
            s.split_once('=').ok_or_else(|| EngineError::InvalidArgument(format!("bad format of filter (expected name=value): {s}")))?;
        Ok(match k {
            "container" => EventFilter::Container(v.into()),
            "event" => EventFilter::Event(v.into()),
            "image" => EventFilter::Image(v.into()),
            "label" => match v.split_once('=') {
                Some((a, b)) => EventFilter::Label(a.into(), Some(b.into())),
                None => EventFilter::Label(v.into(), None),
            },
            "type" => EventFilter::Type(v.into()),
            _ => return Err(EngineError::InvalidFilter(k.to_string())),
        })
    }

    fn matches(&self, e: &Event) -> bool {
        let attr = |k: &str| e.actor.attributes.get(k).map(String::as_str);
        match self {
            EventFilter::Container(c) => e.kind == "container" && (e.actor.id.starts_with(c.as_str()) || attr("name") == Some(c)),
            EventFilter::Event(a) => e.action == *a || e.action.split(':').next() == Some(a),
            EventFilter::Image(i) => attr("image") == Some(i) || (e.kind == "image" && (e.actor.id == *i || attr("name") == Some(i))),
            EventFilter::Label(k, v) => attr(k).is_some_and(|x| v.as_ref().is_none_or(|v| v == x)),
            EventFilter::Type(t) => e.kind == *t,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListEvents {
    /// Unix nanoseconds; events before are left out. Without it only new events are shown.
    pub since: Option<i128>,
    /// Stop there (and do not follow).
    pub until: Option<i128>,
    pub filters: Vec<EventFilter>,
}

impl Engine {
    /// A container event with docker's attributes: the image, the name and the labels.
    pub(crate) fn container_event(&self, c: &crate::containers::Container, action: &str, extra: &[(&str, &str)]) {
        let mut attrs: Vec<(&str, &str)> = vec![("image", c.config.image.as_str()), ("name", c.name.as_str())];
        attrs.extend(c.config.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        attrs.extend_from_slice(extra);
        self.emit("container", action, c.id.as_str(), &attrs);
    }

    fn events_path(&self) -> PathBuf {
        self.config().root.join("events.log")
    }

    /// Records an event; failing to is never an error for the operation that caused it.
    pub(crate) fn emit(&self, kind: &str, action: &str, id: &str, attributes: &[(&str, &str)]) {
        let now = crate::now();
        let e = Event {
            kind: kind.into(),
            action: action.into(),
            actor: Actor { id: id.into(), attributes: attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() },
            scope: "local".into(),
            time: now.unix_timestamp(),
            time_nano: now.unix_timestamp_nanos(),
            status: if kind == "container" || kind == "image" { action.into() } else { String::new() },
            id: if kind == "container" || kind == "image" { id.into() } else { String::new() },
            from: attributes.iter().find(|(k, _)| *k == "image").map(|(_, v)| v.to_string()).unwrap_or_default(),
        };
        let path = self.events_path();
        let mut line = serde_json::to_vec(&e).expect("json");
        line.push(b'\n');
        if std::fs::metadata(&path).is_ok_and(|m| m.len() > MAX_LOG) {
            let _ = std::fs::rename(&path, path.with_extension("log.1"));
        }
        if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(&path) {
            let _ = f.write_all(&line);
        }
    }

    /// The exit code of container `id`'s last `die` event since `since` (Unix nanoseconds):
    /// what a waiter learns of a container removed (`--rm`) before it saw the exit itself.
    pub fn last_exit_code(&mut self, id: &str, since: i128) -> Option<i32> {
        let req = ListEvents {
            since: Some(since),
            until: Some(crate::now().unix_timestamp_nanos()),
            filters: vec![EventFilter::Container(id.to_string()), EventFilter::Event("die".into())],
        };
        let mut code = None;
        let _ = self.events(&req, |e| {
            code = e.actor.attributes.get("exitCode").and_then(|c| c.parse().ok());
            Ok(())
        });
        code
    }

    /// Hands each event to `out`, oldest first; follows the log for new ones until `until` (or
    /// until `out` fails: the reader went away).
    pub fn events(&mut self, req: &ListEvents, mut out: impl FnMut(&Event) -> std::io::Result<()>) -> Result<(), EngineError> {
        let path = self.events_path();
        let now = crate::now().unix_timestamp_nanos();
        let since = req.since.unwrap_or(now);
        let keep =
            |e: &Event| e.time_nano >= since && req.until.is_none_or(|u| e.time_nano <= u) && req.filters.iter().all(|f| f.matches(e));
        let mut offset = 0u64;
        for p in [path.with_extension("log.1"), path.clone()] {
            let Ok(f) = std::fs::File::open(&p) else { continue };
            let mut r = std::io::BufReader::new(f);
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 {
                if p == path {
                    offset += line.len() as u64;
                }
                if let Ok(e) = serde_json::from_str::<Event>(&line) {
                    if keep(&e) && out(&e).is_err() {
                        return Ok(());
                    }
                }
                line.clear();
            }
        }
        if req.until.is_some_and(|u| u <= now) {
            return Ok(());
        }
        follow(&path, offset, req, &keep, &mut out)
    }
}

fn follow(
    path: &Path,
    offset: u64,
    req: &ListEvents,
    keep: &dyn Fn(&Event) -> bool,
    out: &mut dyn FnMut(&Event) -> std::io::Result<()>,
) -> Result<(), EngineError> {
    let mut tail = crate::tail::Tail::at(path.to_path_buf(), offset);
    loop {
        if req.until.is_some_and(|u| crate::now().unix_timestamp_nanos() > u) {
            return Ok(());
        }
        let read = tail.read(&mut |line| match serde_json::from_str::<Event>(line) {
            Ok(e) => !keep(&e) || out(&e).is_ok(),
            Err(_) => true,
        });
        if let crate::tail::Read::Stopped = read {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_filters_as_docker() {
        let e = Event {
            kind: "container".into(),
            action: "die".into(),
            actor: Actor {
                id: "abc".into(),
                attributes: [
                    ("exitCode".to_string(), "3".to_string()),
                    ("name".to_string(), "web".to_string()),
                    ("image".to_string(), "busybox".to_string()),
                ]
                .into(),
            },
            scope: "local".into(),
            time: 1_800_000_000,
            time_nano: 1_800_000_000_123_456_789,
            status: "die".into(),
            id: "abc".into(),
            from: "busybox".into(),
        };
        assert_eq!(e.line(), "2027-01-15T08:00:00.123456789Z container die abc (exitCode=3, image=busybox, name=web)");
        assert!(EventFilter::parse("container=web").unwrap().matches(&e));
        assert!(EventFilter::parse("event=die").unwrap().matches(&e));
        assert!(!EventFilter::parse("type=image").unwrap().matches(&e));
        assert!(EventFilter::parse("image=busybox").unwrap().matches(&e));
        assert!(EventFilter::parse("bogus=1").is_err());
    }
}
