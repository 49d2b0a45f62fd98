//! `doca serve`: Docker's Engine API (v1.24 to v1.47, as dockerd 20.10+ serves it) over doca's
//! engine. The handlers are a thin layer: each parses docker's request, calls the same engine
//! function the CLI calls (on tokio's blocking pool, never on the reactor) and writes docker's
//! answer. Containers never depend on this process: they live under their monitors, and every
//! state is in the store, so a server killed at any moment loses nothing a new one cannot see.

// Only `listen.rs` takes ownership of the descriptors systemd passes by number.
#![deny(unsafe_code)]

mod http;
mod listen;
mod memory;
mod routes;
mod state;
mod ws;

pub use listen::{Endpoint, ListenError, Tls};

use doca_engine::EngineConfig;
use http::{ApiError, Resp};
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use std::sync::Arc;
use std::time::Duration;

/// The newest and oldest API versions served (dockerd 27's range starts at 1.24).
pub const API_VERSION: &str = "1.47";
pub const MIN_API_VERSION: &str = "1.24";

/// What `doca serve` was asked for.
#[derive(Debug, Clone)]
pub struct Serve {
    pub engine: EngineConfig,
    /// Where to listen; systemd's sockets (`LISTEN_FDS`) are taken besides.
    pub endpoints: Vec<Endpoint>,
    pub tls: Option<Tls>,
    /// Plain TCP without TLS: refused unless asked for, with a warning at every start.
    pub insecure_tcp: bool,
    /// Exit after this long without a connection (socket activation); `None`: never.
    pub idle_timeout: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error(transparent)]
    Engine(#[from] doca_engine::EngineError),
    #[error("start the server: {0}")]
    Runtime(std::io::Error),
}

/// Serves until the idle timeout (or for ever). Blocks the calling thread.
pub fn serve(req: Serve) -> Result<(), ServeError> {
    memory::limit_arenas();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        // Streams (attach, logs, events, wait) each hold a blocking thread while they last.
        .max_blocking_threads(1024)
        .thread_keep_alive(Duration::from_secs(2))
        .build()
        .map_err(ServeError::Runtime)?;
    rt.block_on(async move {
        let listeners = listen::bind(&req)?;
        let state = Arc::new(state::State::new(req.engine.clone())?);
        for l in listeners {
            tokio::spawn(listen::accept_loop(l, Arc::clone(&state)));
        }
        // Every quarter second: once idle (and the blocking threads, kept 2 s, gone), the
        // heap's free pages go back, once per idle spell; after the idle timeout, it exits.
        let mut trimmed = false;
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            match state.idle_for() {
                None => trimmed = false,
                Some(d) if req.idle_timeout.is_some_and(|limit| d >= limit) => {
                    tracing::info!("idle for {d:?}: exiting");
                    return Ok(());
                }
                Some(d) if !trimmed && d >= Duration::from_secs(3) => {
                    memory::trim();
                    trimmed = true;
                }
                Some(_) => {}
            }
        }
    })
}

/// A version of the API as "1.41": parsed to compare.
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Strips `/vX.Y` and checks the version against what is served (dockerd's messages).
fn versioned(path: &str) -> Result<(String, Option<(u32, u32)>), ApiError> {
    let Some(rest) = path.strip_prefix("/v") else { return Ok((path.to_string(), None)) };
    let (v, tail) = rest.split_once('/').map(|(v, t)| (v, format!("/{t}"))).unwrap_or((rest, "/".to_string()));
    let Some(version) = parse_version(v) else { return Ok((path.to_string(), None)) };
    let max = parse_version(API_VERSION).expect("version");
    let min = parse_version(MIN_API_VERSION).expect("version");
    if version > max {
        return Err(ApiError::bad_request(format!("client version {v} is too new. Maximum supported API version is {API_VERSION}")));
    }
    if version < min {
        return Err(ApiError::bad_request(format!(
            "client version {v} is too old. Minimum supported API version is {MIN_API_VERSION}, please upgrade your client to a newer version"
        )));
    }
    Ok((tail, Some(version)))
}

/// Every request: version, route, docker's headers on the answer.
async fn handle(state: Arc<state::State>, req: Request<Incoming>) -> Result<Resp, std::convert::Infallible> {
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let raw_path = req.uri().path().to_string();
    let mut resp = match versioned(&raw_path) {
        Ok((path, version)) => match routes::route(&state, req, &path, version).await {
            Ok(r) => r,
            Err(e) => e.response(),
        },
        Err(e) => e.response(),
    };
    let h = resp.headers_mut();
    h.insert("Api-Version", hyper::header::HeaderValue::from_static(API_VERSION));
    h.insert("Docker-Experimental", hyper::header::HeaderValue::from_static("false"));
    h.insert("Ostype", hyper::header::HeaderValue::from_static("linux"));
    h.insert("Server", hyper::header::HeaderValue::from_static(concat!("doca/", env!("CARGO_PKG_VERSION"), " (linux)")));
    if resp.status() >= StatusCode::INTERNAL_SERVER_ERROR {
        tracing::warn!(%method, path = %raw_path, status = resp.status().as_u16(), "request failed");
    } else {
        tracing::debug!(%method, path = %raw_path, status = resp.status().as_u16(), elapsed = ?started.elapsed(), "request");
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_outside_the_range_get_dockerds_messages() {
        assert_eq!(super::versioned("/v1.41/containers/json").unwrap(), ("/containers/json".into(), Some((1, 41))));
        assert_eq!(super::versioned("/_ping").unwrap(), ("/_ping".into(), None));
        assert_eq!(
            super::versioned("/v1.99/info").unwrap_err().message,
            "client version 1.99 is too new. Maximum supported API version is 1.47"
        );
        assert!(super::versioned("/v1.11/info").unwrap_err().message.starts_with("client version 1.11 is too old."));
        // Not a version: a path like any other (and a 404 later).
        assert_eq!(super::versioned("/volumes").unwrap().0, "/volumes");
    }
}
