//! Docker's json-file log format: one JSON object per line,
//! `{"log":"text\n","stream":"stdout","time":"2026-11-30T03:14:38.123456789Z"}`, rotated by size
//! to `<path>.1`, `<path>.2`, ... (moby daemon/logger/jsonfilelog). Lines longer than 16 KiB are
//! split, and a final partial line is logged without its newline, as docker does.

use crate::config::LogConfig;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// docker's copier buffer: a longer line is logged in pieces.
const MAX_LINE: usize = 16 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub log: String,
    pub stream: String,
    pub time: String,
}

pub struct LogWriter {
    cfg: LogConfig,
    file: File,
    size: u64,
    partial: [Vec<u8>; 2],
}

impl LogWriter {
    pub fn open(cfg: LogConfig) -> io::Result<LogWriter> {
        let file = OpenOptions::new().create(true).append(true).open(&cfg.path)?;
        let size = file.metadata()?.len();
        Ok(LogWriter { cfg, file, size, partial: [Vec::new(), Vec::new()] })
    }

    /// Output of `stream` (0 stdout, 1 stderr): whole lines are logged now, the rest waits for
    /// its newline.
    pub fn write(&mut self, stream: usize, bytes: &[u8]) -> io::Result<()> {
        self.partial[stream].extend_from_slice(bytes);
        loop {
            let buf = &self.partial[stream];
            let cut = match buf.iter().position(|b| *b == b'\n') {
                Some(i) if i < MAX_LINE => i + 1,
                _ if buf.len() >= MAX_LINE => MAX_LINE,
                _ => return Ok(()),
            };
            let line: Vec<u8> = self.partial[stream].drain(..cut).collect();
            self.entry(stream, &line)?;
        }
    }

    /// Logs what is left of unfinished lines (the container has exited).
    pub fn flush_partial(&mut self) -> io::Result<()> {
        for s in 0..2 {
            if !self.partial[s].is_empty() {
                let line = std::mem::take(&mut self.partial[s]);
                self.entry(s, &line)?;
            }
        }
        Ok(())
    }

    fn entry(&mut self, stream: usize, line: &[u8]) -> io::Result<()> {
        let e = LogEntry {
            log: String::from_utf8_lossy(line).into_owned(),
            stream: if stream == 0 { "stdout" } else { "stderr" }.into(),
            time: crate::config::rfc3339_now(),
        };
        let mut json = serde_json::to_vec(&e).expect("json");
        json.push(b'\n');
        if self.cfg.max_size > 0 && self.size > 0 && self.size + json.len() as u64 > self.cfg.max_size {
            self.rotate()?;
        }
        self.file.write_all(&json)?;
        self.size += json.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let n = self.cfg.max_files.max(1);
        if n == 1 {
            self.file.set_len(0)?;
        } else {
            for i in (1..n - 1).rev() {
                let _ = std::fs::rename(rotated(&self.cfg.path, i), rotated(&self.cfg.path, i + 1));
            }
            std::fs::rename(&self.cfg.path, rotated(&self.cfg.path, 1))?;
            self.file = OpenOptions::new().create(true).append(true).open(&self.cfg.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

pub fn rotated(path: &Path, i: u32) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}"));
    PathBuf::from(s)
}

/// The log files of `path`, oldest first.
pub fn files(path: &Path, max_files: u32) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = (1..max_files.max(1)).rev().map(|i| rotated(path, i)).filter(|p| p.exists()).collect();
    if path.exists() {
        out.push(path.to_path_buf());
    }
    out
}

/// Parses one log file; a line that is not an entry (a torn last write after a crash) is skipped.
pub fn read(path: &Path) -> io::Result<Vec<LogEntry>> {
    read_with_end(path).map(|(entries, _)| entries)
}

/// Parses one log file, and tells where its last complete line ends: where a reader that
/// follows the file goes on from, so that nothing written meanwhile is skipped or read twice.
pub fn read_with_end(path: &Path) -> io::Result<(Vec<LogEntry>, u64)> {
    let mut data = Vec::new();
    io::Read::read_to_end(&mut File::open(path)?, &mut data)?;
    let end = data.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let out = data[..end].split(|&b| b == b'\n').filter_map(|line| serde_json::from_slice::<LogEntry>(line).ok()).collect();
    Ok((out, end as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_partials_and_rotation() {
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("c-json.log");
        let mut w = LogWriter::open(LogConfig { path: path.clone(), max_size: 300, max_files: 3 }).unwrap();
        w.write(0, b"hel").unwrap();
        w.write(1, b"err\n").unwrap();
        w.write(0, b"lo\nworld").unwrap();
        w.flush_partial().unwrap();
        let got: Vec<(String, String)> = read(&path).unwrap().into_iter().map(|e| (e.stream, e.log)).collect();
        assert_eq!(got, [("stderr".into(), "err\n".into()), ("stdout".into(), "hello\n".into()), ("stdout".into(), "world".into())]);
        for i in 0..20 {
            w.write(0, format!("line {i}\n").as_bytes()).unwrap();
        }
        let fs = files(&path, 3);
        assert_eq!(fs.len(), 3, "{fs:?}");
        assert!(!rotated(&path, 3).exists());
        let all: Vec<String> = fs.iter().flat_map(|f| read(f).unwrap()).map(|e| e.log).collect();
        assert_eq!(all.last().unwrap(), "line 19\n");
        assert!(std::fs::metadata(&path).unwrap().len() <= 300);
        let long = vec![b'x'; MAX_LINE + 10];
        w.write(1, &long).unwrap();
        w.flush_partial().unwrap();
        let all: Vec<LogEntry> = files(&path, 3).iter().flat_map(|f| read(f).unwrap()).collect();
        let last: Vec<usize> = all.iter().rev().take(2).map(|e| e.log.len()).collect();
        assert_eq!(last, [10, MAX_LINE]);
    }
}
