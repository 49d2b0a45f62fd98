//! The routes: docker's paths to handlers, one module per family.

pub mod attach;
pub mod build;
pub mod containers;
pub mod create;
pub mod exec;
pub mod images;
pub mod networks;
pub mod system;
pub mod volumes;

use crate::http::{ApiError, ApiResult, Query};
use crate::state::State;
use hyper::body::Incoming;
use hyper::{Method, Request};
use std::sync::Arc;

/// What every handler gets: the request's parts it may read, and the shared state.
pub struct Ctx {
    pub state: Arc<State>,
    pub query: Query,
    pub version: Option<(u32, u32)>,
    pub req: Request<Incoming>,
}

impl Ctx {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.req.headers().get(name).and_then(|v| v.to_str().ok())
    }

    /// The API version the client speaks (the newest when its path has none).
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        self.version.is_none_or(|v| v >= (major, minor))
    }

    pub fn body(self) -> Incoming {
        self.req.into_body()
    }
}

pub async fn route(state: &Arc<State>, req: Request<Incoming>, path: &str, version: Option<(u32, u32)>) -> ApiResult {
    let method = req.method().clone();
    let query = Query::parse(req.uri().query());
    let ctx = Ctx { state: Arc::clone(state), query, version, req };
    // Names may hold slashes only as images do (`registry:5000/team/app`): image routes take
    // everything between their prefix and their suffix.
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let m = &method;
    match (m, segs.as_slice()) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => system::ping(ctx),
        (&Method::GET, ["version"]) => system::version().await,
        (&Method::GET, ["info"]) => system::info(ctx).await,
        (&Method::GET, ["events"]) => system::events(ctx),
        (&Method::GET, ["system", "df"]) => system::df(ctx).await,
        (&Method::POST, ["auth"]) => system::auth(ctx).await,

        (&Method::POST, ["build"]) => build::build(ctx).await,
        (&Method::POST, ["build", "prune"]) => build::prune(ctx).await,

        (&Method::GET, ["containers", "json"]) => containers::list(ctx).await,
        (&Method::POST, ["containers", "create"]) => create::create(ctx).await,
        (&Method::POST, ["containers", "prune"]) => containers::prune(ctx).await,
        (&Method::GET, ["containers", id, "json"]) => containers::inspect(ctx, id.to_string()).await,
        (&Method::GET, ["containers", id, "top"]) => containers::top(ctx, id.to_string()).await,
        (&Method::GET, ["containers", id, "logs"]) => containers::logs(ctx, id.to_string()).await,
        (&Method::GET, ["containers", id, "changes"]) => containers::changes(ctx, id.to_string()).await,
        (&Method::GET, ["containers", id, "export"]) => containers::export(ctx, id.to_string()).await,
        (&Method::GET, ["containers", id, "stats"]) => containers::stats(ctx, id.to_string()).await,
        (&Method::POST, ["containers", id, "resize"]) => attach::resize(ctx, id.to_string()).await,
        (&Method::POST, ["containers", id, "start"]) => attach::start(ctx, id.to_string()).await,
        (&Method::POST, ["containers", id, "stop"]) => containers::stop(ctx, id.to_string()).await,
        (&Method::POST, ["containers", id, "restart"]) => containers::restart(ctx, id.to_string()).await,
        (&Method::POST, ["containers", id, "kill"]) => containers::kill(ctx, id.to_string()).await,
        (&Method::POST, ["containers", id, "update"]) => containers::update(ctx, id.to_string()).await,
        (&Method::POST, ["containers", id, "rename"]) => containers::rename(ctx, id.to_string()).await,
        (&Method::POST, ["containers", id, "pause"]) => containers::pause(ctx, id.to_string(), true).await,
        (&Method::POST, ["containers", id, "unpause"]) => containers::pause(ctx, id.to_string(), false).await,
        (&Method::POST, ["containers", id, "attach"]) => attach::attach(ctx, id.to_string(), false).await,
        (&Method::GET, ["containers", id, "attach", "ws"]) => attach::attach(ctx, id.to_string(), true).await,
        (&Method::POST, ["containers", id, "wait"]) => attach::wait(ctx, id.to_string()).await,
        (&Method::DELETE, ["containers", id]) => containers::remove(ctx, id.to_string()).await,
        (&Method::HEAD, ["containers", id, "archive"]) => containers::archive_stat(ctx, id.to_string()).await,
        (&Method::GET, ["containers", id, "archive"]) => containers::archive_get(ctx, id.to_string()).await,
        (&Method::PUT, ["containers", id, "archive"]) => containers::archive_put(ctx, id.to_string()).await,
        (&Method::POST, ["containers", id, "exec"]) => exec::create(ctx, id.to_string()).await,

        (&Method::POST, ["exec", id, "start"]) => exec::start(ctx, id.to_string()).await,
        (&Method::POST, ["exec", id, "resize"]) => exec::resize(ctx, id.to_string()),
        (&Method::GET, ["exec", id, "json"]) => exec::inspect(ctx, id.to_string()),

        (&Method::GET, ["images", "json"]) => images::list(ctx).await,
        (&Method::POST, ["images", "create"]) => images::create(ctx).await,
        (&Method::POST, ["images", "load"]) => images::load(ctx).await,
        (&Method::POST, ["images", "prune"]) => images::prune(ctx).await,
        (&Method::GET, ["images", "get"]) => images::get(ctx, None).await,
        (&Method::GET, ["images", "search"]) => {
            Err(ApiError::internal("doca has no index to search: image search needs a registry's search service, which doca does not query"))
        }
        (&Method::GET, ["images", name @ .., "json"]) if !name.is_empty() => images::inspect(ctx, name.join("/")).await,
        (&Method::GET, ["images", name @ .., "history"]) if !name.is_empty() => images::history(ctx, name.join("/")).await,
        (&Method::GET, ["images", name @ .., "get"]) if !name.is_empty() => images::get(ctx, Some(name.join("/"))).await,
        (&Method::POST, ["images", name @ .., "tag"]) if !name.is_empty() => images::tag(ctx, name.join("/")).await,
        (&Method::POST, ["images", name @ .., "push"]) if !name.is_empty() => images::push(ctx, name.join("/")).await,
        (&Method::DELETE, ["images", name @ ..]) if !name.is_empty() => images::remove(ctx, name.join("/")).await,
        (&Method::GET, ["distribution", name @ .., "json"]) if !name.is_empty() => images::distribution(ctx, name.join("/")).await,
        (&Method::POST, ["commit"]) => images::commit(ctx).await,

        (&Method::GET, ["volumes"]) => volumes::list(ctx).await,
        (&Method::POST, ["volumes", "create"]) => volumes::create(ctx).await,
        (&Method::POST, ["volumes", "prune"]) => volumes::prune(ctx).await,
        (&Method::GET, ["volumes", name]) => volumes::inspect(ctx, name.to_string()).await,
        (&Method::DELETE, ["volumes", name]) => volumes::remove(ctx, name.to_string()).await,

        (&Method::GET, ["networks"]) => networks::list(ctx).await,
        (&Method::POST, ["networks", "create"]) => networks::create(ctx).await,
        (&Method::POST, ["networks", "prune"]) => networks::prune(ctx).await,
        (&Method::GET, ["networks", id]) => networks::inspect(ctx, id.to_string()).await,
        (&Method::DELETE, ["networks", id]) => networks::remove(ctx, id.to_string()).await,
        (&Method::POST, ["networks", id, "connect"]) => networks::connect(ctx, id.to_string()).await,
        (&Method::POST, ["networks", id, "disconnect"]) => networks::disconnect(ctx, id.to_string()).await,

        // A node that is not in a swarm, as dockerd answers: clients that probe carry on.
        (_, ["swarm", ..] | ["nodes", ..] | ["services", ..] | ["tasks", ..] | ["secrets", ..] | ["configs", ..]) => Err(ApiError::new(
            hyper::StatusCode::SERVICE_UNAVAILABLE,
            "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to connect this node to swarm and try again.",
        )),
        (&Method::GET, ["plugins"]) => Ok(crate::http::json(hyper::StatusCode::OK, &Vec::<()>::new())),
        _ => Err(ApiError::not_found(format!("page not found: {method} {path}"))),
    }
}
