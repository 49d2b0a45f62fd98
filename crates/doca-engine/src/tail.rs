//! Following a file that others append whole lines to and rotate by rename (a container's
//! json-file log, the event log): `logs -f` and `events` read what is new, line by line.

use std::io::{BufRead, Seek};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

pub(crate) struct Tail {
    path: PathBuf,
    inode: u64,
    offset: u64,
}

/// What one read found.
pub(crate) enum Read {
    /// Nothing new.
    Idle,
    /// New lines, all handed over.
    Lines,
    /// The reader asked to stop.
    Stopped,
}

impl Tail {
    /// Follows `path` from byte `offset` of the file there now.
    pub(crate) fn at(path: PathBuf, offset: u64) -> Tail {
        let inode = std::fs::metadata(&path).map(|m| m.ino()).unwrap_or(0);
        Tail { path, inode, offset }
    }

    /// Whether the file holds bytes not read yet.
    pub(crate) fn has_more(&self) -> bool {
        std::fs::metadata(&self.path).is_ok_and(|m| m.len() > self.offset)
    }

    /// Hands each new whole line to `line` (false: stop). A line still being written is read
    /// next time; a rotated file (another inode, or shorter) is read from its start.
    pub(crate) fn read(&mut self, line: &mut dyn FnMut(&str) -> bool) -> Read {
        let (ino, len) = std::fs::metadata(&self.path).map(|m| (m.ino(), m.len())).unwrap_or((0, 0));
        if ino != self.inode || len < self.offset {
            self.inode = ino;
            self.offset = 0;
        }
        if len <= self.offset {
            return Read::Idle;
        }
        let Ok(mut f) = std::fs::File::open(&self.path) else { return Read::Idle };
        let _ = f.seek(std::io::SeekFrom::Start(self.offset));
        let mut r = std::io::BufReader::new(f);
        let mut text = String::new();
        let mut got = Read::Idle;
        while r.read_line(&mut text).unwrap_or(0) > 0 && text.ends_with('\n') {
            self.offset += text.len() as u64;
            got = Read::Lines;
            if !line(&text) {
                return Read::Stopped;
            }
            text.clear();
        }
        got
    }
}
