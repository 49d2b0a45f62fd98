//! The attach protocol on the shim's unix socket: frames of `[kind, 0, 0, 0, len u32 BE]` then
//! `len` bytes, as Docker's stdcopy multiplexing (one header shape for every direction).
//!
//! A client's first frame is [`HELLO`] with the streams it wants; a client that wants none only
//! waits for the [`EXIT`] frame (`doca wait`).

use std::io::{self, Read, Write};

/// Client → shim: bytes for the container's stdin.
pub const STDIN: u8 = 0;
/// Shim → client: the container's output.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;
/// Shim → client: the exit code as an i32 BE; the last frame.
pub const EXIT: u8 = 3;
/// Client → shim: a new terminal size, rows then columns, u16 BE each.
pub const RESIZE: u8 = 4;
/// Client → shim: no more stdin from this client.
pub const CLOSE_STDIN: u8 = 5;
/// Client → shim: first frame; payload one byte of `WANT_*` flags.
pub const HELLO: u8 = 6;
/// Client → shim: the client that took [`WANT_CLEANUP`] has done the exit command's work.
pub const CLEANED: u8 = 7;

pub const WANT_STDIN: u8 = 1;
pub const WANT_STDOUT: u8 = 2;
pub const WANT_STDERR: u8 = 4;
/// The client does the exit command's work itself when it hears the exit code, and says
/// [`CLEANED`]; the monitor runs the exit command only if that client goes away first. (The
/// foreground `doca run` saves a process on the path from exit to prompt this way, and a
/// killed CLI still leaves a clean state.)
pub const WANT_CLEANUP: u8 = 8;

const MAX_FRAME: usize = 1 << 20;

/// A unix socket path may be longer than sun_path's 108 bytes (a long run root and a 64-digit
/// container id): the socket is then reached through `/proc/self/fd/N/`, N its open
/// directory, which path resolution follows like any directory.
fn via_dir<T>(path: &std::path::Path, f: impl FnOnce(&std::path::Path) -> io::Result<T>) -> io::Result<T> {
    if path.as_os_str().len() < 100 {
        return f(path);
    }
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return f(path) };
    let d = std::fs::File::open(dir)?;
    let short = std::path::PathBuf::from(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&d))).join(name);
    f(&short)
}

pub fn connect(path: &std::path::Path) -> io::Result<std::os::unix::net::UnixStream> {
    via_dir(path, |p| std::os::unix::net::UnixStream::connect(p))
}

pub fn bind(path: &std::path::Path) -> io::Result<std::os::unix::net::UnixListener> {
    via_dir(path, |p| std::os::unix::net::UnixListener::bind(p))
}

pub fn write_frame(w: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    let mut header = [kind, 0, 0, 0, 0, 0, 0, 0];
    header[4..].copy_from_slice(&(payload.len() as u32).to_be_bytes());
    // One write per frame so that concurrent writers of whole frames never interleave bytes.
    let mut buf = Vec::with_capacity(8 + payload.len());
    buf.extend_from_slice(&header);
    buf.extend_from_slice(payload);
    w.write_all(&buf)
}

/// The next frame, or `None` at a clean end of stream.
pub fn read_frame(r: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 8];
    let mut got = 0;
    while got < 8 {
        match r.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "attach stream: truncated frame header")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = u32::from_be_bytes(header[4..].try_into().expect("4 bytes")) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("attach stream: frame of {len} bytes")));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some((header[0], payload)))
}

/// Incremental parsing for a reader that gets bytes as poll(2) reports them.
#[derive(Default)]
pub struct FrameBuf {
    buf: Vec<u8>,
}

impl FrameBuf {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole frame, if one has arrived. A frame over the size limit is an error.
    pub fn pop(&mut self) -> io::Result<Option<(u8, Vec<u8>)>> {
        if self.buf.len() < 8 {
            return Ok(None);
        }
        let len = u32::from_be_bytes(self.buf[4..8].try_into().expect("4 bytes")) as usize;
        if len > MAX_FRAME {
            return Err(io::Error::new(io::ErrorKind::InvalidData, format!("attach stream: frame of {len} bytes")));
        }
        if self.buf.len() < 8 + len {
            return Ok(None);
        }
        let kind = self.buf[0];
        let payload = self.buf[8..8 + len].to_vec();
        self.buf.drain(..8 + len);
        Ok(Some((kind, payload)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_whole_and_in_pieces() {
        let mut wire = Vec::new();
        write_frame(&mut wire, STDOUT, b"hello\n").unwrap();
        write_frame(&mut wire, EXIT, &7i32.to_be_bytes()).unwrap();
        let mut r = &wire[..];
        assert_eq!(read_frame(&mut r).unwrap(), Some((STDOUT, b"hello\n".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), Some((EXIT, 7i32.to_be_bytes().to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), None);
        let mut fb = FrameBuf::default();
        for b in &wire {
            fb.push(std::slice::from_ref(b));
        }
        assert_eq!(fb.pop().unwrap(), Some((STDOUT, b"hello\n".to_vec())));
        assert_eq!(fb.pop().unwrap().unwrap().0, EXIT);
        assert_eq!(fb.pop().unwrap(), None);
        let mut huge = FrameBuf::default();
        huge.push(&[STDIN, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
        assert!(huge.pop().is_err());
        assert!(read_frame(&mut &wire[..3]).is_err());
    }

    #[test]
    fn sockets_with_paths_longer_than_sun_path() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("d".repeat(120));
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("attach");
        let l = bind(&path).unwrap();
        let mut c = connect(&path).unwrap();
        write_frame(&mut c, HELLO, &[0]).unwrap();
        let (mut s, _) = l.accept().unwrap();
        assert_eq!(read_frame(&mut s).unwrap(), Some((HELLO, vec![0])));
    }
}
