//! A connection to a container's monitor: its output as it comes, input to its stdin, terminal
//! resizes, and its exit code. `run`, `start -a`, `attach` and `wait` all use it.

use crate::EngineError;
use doca_shim::proto;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;

/// Which streams an attach client takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttachStreams {
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    /// This client records the exit itself ([`Attach::cleaned`]) instead of the monitor's exit
    /// command: one process less between the container's exit and the prompt.
    pub cleanup: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum AttachEvent {
    Stdout(Vec<u8>),
    Stderr(Vec<u8>),
    /// The container's init exited with this code; nothing follows.
    Exit(i32),
}

pub struct Attach {
    sock: UnixStream,
}

/// The input half, for a thread that copies the user's stdin.
pub struct AttachInput {
    sock: UnixStream,
}

impl Attach {
    pub(crate) fn connect(socket: &Path, streams: AttachStreams) -> io::Result<Attach> {
        let mut sock = proto::connect(socket)?;
        let want = (u8::from(streams.stdin) * proto::WANT_STDIN)
            | (u8::from(streams.stdout) * proto::WANT_STDOUT)
            | (u8::from(streams.stderr) * proto::WANT_STDERR)
            | (u8::from(streams.cleanup) * proto::WANT_CLEANUP);
        proto::write_frame(&mut sock, proto::HELLO, &[want])?;
        Ok(Attach { sock })
    }

    pub fn input(&self) -> Result<AttachInput, EngineError> {
        Ok(AttachInput { sock: self.sock.try_clone().map_err(|e| EngineError::Internal(format!("attach: {e}")))? })
    }

    /// The next output or the exit; `None` when the monitor went away without an exit code
    /// (it was killed, or the container was removed meanwhile).
    pub fn next_event(&mut self) -> io::Result<Option<AttachEvent>> {
        loop {
            return Ok(match proto::read_frame(&mut self.sock)? {
                None => None,
                Some((proto::STDOUT, b)) => Some(AttachEvent::Stdout(b)),
                Some((proto::STDERR, b)) => Some(AttachEvent::Stderr(b)),
                Some((proto::EXIT, b)) if b.len() == 4 => Some(AttachEvent::Exit(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
                Some(_) => continue,
            });
        }
    }

    /// After [`AttachEvent::Exit`] on a `cleanup` attachment: records the exit as the exit
    /// command would, then releases the monitor.
    pub fn cleanup(&mut self, engine: &mut crate::Engine, container: &str) -> Result<(), EngineError> {
        // The monitor deletes the runtime's state meanwhile.
        let r = engine.cleanup_exited(container, false);
        let _ = proto::write_frame(&mut self.sock, proto::CLEANED, &[]);
        r
    }

    /// Waits for the exit code, at most `timeout` (None: for ever). `Ok(None)` on timeout or
    /// when the monitor went away.
    pub fn wait(&mut self, timeout: Option<std::time::Duration>) -> io::Result<Option<i32>> {
        self.sock.set_read_timeout(timeout)?;
        loop {
            match self.next_event() {
                Ok(Some(AttachEvent::Exit(code))) => return Ok(Some(code)),
                Ok(Some(_)) => {}
                Ok(None) => return Ok(None),
                Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    }
}

impl crate::Engine {
    /// `doca attach`: the streams of a running container.
    pub fn attach_container(&mut self, name: &str, streams: AttachStreams) -> Result<(super::Container, Attach), EngineError> {
        let c = self.container(name)?;
        if !c.state.status.is_live() {
            return Err(EngineError::Conflict("You cannot attach to a stopped container, start it first".into()));
        }
        if c.state.status == super::Status::Paused {
            return Err(EngineError::Conflict("You cannot attach to a paused container, unpause it first".into()));
        }
        let a = Attach::connect(&self.container_paths(&c.id).attach(), streams)
            .map_err(|e| EngineError::Internal(format!("attach to container {}: {e}", c.id)))?;
        Ok((c, a))
    }
}

impl AttachInput {
    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        proto::write_frame(&mut self.sock, proto::STDIN, data)
    }

    /// The user's stdin ended: with `-i` and no terminal the container's stdin closes too.
    pub fn close(&mut self) -> io::Result<()> {
        proto::write_frame(&mut self.sock, proto::CLOSE_STDIN, &[])
    }

    /// Leaves the container running and ends this attachment (the detach keys): the reader
    /// of the other half sees the end of the stream.
    pub fn detach(&mut self) {
        let _ = self.sock.shutdown(std::net::Shutdown::Both);
    }

    pub fn resize(&mut self, rows: u16, cols: u16) -> io::Result<()> {
        let mut p = rows.to_be_bytes().to_vec();
        p.extend_from_slice(&cols.to_be_bytes());
        proto::write_frame(&mut self.sock, proto::RESIZE, &p)
    }
}

/// The detach keys (`--detach-keys`, the API's `detachKeys`; ctrl-p,ctrl-q by default) and how
/// much of them the input so far has typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DetachKeys {
    keys: Vec<u8>,
    matched: usize,
}

impl DetachKeys {
    /// docker's syntax: comma-separated `ctrl-X` or single characters.
    pub fn parse(spec: Option<&str>) -> Result<DetachKeys, EngineError> {
        let spec = spec.filter(|s| !s.is_empty()).unwrap_or("ctrl-p,ctrl-q");
        let mut keys = Vec::new();
        for k in spec.split(',') {
            let bad = || EngineError::InvalidArgument(format!("Invalid detach keys ({spec}) provided"));
            match k.strip_prefix("ctrl-") {
                Some(c) if c.len() == 1 => {
                    let b = c.as_bytes()[0].to_ascii_lowercase();
                    keys.push(match b {
                        b'a'..=b'z' => b - b'a' + 1,
                        b'@' => 0,
                        b'[' => 27,
                        b'\\' => 28,
                        b']' => 29,
                        b'^' => 30,
                        b'_' => 31,
                        _ => return Err(bad()),
                    });
                }
                None if k.len() == 1 => keys.push(k.as_bytes()[0]),
                _ => return Err(bad()),
            }
        }
        Ok(DetachKeys { keys, matched: 0 })
    }

    /// Keys already parsed; none: no detaching (input without a terminal).
    pub fn with_keys(keys: &[u8]) -> DetachKeys {
        DetachKeys { keys: keys.to_vec(), matched: 0 }
    }

    pub fn keys(&self) -> &[u8] {
        &self.keys
    }

    /// Input as typed: what to pass on to the container, and whether the sequence was
    /// completed (then nothing after it is passed on). A partial sequence that does not
    /// complete is input after all.
    pub fn feed(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(data.len());
        for &b in data {
            if !self.keys.is_empty() && b == self.keys[self.matched] {
                self.matched += 1;
                if self.matched == self.keys.len() {
                    self.matched = 0;
                    return (out, true);
                }
                continue;
            }
            out.extend_from_slice(&self.keys[..self.matched]);
            self.matched = 0;
            out.push(b);
        }
        (out, false)
    }
}

#[cfg(test)]
mod tests {
    use super::DetachKeys;

    #[test]
    fn detach_keys_parse_as_docker() {
        assert_eq!(DetachKeys::parse(None).unwrap().keys(), [16, 17]);
        assert_eq!(DetachKeys::parse(Some("ctrl-a,x")).unwrap().keys(), [1, b'x']);
        assert!(DetachKeys::parse(Some("ctrl-1")).is_err());
        assert!(DetachKeys::parse(Some("abc")).is_err());
    }

    #[test]
    fn a_sequence_typed_across_reads_detaches_and_a_broken_one_is_input() {
        let mut k = DetachKeys::parse(None).unwrap();
        assert_eq!(k.feed(b"ab\x10"), (b"ab".to_vec(), false));
        assert_eq!(k.feed(b"c"), (b"\x10c".to_vec(), false));
        assert_eq!(k.feed(b"x\x10"), (b"x".to_vec(), false));
        assert_eq!(k.feed(b"\x11rest"), (Vec::new(), true));
    }
}
