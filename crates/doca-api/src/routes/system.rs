//! `/_ping`, `/version`, `/info`, `/events`, `/system/df`, `/auth`.

use super::Ctx;
use crate::http::{self, json, ApiError, ApiResult};
use doca_engine::events::{EventFilter, ListEvents};
use hyper::{Response, StatusCode};
use serde_json::json as j;
use std::io::Write;

/// dockerd's ping: `OK` (nothing for HEAD) with headers that tell the client what it may use.
/// `Builder-Version: 1`: the classic builder's `/build`; no BuildKit session is served.
pub fn ping(ctx: Ctx) -> ApiResult {
    let head = ctx.req.method() == hyper::Method::HEAD;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "text/plain; charset=utf-8")
        .header("Cache-Control", "no-cache, no-store, must-revalidate")
        .header("Pragma", "no-cache")
        .header("Builder-Version", "1")
        .body(http::full(if head { "" } else { "OK" }))
        .expect("response"))
}

pub async fn version() -> ApiResult {
    let v = crate::state::blocking(|| Ok(doca_engine::info::version())).await?;
    let components: Vec<serde_json::Value> = v
        .components
        .iter()
        .map(|c| {
            let mut d = j!({});
            if c.name == "Engine" {
                d = j!({
                    "ApiVersion": crate::API_VERSION,
                    "Arch": v.arch,
                    "Experimental": "false",
                    "KernelVersion": v.kernel_version,
                    "MinAPIVersion": crate::MIN_API_VERSION,
                    "Os": v.os,
                });
            }
            j!({ "Name": c.name, "Version": c.version, "Details": d })
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &j!({
            "Platform": { "Name": "doca" },
            "Components": components,
            "Version": v.version,
            "ApiVersion": crate::API_VERSION,
            "MinAPIVersion": crate::MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": "",
            "Os": v.os,
            "Arch": v.arch,
            "KernelVersion": v.kernel_version,
            "BuildTime": "",
        }),
    ))
}

pub async fn info(ctx: Ctx) -> ApiResult {
    let info = ctx.state.engine(|e| e.info()).await?;
    Ok(json(StatusCode::OK, &info))
}

/// docker's `since`/`until`: Unix seconds (with a fraction), as its CLI sends them, or the
/// CLI's own forms (RFC 3339, durations ago).
fn when(ctx: &Ctx, key: &str) -> ApiResult<Option<i128>> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    ctx.query.get(key).filter(|v| !v.is_empty()).map(|v| doca_engine::containers::parse_time(v, now).map_err(ApiError::from)).transpose()
}

/// `/events`: the store's event log (what the CLI and every server did), then new events as
/// they come, as JSON lines, until `until` or the client goes.
pub fn events(ctx: Ctx) -> ApiResult {
    let filters = ctx
        .query
        .filters()?
        .iter()
        .map(|f| EventFilter::parse(f))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let req = ListEvents { since: when(&ctx, "since")?, until: when(&ctx, "until")?, filters };
    let (mut w, body) = http::channel();
    let state = ctx.state;
    tokio::task::spawn_blocking(move || {
        let Ok(mut e) = state.lend() else { return };
        let _ = e.events(&req, |ev| {
            let mut line = serde_json::to_vec(ev).expect("json");
            line.push(b'\n');
            w.write_all(&line)
        });
    });
    Ok(Response::builder().status(StatusCode::OK).header("Content-Type", "application/json").body(body).expect("response"))
}

pub async fn df(ctx: Ctx) -> ApiResult {
    let v = ctx
        .state
        .engine(|e| {
            let usage = e.disk_usage()?;
            let containers = e.container_summaries(
                &doca_engine::containers::ListContainers { all: true, ..Default::default() },
                doca_engine::containers::SummaryOptions { size: true },
            )?;
            let images = super::images::summaries(e, &doca_engine::images::ListImages::default(), true)?;
            let mut volumes = Vec::new();
            for v in e.list_volumes(&[])? {
                let users = e.volume_users(&v.name)?.len();
                let mut r = serde_json::to_value(v.resource()).expect("json");
                r["UsageData"] = j!({ "Size": doca_engine::containers::list::dir_size(&v.mountpoint), "RefCount": users });
                volumes.push(r);
            }
            Ok(j!({
                "LayersSize": usage.images_size,
                "Images": images,
                "Containers": containers,
                "Volumes": volumes,
                "BuildCache": [],
            }))
        })
        .await?;
    Ok(json(StatusCode::OK, &v))
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "lowercase", default)]
struct AuthConfig {
    username: String,
    password: String,
    #[serde(alias = "identitytoken")]
    identity_token: String,
    #[serde(rename = "serveraddress")]
    server_address: String,
}

/// `/auth`: the credentials checked against the registry (not stored: the client keeps them).
pub async fn auth(ctx: Ctx) -> ApiResult {
    let Ctx { state, req, .. } = ctx;
    let a: AuthConfig = http::read_json(req.into_body()).await?;
    if !a.identity_token.is_empty() && a.password.is_empty() {
        return Err(ApiError::bad_request("identity tokens are not supported: log in with a username and password"));
    }
    let server = (!a.server_address.is_empty()).then_some(a.server_address);
    state.engine(move |e| e.check_credentials(server.as_deref(), &a.username, &a.password)).await.map_err(|e| {
        // dockerd answers a refused login with 401 and the registry's words.
        if e.status == StatusCode::BAD_REQUEST {
            ApiError::new(StatusCode::UNAUTHORIZED, e.message)
        } else {
            e
        }
    })?;
    Ok(json(StatusCode::OK, &j!({ "Status": "Login Succeeded", "IdentityToken": "" })))
}
