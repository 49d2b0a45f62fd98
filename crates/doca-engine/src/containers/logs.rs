//! `doca logs`: the json-file log, with `--since`, `--until`, `--tail`, and `--follow` until
//! the container stops.

use super::record::Container;
use crate::tail::{Read, Tail};
use crate::{Engine, EngineError};
use doca_shim::logfile::{self, LogEntry};
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct ContainerLogs {
    pub follow: bool,
    /// Unix nanoseconds: entries before (since) or after (until) are left out.
    pub since: Option<i128>,
    pub until: Option<i128>,
    /// The last N entries only.
    pub tail: Option<usize>,
}

fn nanos(entry: &LogEntry) -> i128 {
    time::OffsetDateTime::parse(&entry.time, &time::format_description::well_known::Rfc3339).map(|t| t.unix_timestamp_nanos()).unwrap_or(0)
}

/// docker's `--since`/`--until`: RFC 3339 (date, or date and time), Unix seconds with an
/// optional fraction, or a Go duration ago ("10m", "1h30m", "5s").
pub fn parse_time(s: &str, now_nanos: i128) -> Result<i128, EngineError> {
    let bad = || EngineError::InvalidArgument(format!("invalid value for \"since\"/\"until\": {s}"));
    if let Ok(t) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(t.unix_timestamp_nanos());
    }
    if let Ok(d) = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")) {
        return Ok(d.midnight().assume_utc().unix_timestamp_nanos());
    }
    if let Some((secs, frac)) = s
        .split_once('.')
        .or(Some((s, "")))
        .filter(|(a, b)| !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit()) && b.len() <= 9)
    {
        let frac_n: i128 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().map_err(|_| bad())? };
        return Ok(secs.parse::<i128>().map_err(|_| bad())? * 1_000_000_000 + frac_n);
    }
    let ago = parse_go_duration(s).ok_or_else(bad)?;
    Ok(now_nanos - ago.as_nanos() as i128)
}

/// A Go duration ("1h30m", "10s", "1.5m", "250ms"), as time.ParseDuration reads it.
pub fn parse_go_duration(s: &str) -> Option<std::time::Duration> {
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(std::time::Duration::ZERO);
    }
    while !rest.is_empty() {
        let n_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let n: f64 = rest[..n_end].parse().ok()?;
        rest = &rest[n_end..];
        let u_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = match &rest[..u_end] {
            "h" => 3600e9,
            "m" => 60e9,
            "s" => 1e9,
            "ms" => 1e6,
            "us" | "µs" => 1e3,
            "ns" => 1.0,
            _ => return None,
        };
        total += n * unit;
        rest = &rest[u_end..];
    }
    Some(std::time::Duration::from_nanos(total as u64))
}

impl Engine {
    /// Hands each selected entry to `out`, oldest first; with `follow`, goes on until the
    /// container is no longer running (or `out` fails: the reader went away).
    pub fn container_logs(
        &mut self,
        name: &str,
        req: &ContainerLogs,
        mut out: impl FnMut(&LogEntry) -> std::io::Result<()>,
    ) -> Result<(), EngineError> {
        let c = self.container(name)?;
        let path = self.container_paths(&c.id).log(&c.id);
        let max_files = c.config.log_max_files.unwrap_or(super::start::DEFAULT_LOG_MAX_FILES);
        let keep = |e: &LogEntry| {
            let t = nanos(e);
            req.since.is_none_or(|s| t >= s) && req.until.is_none_or(|u| t <= u)
        };
        let mut entries: Vec<LogEntry> = Vec::new();
        // Where following starts: the end of what was read of the current file (a line the
        // monitor writes meanwhile is followed, never skipped).
        let mut offset = 0;
        for f in logfile::files(&path, max_files) {
            let (read, end) = logfile::read_with_end(&f).unwrap_or_default();
            if f == path {
                offset = end;
            }
            entries.extend(read.into_iter().filter(|e| keep(e)));
        }
        let skip = req.tail.map(|n| entries.len().saturating_sub(n)).unwrap_or(0);
        let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::BrokenPipe;
        for e in &entries[skip..] {
            if let Err(err) = out(e) {
                return if gone(&err) { Ok(()) } else { Err(EngineError::Internal(format!("write logs: {err}"))) };
            }
        }
        if !req.follow || !c.state.status.is_live() && c.state.status != super::record::Status::Restarting {
            return Ok(());
        }
        self.follow_logs(&c, &path, offset, req, &mut out)
    }

    fn follow_logs(
        &mut self,
        c: &Container,
        path: &std::path::Path,
        offset: u64,
        req: &ContainerLogs,
        out: &mut impl FnMut(&LogEntry) -> std::io::Result<()>,
    ) -> Result<(), EngineError> {
        let mut tail = Tail::at(path.to_path_buf(), offset);
        let mut last_check = std::time::Instant::now();
        let mut final_pass = false;
        loop {
            let read = tail.read(&mut |line| match serde_json::from_str::<LogEntry>(line) {
                Ok(e) => req.until.is_none_or(|u| nanos(&e) <= u) && out(&e).is_ok(),
                Err(_) => true,
            });
            match read {
                Read::Stopped => return Ok(()),
                Read::Lines => continue,
                Read::Idle => {}
            }
            if last_check.elapsed() > Duration::from_millis(200) {
                last_check = std::time::Instant::now();
                let now = self.container(c.id.as_str());
                let live = now.as_ref().is_ok_and(|n| n.state.status.is_live() || n.state.status == super::record::Status::Restarting);
                if !live {
                    // One last read after the exit: what the monitor flushed at the end.
                    if final_pass || !tail.has_more() {
                        return Ok(());
                    }
                    final_pass = true;
                    continue;
                }
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    #[test]
    fn since_and_until_take_dockers_forms() {
        let now = 1_000_000 * 1_000_000_000i128;
        assert_eq!(parse_time("10m", now).unwrap(), now - 600 * 1_000_000_000);
        assert_eq!(parse_time("1h30m", now).unwrap(), now - 5400 * 1_000_000_000);
        assert_eq!(parse_time("1700000000", now).unwrap(), 1_700_000_000 * 1_000_000_000);
        assert_eq!(parse_time("1700000000.5", now).unwrap(), 1_700_000_000 * 1_000_000_000 + 500_000_000);
        assert_eq!(parse_time("2026-11-30T00:00:00Z", now).unwrap(), 1_795_996_800 * 1_000_000_000);
        assert_eq!(parse_time("2026-11-30", now).unwrap(), 1_795_996_800 * 1_000_000_000);
        assert!(parse_time("yesterday", now).is_err());
        assert!(parse_time("", now).is_err());
        assert_eq!(super::parse_go_duration("1.5m"), Some(std::time::Duration::from_secs(90)));
        assert_eq!(super::parse_go_duration("250ms"), Some(std::time::Duration::from_millis(250)));
        assert_eq!(super::parse_go_duration("5"), None, "a unit is required");
    }
}
