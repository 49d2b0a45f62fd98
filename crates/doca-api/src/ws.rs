//! The websocket form of attach (`/containers/{id}/attach/ws`): RFC 6455's handshake and
//! frames, the few parts a server needs (no extensions, no fragmentation on send).

use bytes::Bytes;
use sha1::{Digest as _, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt};

/// RFC 6455 §1.3: the accept key is base64(SHA-1(key + this GUID)).
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Frames larger than this from a client are refused (stdin arrives in small pieces).
const MAX_FRAME: u64 = 1 << 20;

pub const TEXT: u8 = 0x1;
pub const BINARY: u8 = 0x2;
pub const CLOSE: u8 = 0x8;
pub const PING: u8 = 0x9;
pub const PONG: u8 = 0xA;

pub fn accept_key(key: &str) -> String {
    use base64::Engine as _;
    let mut h = Sha1::new();
    h.update(key.trim().as_bytes());
    h.update(GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// One unmasked frame with FIN set (RFC 6455 §5.2): what a server sends.
pub fn frame(opcode: u8, payload: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(payload.len() + 10);
    v.push(0x80 | opcode);
    match payload.len() {
        n if n < 126 => v.push(n as u8),
        n if n <= 0xffff => {
            v.push(126);
            v.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            v.push(127);
            v.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    v.extend_from_slice(payload);
    v.into()
}

/// The next frame from a client: (opcode, unmasked payload); `None` at the end of the stream.
/// Client frames must be masked (§5.1); a frame that is not, or is too large, is an error.
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R) -> std::io::Result<Option<(u8, Vec<u8>)>> {
    let bad = |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, m.to_string());
    let mut head = [0u8; 2];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let opcode = head[0] & 0x0f;
    if head[1] & 0x80 == 0 {
        return Err(bad("client frame not masked"));
    }
    let len = match head[1] & 0x7f {
        126 => u64::from(r.read_u16().await?),
        127 => r.read_u64().await?,
        n => u64::from(n),
    };
    if len > MAX_FRAME {
        return Err(bad("frame too large"));
    }
    let mut mask = [0u8; 4];
    r.read_exact(&mut mask).await?;
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).await?;
    for (i, b) in payload.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
    Ok(Some((opcode, payload)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_rfc_6455s_example() {
        assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn frames_encode_their_length_in_three_sizes() {
        assert_eq!(&frame(BINARY, b"hi")[..], b"\x82\x02hi");
        assert_eq!(frame(TEXT, &[0; 200])[..4], [0x81, 126, 0, 200]);
        assert_eq!(frame(BINARY, &vec![0; 70_000])[..10], [0x82, 127, 0, 0, 0, 0, 0, 1, 0x11, 0x70]);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn masked_client_frames_are_unmasked_and_unmasked_ones_refused() {
        let masked = [0x82u8, 0x80 | 3, 1, 2, 3, 4, b'a' ^ 1, b'b' ^ 2, b'c' ^ 3];
        let mut r = &masked[..];
        assert_eq!(read_frame(&mut r).await.unwrap(), Some((BINARY, b"abc".to_vec())));
        assert_eq!(read_frame(&mut r).await.unwrap(), None);
        let mut plain = &b"\x82\x03abc"[..];
        assert!(read_frame(&mut plain).await.is_err());
    }
}
