//! What the server shares between requests: engines to lend to blocking calls, exec
//! instances (dockerd keeps them in memory too), attach clients waiting for a start, and how
//! busy it is (for `--timeout`).

use crate::http::{ApiError, ApiResult};
use doca_engine::containers::Attach;
use doca_engine::{Engine, EngineConfig, EngineError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::oneshot;

/// An attach that came before the container's start: the start hands it the monitor's
/// connection made before the process ran (no first byte lost), or `None` to connect itself.
pub type PendingAttach = oneshot::Sender<Option<Attach>>;

pub struct State {
    config: EngineConfig,
    /// Opened engines, each used by one call at a time: an engine is a SQLite connection and
    /// the store's handles, cheap to keep and not free to open per request.
    pool: Mutex<Vec<Engine>>,
    pub execs: Mutex<HashMap<String, Arc<crate::routes::exec::ExecInstance>>>,
    pub pending: Mutex<HashMap<String, Vec<(doca_engine::containers::AttachStreams, PendingAttach)>>>,
    connections: AtomicUsize,
    idle_since: Mutex<Instant>,
}

/// An engine borrowed from the pool, given back when dropped.
pub struct Lent<'a> {
    state: &'a State,
    engine: Option<Engine>,
}

impl std::ops::Deref for Lent<'_> {
    type Target = Engine;
    fn deref(&self) -> &Engine {
        self.engine.as_ref().expect("engine")
    }
}

impl std::ops::DerefMut for Lent<'_> {
    fn deref_mut(&mut self) -> &mut Engine {
        self.engine.as_mut().expect("engine")
    }
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        if let Some(e) = self.engine.take() {
            let mut pool = self.state.pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // A burst of clients opened more; keep a few for the next one.
            if pool.len() < 8 {
                pool.push(e);
            }
        }
    }
}

impl State {
    pub fn new(config: EngineConfig) -> Result<State, EngineError> {
        let first = Engine::open(config.clone())?;
        Ok(State {
            config,
            pool: Mutex::new(vec![first]),
            execs: Mutex::default(),
            pending: Mutex::default(),
            connections: AtomicUsize::new(0),
            idle_since: Mutex::new(Instant::now()),
        })
    }

    /// An engine for blocking code (already off the reactor).
    pub fn lend(&self) -> Result<Lent<'_>, ApiError> {
        let pooled = self.pool.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        let engine = match pooled {
            Some(e) => e,
            None => Engine::open(self.config.clone())?,
        };
        Ok(Lent { state: self, engine: Some(engine) })
    }

    /// Runs `f` with an engine on the blocking pool: engine calls block (SQLite, the runtime,
    /// the disk) and must never hold the reactor.
    pub async fn engine<T, F>(self: &Arc<Self>, f: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Engine) -> Result<T, EngineError> + Send + 'static,
    {
        let state = Arc::clone(self);
        blocking(move || {
            let mut e = state.lend()?;
            f(&mut e).map_err(ApiError::from)
        })
        .await
    }

    /// A container's record (a handler's question before it acts, or answers by state).
    pub async fn container(self: &Arc<Self>, id: &str) -> ApiResult<doca_engine::containers::Container> {
        let id = id.to_string();
        self.engine(move |e| e.container(&id)).await
    }

    pub fn connection_opened(&self) {
        self.connections.fetch_add(1, Ordering::SeqCst);
    }

    pub fn connection_closed(&self) {
        if self.connections.fetch_sub(1, Ordering::SeqCst) == 1 {
            *self.idle_since.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Instant::now();
        }
    }

    /// How long no connection has been open; `None` while one is.
    pub fn idle_for(&self) -> Option<std::time::Duration> {
        (self.connections.load(Ordering::SeqCst) == 0)
            .then(|| self.idle_since.lock().unwrap_or_else(std::sync::PoisonError::into_inner).elapsed())
    }
}

/// Runs blocking code on tokio's blocking pool.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> ApiResult<T> + Send + 'static) -> ApiResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) => Err(ApiError::internal(format!("engine call failed: {e}"))),
    }
}
