//! Start, attach, wait and resize: the four calls of a `docker run`. A client attaches (and
//! waits) before it starts the container; the start then hands the attach the monitor's
//! connection made before the process ran, so no first byte is lost.

use super::Ctx;
use crate::http::{self, empty, stdcopy, ApiError, ApiResult};
use crate::state::State;
use bytes::Bytes;
use doca_engine::containers::{Attach, AttachEvent, AttachStreams, DetachKeys, StartContainer, Status};
use doca_engine::EngineError;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};

pub async fn start(ctx: Ctx, id: String) -> ApiResult {
    let state = ctx.state;
    let c = state.container(&id).await?;
    if c.state.status == Status::Running {
        return Ok(empty(StatusCode::NOT_MODIFIED));
    }
    let cid = c.id.to_string();
    let mut waiting = state.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&cid).unwrap_or_default();
    let first = (!waiting.is_empty()).then(|| waiting.remove(0));
    let streams = first.as_ref().map(|(s, _)| *s);
    let started = state.engine(move |e| e.start_container(&cid, &StartContainer { attach: streams, console_size: None })).await;
    match started {
        Ok(attach) => {
            if let Some((_, tx)) = first {
                let _ = tx.send(attach);
            }
            for (_, tx) in waiting {
                let _ = tx.send(None);
            }
            Ok(empty(StatusCode::NO_CONTENT))
        }
        // The waiting attaches see their senders dropped: their streams end.
        Err(e) => Err(e),
    }
}

/// Where an attach gets its connection to the monitor.
enum Source {
    Ready(Attach),
    /// The container is not running yet: the start will hand it over.
    Pending(oneshot::Receiver<Option<Attach>>),
    /// `stream=0`: only the logs.
    Nothing,
}

/// The pending attach's connection, once the container starts (by an API start, which hands
/// it over, or by anyone else, seen on the record).
async fn connection(state: &Arc<State>, id: &str, streams: AttachStreams, source: Source) -> Option<Attach> {
    let mut rx = match source {
        Source::Ready(a) => return Some(a),
        Source::Nothing => return None,
        Source::Pending(rx) => rx,
    };
    loop {
        match tokio::time::timeout(Duration::from_millis(250), &mut rx).await {
            Ok(Ok(Some(a))) => return Some(a),
            // Started, and another attach took the early connection: connect now.
            Ok(Ok(None)) => break,
            // The start failed.
            Ok(Err(_)) => return None,
            Err(_) => {
                let live = state.container(id).await.ok().is_some_and(|c| c.state.status.is_live());
                if live {
                    break;
                }
            }
        }
    }
    let id = id.to_string();
    state.engine(move |e| e.attach_container(&id, streams).map(|(_, a)| a)).await.ok()
}

/// `attach`: with `Upgrade: tcp`, the connection becomes the container's stdio (stdcopy-framed
/// output without a terminal, raw with one; raw input); without it, the output as the body.
/// `attach/ws` (`ws`): the same over a websocket, the output raw in its frames (dockerd's).
pub async fn attach(mut ctx: Ctx, id: String, ws: bool) -> ApiResult {
    let ws_key = if ws {
        let upgrade = ctx.header("Upgrade").is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
        match ctx.header("Sec-WebSocket-Key").filter(|_| upgrade) {
            Some(k) => Some(crate::ws::accept_key(k)),
            None => return Err(ApiError::bad_request("attach/ws needs a websocket handshake (Upgrade: websocket, Sec-WebSocket-Key)")),
        }
    } else {
        None
    };
    // Text frames before API 1.42, binary after, as dockerd sends them.
    let ws_opcode = if ctx.at_least(1, 42) { crate::ws::BINARY } else { crate::ws::TEXT };
    let q = &ctx.query;
    let streams = AttachStreams { stdin: q.bool("stdin"), stdout: q.bool("stdout"), stderr: q.bool("stderr"), cleanup: false };
    let (stream, logs) = (q.bool("stream"), q.bool("logs"));
    let state = Arc::clone(&ctx.state);
    let c = state.container(&id).await?;
    let cid = c.id.to_string();
    // The detach keys end an attach to a terminal (not the container), as the CLI's do.
    let keys = if c.config.tty { DetachKeys::parse(ctx.query.get("detachKeys"))? } else { DetachKeys::default() };
    // A websocket carries the streams raw, unframed (dockerd's MuxStreams: false).
    let tty = c.config.tty || ws;
    let source = if !stream {
        Source::Nothing
    } else if c.state.status == Status::Paused {
        return Err(ApiError::new(StatusCode::CONFLICT, "You cannot attach to a paused container, unpause it first"));
    } else if c.state.status.is_live() {
        let id = cid.clone();
        Source::Ready(state.engine(move |e| e.attach_container(&id, streams).map(|(_, a)| a)).await?)
    } else {
        let (tx, rx) = oneshot::channel();
        state.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).entry(cid.clone()).or_default().push((streams, tx));
        Source::Pending(rx)
    };
    let on_upgrade = ctx.header("Upgrade").is_some().then(|| hyper::upgrade::on(&mut ctx.req));
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(64);
    let (in_tx, in_rx) = std::sync::mpsc::channel::<Option<Bytes>>();
    // Output: the logs first when asked, then the monitor's stream until the exit.
    {
        let state = Arc::clone(&state);
        let cid = cid.clone();
        tokio::spawn(async move {
            let mut w = http::writer(out_tx.clone());
            if logs {
                let (state, cid) = (Arc::clone(&state), cid.clone());
                let mut lw = http::writer(out_tx.clone());
                let _ = crate::state::blocking(move || {
                    let mut e = state.lend()?;
                    let _ = e.container_logs(&cid, &Default::default(), |entry| {
                        let s = if entry.stream == "stderr" { 2 } else { 1 };
                        if (s == 1 && !streams.stdout) || (s == 2 && !streams.stderr) {
                            return Ok(());
                        }
                        lw.write_all(&frame(tty, s, entry.log.as_bytes()))
                    });
                    Ok(())
                })
                .await;
            }
            let Some(att) = connection(&state, &cid, streams, source).await else { return };
            let input = if streams.stdin { att.input().ok() } else { None };
            let _ = crate::state::blocking(move || {
                pump(att, input, in_rx, tty, keys, &mut w);
                Ok(())
            })
            .await;
        });
    }
    if let Some(accept) = ws_key {
        let Some(on_upgrade) = on_upgrade else { return Err(ApiError::bad_request("attach/ws needs Upgrade: websocket")) };
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(up) => splice_ws(TokioIo::new(up), out_rx, in_tx, streams.stdin, ws_opcode).await,
                Err(e) => tracing::debug!("websocket upgrade: {e}"),
            }
        });
        return Ok(Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Accept", accept)
            .body(http::full(""))
            .expect("response"));
    }
    Ok(hijack(on_upgrade, out_rx, in_tx, streams.stdin))
}

/// A websocket joined to the streams: output chunks as data frames, data frames to stdin,
/// pings answered, a close answered and the end of the output sent as a close.
async fn splice_ws<IO>(io: IO, mut out_rx: mpsc::Receiver<Bytes>, in_tx: std::sync::mpsc::Sender<Option<Bytes>>, stdin: bool, opcode: u8)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    use crate::ws;
    let (mut rd, mut wr) = tokio::io::split(io);
    let (ctl_tx, mut ctl_rx) = mpsc::channel::<Bytes>(4);
    let reader = tokio::spawn(async move {
        let mut forward = stdin;
        while let Ok(Some((op, payload))) = ws::read_frame(&mut rd).await {
            match op {
                ws::CLOSE => {
                    let _ = ctl_tx.send(ws::frame(ws::CLOSE, &payload[..payload.len().min(2)])).await;
                    break;
                }
                ws::PING => {
                    let _ = ctl_tx.send(ws::frame(ws::PONG, &payload)).await;
                }
                ws::PONG => {}
                _ if forward => forward = in_tx.send(Some(Bytes::from(payload))).is_ok(),
                _ => {}
            }
        }
        if stdin {
            let _ = in_tx.send(None);
        }
    });
    loop {
        let chunk = tokio::select! {
            out = out_rx.recv() => match out {
                Some(b) => ws::frame(opcode, &b),
                None => break,
            },
            ctl = ctl_rx.recv() => match ctl {
                Some(c) => c,
                None => continue,
            },
        };
        if wr.write_all(&chunk).await.is_err() {
            reader.abort();
            return;
        }
    }
    // The container's output ended: a normal close (1000).
    let _ = wr.write_all(&ws::frame(ws::CLOSE, &1000u16.to_be_bytes())).await;
    let _ = wr.shutdown().await;
    let abort = reader.abort_handle();
    if tokio::time::timeout(Duration::from_secs(5), reader).await.is_err() {
        abort.abort();
    }
}

/// The answer to an attach or an exec start: with `Upgrade: tcp` the connection is hijacked
/// (`101`) and joined to the streams; without it, the output is the body of a `200`.
pub fn hijack(
    on_upgrade: Option<hyper::upgrade::OnUpgrade>,
    out_rx: mpsc::Receiver<Bytes>,
    in_tx: std::sync::mpsc::Sender<Option<Bytes>>,
    stdin: bool,
) -> http::Resp {
    let Some(on_upgrade) = on_upgrade else {
        return Response::builder()
            .status(StatusCode::OK)
            .header("Content-Type", "application/vnd.docker.raw-stream")
            .body(http_body_util::BodyExt::boxed_unsync(http::ChannelBody::new(out_rx)))
            .expect("response");
    };
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(up) => splice(TokioIo::new(up), out_rx, in_tx, stdin).await,
            Err(e) => tracing::debug!("upgrade: {e}"),
        }
    });
    upgraded_response()
}

/// dockerd's answer to a hijack: `101 UPGRADED` with the raw-stream type.
fn upgraded_response() -> http::Resp {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("Content-Type", "application/vnd.docker.raw-stream")
        .header("Connection", "Upgrade")
        .header("Upgrade", "tcp")
        .body(http::full(""))
        .expect("response")
}

/// Output chunks framed for the client: raw with a terminal, stdcopy without.
pub fn frame(tty: bool, stream: u8, data: &[u8]) -> Bytes {
    if tty {
        Bytes::copy_from_slice(data)
    } else {
        stdcopy(stream, data)
    }
}

/// Blocking: the monitor's events to the client, the client's input to the monitor.
fn pump(
    mut att: Attach,
    input: Option<doca_engine::containers::AttachInput>,
    in_rx: std::sync::mpsc::Receiver<Option<Bytes>>,
    tty: bool,
    mut keys: DetachKeys,
    w: &mut http::StreamWriter,
) {
    if let Some(mut input) = input {
        std::thread::spawn(move || {
            while let Ok(chunk) = in_rx.recv() {
                let Some(b) = chunk else {
                    let _ = input.close();
                    return;
                };
                let (data, detach) = keys.feed(&b);
                if input.write(&data).is_err() {
                    return;
                }
                if detach {
                    // The attach ends here (its output too); the container goes on.
                    input.detach();
                    return;
                }
            }
        });
    }
    while let Ok(Some(ev)) = att.next_event() {
        let chunk = match ev {
            AttachEvent::Stdout(b) => frame(tty, 1, &b),
            AttachEvent::Stderr(b) => frame(tty, 2, &b),
            AttachEvent::Exit(_) => break,
        };
        if w.write_all(&chunk).is_err() {
            return;
        }
    }
}

/// Joins a hijacked connection to the output channel and the input channel, until the output
/// ends (the container exited: the connection is closed, as dockerd does).
async fn splice<IO>(io: IO, mut out_rx: mpsc::Receiver<Bytes>, in_tx: std::sync::mpsc::Sender<Option<Bytes>>, stdin: bool)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(io);
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 32 * 1024];
        let mut forward = stdin;
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    if forward {
                        let _ = in_tx.send(None);
                    }
                    return;
                }
                // Once the process has gone, what the client still sends is read and dropped:
                // a socket closed with unread input is reset, and the client would lose the
                // end of the output with it.
                Ok(n) if forward => forward = in_tx.send(Some(Bytes::copy_from_slice(&buf[..n]))).is_ok(),
                Ok(_) => {}
            }
        }
    });
    while let Some(chunk) = out_rx.recv().await {
        if wr.write_all(&chunk).await.is_err() {
            break;
        }
    }
    let _ = wr.shutdown().await;
    // The client closes its side once it has read the end; a client that does not is left.
    let abort = reader.abort_handle();
    if tokio::time::timeout(Duration::from_secs(5), reader).await.is_err() {
        abort.abort();
    }
}

/// `resize`: the container's terminal (through its monitor).
pub async fn resize(ctx: Ctx, id: String) -> ApiResult {
    let (h, w) = (ctx.query.int("h")?.unwrap_or(0), ctx.query.int("w")?.unwrap_or(0));
    let (rows, cols) = (u16::try_from(h).unwrap_or(0), u16::try_from(w).unwrap_or(0));
    ctx.state
        .engine(move |e| {
            let c = e.container(&id)?;
            if c.state.status != Status::Running {
                return Err(EngineError::Conflict(format!("Container {} is not running", c.id)));
            }
            let (_, a) = e.attach_container(&id, AttachStreams::default())?;
            a.input()?.resize(rows, cols).map_err(|e| EngineError::Internal(format!("resize: {e}")))
        })
        .await?;
    Ok(empty(StatusCode::OK))
}

/// `wait`: the headers at once, `{"Error":null,"StatusCode":N}` when the condition is met.
pub async fn wait(ctx: Ctx, id: String) -> ApiResult {
    #[derive(Clone, Copy, PartialEq)]
    enum Until {
        NotRunning,
        NextExit,
        Removed,
    }
    let until = match ctx.query.get("condition").unwrap_or("") {
        "" | "not-running" => Until::NotRunning,
        "next-exit" => Until::NextExit,
        "removed" => Until::Removed,
        c => return Err(ApiError::bad_request(format!("invalid condition: \"{c}\""))),
    };
    let state = ctx.state;
    let first = state.container(&id).await?;
    let (mut w, body) = http::channel();
    tokio::task::spawn_blocking(move || {
        let Ok(mut e) = state.lend() else { return };
        let cid = first.id.to_string();
        let finished_before = first.state.finished_at.clone();
        let since = time::OffsetDateTime::now_utc().unix_timestamp_nanos() - 1_000_000_000;
        let mut code = None;
        // Until an exit that satisfies the condition (or the client goes).
        while code.is_none() && !w.closed() {
            let Ok(c) = e.container(&cid) else {
                // Removed (`--rm`) before this wait saw it exit: its die event has the code.
                code = e.last_exit_code(&cid, since);
                break;
            };
            if c.state.status.is_live() {
                if let Ok(Some(n)) = e.wait_container_for(&cid, Duration::from_millis(500)) {
                    code = Some(n);
                }
            } else if until == Until::NotRunning || c.state.finished_at != finished_before {
                code = Some(c.state.exit_code);
            } else {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        if until == Until::Removed {
            while !w.closed() && e.container(&cid).is_ok() {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let body = match code {
            Some(n) => serde_json::json!({ "Error": null, "StatusCode": n }),
            None if w.closed() => serde_json::json!({ "Error": { "Message": "context canceled" }, "StatusCode": -1 }),
            None => serde_json::json!({ "Error": { "Message": format!("No such container: {cid}") }, "StatusCode": -1 }),
        };
        let mut line = serde_json::to_vec(&body).expect("json");
        line.push(b'\n');
        let _ = w.write_all(&line);
    });
    Ok(Response::builder().status(StatusCode::OK).header("Content-Type", "application/json").body(body).expect("response"))
}
