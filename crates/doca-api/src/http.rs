//! The HTTP plumbing every route shares: bodies (whole or streamed from a blocking engine
//! call), query parameters as dockerd reads them, and docker's error bodies.

use bytes::Bytes;
use doca_engine::{EngineError, ErrorKind};
use http_body::{Body as _, Frame};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, Infallible>;
pub type Resp = Response<Body>;

/// What a request body may hold when it is read whole (JSON bodies): larger is refused.
const MAX_JSON: usize = 16 << 20;

/// An API failure: docker's status and `{"message": ...}`.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into() }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }

    pub fn response(&self) -> Resp {
        let mut body = serde_json::to_vec(&serde_json::json!({ "message": self.message })).expect("json");
        body.push(b'\n');
        Response::builder().status(self.status).header("Content-Type", "application/json").body(full(body)).expect("response")
    }
}

/// Each engine error kind has one status, as dockerd's errdefs map them.
impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match e.kind() {
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            // dockerd answers a start whose command cannot run with 400 (errdefs.InvalidParameter);
            // its CLI reads 126/127 from the message, which keeps the runtime's words.
            ErrorKind::CannotInvoke | ErrorKind::CommandNotFound => StatusCode::BAD_REQUEST,
            ErrorKind::InvalidArgument | ErrorKind::Usage | ErrorKind::BadInput => StatusCode::BAD_REQUEST,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    }
}

pub type ApiResult<T = Resp> = Result<T, ApiError>;

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into()).boxed_unsync()
}

pub fn empty(status: StatusCode) -> Resp {
    Response::builder().status(status).body(full(Bytes::new())).expect("response")
}

/// A JSON answer, as dockerd writes it (a trailing newline).
pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Resp {
    let mut body = serde_json::to_vec(value).expect("json");
    body.push(b'\n');
    Response::builder().status(status).header("Content-Type", "application/json").body(full(body)).expect("response")
}

/// A body fed chunk by chunk from elsewhere (a blocking engine call): each chunk is sent to the
/// client as it comes (chunked transfer), so progress and logs show live.
pub struct ChannelBody {
    /// A chunk already taken from the channel (to see that a stream had begun), sent first.
    first: Option<Bytes>,
    rx: mpsc::Receiver<Bytes>,
}

impl ChannelBody {
    pub fn new(rx: mpsc::Receiver<Bytes>) -> ChannelBody {
        ChannelBody { first: None, rx }
    }

    pub fn starting_with(first: Bytes, rx: mpsc::Receiver<Bytes>) -> ChannelBody {
        ChannelBody { first: Some(first), rx }
    }
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(b) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(b))));
        }
        self.rx.poll_recv(cx).map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

/// The writing end of a streamed body, for blocking code: `write` fails with BrokenPipe once
/// the client has gone, which ends the engine call that writes (logs, events, pulls).
pub struct StreamWriter(mpsc::Sender<Bytes>);

impl StreamWriter {
    pub fn closed(&self) -> bool {
        self.0.is_closed()
    }
}

impl std::io::Write for StreamWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.0.blocking_send(Bytes::copy_from_slice(buf)).map_err(|_| std::io::Error::from(std::io::ErrorKind::BrokenPipe))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A writer into an existing channel.
pub fn writer(tx: mpsc::Sender<Bytes>) -> StreamWriter {
    StreamWriter(tx)
}

/// A streamed body and the writer that feeds it.
pub fn channel() -> (StreamWriter, Body) {
    let (tx, rx) = mpsc::channel(64);
    (StreamWriter(tx), ChannelBody::new(rx).boxed_unsync())
}

/// JSON lines of progress (pull, push, load, build, import), as dockerd's streamformatter
/// writes them; whether any line went out decides how a failure is told.
pub struct Progress {
    w: StreamWriter,
    pub wrote: bool,
}

impl Progress {
    pub fn line(&mut self, v: &serde_json::Value) -> std::io::Result<()> {
        let mut b = serde_json::to_vec(v).expect("json");
        b.push(b'\n');
        self.wrote = true;
        std::io::Write::write_all(&mut self.w, &b)
    }

    /// A failure after the stream began: docker's errorDetail line.
    pub fn error(&mut self, message: &str) {
        let _ = self.line(&serde_json::json!({ "errorDetail": { "message": message }, "error": message }));
    }
}

/// Runs `f` (blocking) with a progress stream. A failure before any line is an error status
/// (dockerd sends its headers with the first line); after, an errorDetail line in the stream.
pub async fn progress<F>(state: std::sync::Arc<crate::state::State>, f: F) -> ApiResult
where
    F: FnOnce(&mut doca_engine::Engine, &mut Progress) -> Result<(), ApiError> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel(64);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<Result<(), ApiError>>();
    tokio::task::spawn_blocking(move || {
        let mut p = Progress { w: StreamWriter(tx), wrote: false };
        let r = state.lend().and_then(|mut e| f(&mut e, &mut p));
        match r {
            Err(e) if p.wrote => p.error(&e.message),
            r => {
                let _ = done_tx.send(r);
            }
        }
    });
    let mut done_rx = done_rx;
    let first = tokio::select! {
        first = rx.recv() => first,
        done = &mut done_rx => {
            done.unwrap_or(Ok(()))?;
            return Ok(progress_response(ChannelBody::new(rx)));
        }
    };
    // The channel closed without a line: the call ended, and its result says how.
    if first.is_none() {
        done_rx.await.unwrap_or(Ok(()))?;
    }
    Ok(progress_response(match first {
        Some(b) => ChannelBody::starting_with(b, rx),
        None => ChannelBody::new(rx),
    }))
}

fn progress_response(body: ChannelBody) -> Resp {
    Response::builder().status(StatusCode::OK).header("Content-Type", "application/json").body(body.boxed_unsync()).expect("response")
}

/// A request body read whole, at most [`MAX_JSON`] bytes.
pub async fn read_body(body: Incoming) -> ApiResult<Bytes> {
    if body.size_hint().lower() > MAX_JSON as u64 {
        return Err(ApiError::bad_request("request body too large"));
    }
    let limited = http_body_util::Limited::new(body, MAX_JSON);
    match limited.collect().await {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) => Err(ApiError::bad_request(format!("read request body: {e}"))),
    }
}

/// A JSON request body as `T`; an empty body is `T::default()`, as dockerd takes it.
pub async fn read_json<T: serde::de::DeserializeOwned + Default>(body: Incoming) -> ApiResult<T> {
    let bytes = read_body(body).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    let mut v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))?;
    strip_nulls(&mut v);
    serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("invalid JSON: {e}")))
}

/// Go's decoder leaves a field at its zero value for a JSON null; clients send nulls for
/// unset fields (docker-py's `"Gateway": null`), so nulls are dropped before decoding.
fn strip_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// A request body as a blocking reader (archives, build contexts, image tarballs): frames are
/// pulled from the connection as the reader asks for them.
pub struct BodyReader {
    rx: mpsc::Receiver<Result<Bytes, String>>,
    current: Bytes,
}

impl BodyReader {
    pub fn new(mut body: Incoming) -> BodyReader {
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            while let Some(frame) = body.frame().await {
                let item = match frame {
                    Ok(f) => match f.into_data() {
                        Ok(d) => Ok(d),
                        Err(_) => continue,
                    },
                    Err(e) => Err(e.to_string()),
                };
                if tx.send(item).await.is_err() {
                    return;
                }
            }
        });
        BodyReader { rx, current: Bytes::new() }
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(b)) => self.current = b,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

/// Query parameters, percent-decoded, in order.
#[derive(Debug, Default, Clone)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(q: Option<&str>) -> Query {
        Query(
            q.unwrap_or("")
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// dockerd's httputils.BoolValue: absent, "", "0", "no", "false" and "none" are false.
    pub fn bool(&self, key: &str) -> bool {
        self.get(key).is_some_and(|v| !matches!(v.to_ascii_lowercase().as_str(), "" | "0" | "no" | "false" | "none"))
    }

    /// A bool that defaults to true when absent (`stdout` of logs for old clients, `rm` of build).
    pub fn bool_or(&self, key: &str, default: bool) -> bool {
        if self.get(key).is_none() {
            default
        } else {
            self.bool(key)
        }
    }

    pub fn int(&self, key: &str) -> ApiResult<Option<i64>> {
        match self.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v:?}"))),
        }
    }

    /// `filters`: docker's JSON map of sets (`{"label":{"a=b":true}}`) or docker-py's map of
    /// lists (`{"label":["a=b"]}`), as `key=value` strings.
    pub fn filters(&self) -> ApiResult<Vec<String>> {
        let Some(raw) = self.get("filters").filter(|f| !f.is_empty()) else { return Ok(Vec::new()) };
        let v: serde_json::Value = serde_json::from_str(raw).map_err(|e| ApiError::bad_request(format!("invalid filter: {e}")))?;
        let obj = v.as_object().ok_or_else(|| ApiError::bad_request("invalid filter: not an object"))?;
        let mut out = Vec::new();
        for (k, vals) in obj {
            match vals {
                serde_json::Value::Object(m) => {
                    out.extend(m.iter().filter(|(_, on)| on.as_bool() != Some(false)).map(|(v, _)| format!("{k}={v}")));
                }
                serde_json::Value::Array(a) => {
                    for v in a {
                        let v = v.as_str().ok_or_else(|| ApiError::bad_request(format!("invalid filter value for {k}")))?;
                        out.push(format!("{k}={v}"));
                    }
                }
                serde_json::Value::String(s) => out.push(format!("{k}={s}")),
                _ => return Err(ApiError::bad_request(format!("invalid filter value for {k}"))),
            }
        }
        Ok(out)
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() && b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit() => {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(b[i + 1]) << 4 | hex(b[i + 2]));
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// docker's stdcopy framing of one chunk of a stream (1 stdout, 2 stderr): an 8-byte header
/// (stream, three zeros, big-endian length), then the bytes.
pub fn stdcopy(stream: u8, data: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(8 + data.len());
    v.extend_from_slice(&[stream, 0, 0, 0]);
    v.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    v.extend_from_slice(data);
    v.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_read_both_forms() {
        let q = Query::parse(Some("filters=%7B%22label%22%3A%7B%22tr%3D1%22%3Atrue%7D%7D"));
        assert_eq!(q.filters().unwrap(), vec!["label=tr=1"]);
        let q = Query::parse(Some("filters={\"label\":[\"a=b\",\"c\"],\"status\":[\"exited\"]}"));
        assert_eq!(q.filters().unwrap(), vec!["label=a=b", "label=c", "status=exited"]);
        assert!(Query::parse(Some("filters=[1]")).filters().is_err());
    }

    #[test]
    fn query_values_decode_and_bools_read_as_dockerd() {
        let q = Query::parse(Some("t=name%3Atag&a=1&b=false&c=&d=no&e=True&x=%zz"));
        assert_eq!(q.get("t"), Some("name:tag"));
        assert!(q.bool("a") && !q.bool("b") && !q.bool("c") && !q.bool("d") && q.bool("e") && !q.bool("missing"));
        assert_eq!(q.get("x"), Some("%zz"));
    }

    #[test]
    fn stdcopy_frames_as_docker() {
        assert_eq!(&stdcopy(1, b"hi\n")[..], b"\x01\x00\x00\x00\x00\x00\x00\x03hi\n");
    }
}
