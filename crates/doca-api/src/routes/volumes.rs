//! `/volumes/...`: docker's local driver, as `doca volume` manages it.

use super::Ctx;
use crate::http::{self, json, ApiError, ApiResult};
use doca_engine::volumes::{CreateVolume, VolumeFilter};
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::json as j;
use std::collections::BTreeMap;

pub async fn list(ctx: Ctx) -> ApiResult {
    let filters = ctx.query.filters()?.iter().map(|f| VolumeFilter::parse(f)).collect::<Result<Vec<_>, _>>()?;
    let vols = ctx.state.engine(move |e| e.list_volumes(&filters)).await?;
    let list: Vec<_> = vols.iter().map(doca_engine::volumes::Volume::resource).collect();
    Ok(json(StatusCode::OK, &j!({ "Volumes": list, "Warnings": null })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    name: String,
    driver: String,
    #[serde(alias = "DriverOpts")]
    driver_opts: BTreeMap<String, String>,
    labels: BTreeMap<String, String>,
}

pub async fn create(ctx: Ctx) -> ApiResult {
    let Ctx { state, req, .. } = ctx;
    let b: CreateBody = http::read_json(req.into_body()).await?;
    let req = CreateVolume {
        name: (!b.name.is_empty()).then_some(b.name),
        driver: (!b.driver.is_empty()).then_some(b.driver),
        labels: b.labels,
        options: b.driver_opts,
        anonymous: false,
    };
    let v = state.engine(move |e| e.create_volume(&req)).await?;
    Ok(json(StatusCode::CREATED, &v.resource()))
}

pub async fn inspect(ctx: Ctx, name: String) -> ApiResult {
    let v = ctx.state.engine(move |e| e.volume(&name)).await?;
    Ok(json(StatusCode::OK, &v.resource()))
}

pub async fn remove(ctx: Ctx, name: String) -> ApiResult {
    let force = ctx.query.bool("force");
    ctx.state.engine(move |e| e.remove_volume(&name, force)).await?;
    Ok(http::empty(StatusCode::NO_CONTENT))
}

/// `prune`: anonymous unused volumes, or every unused one with `all=true` (API 1.42+'s filter).
pub async fn prune(ctx: Ctx) -> ApiResult {
    let mut args = ctx.query.filters()?;
    let all = args.iter().any(|a| a == "all=true" || a == "all=1");
    args.retain(|a| !a.starts_with("all="));
    let filters = doca_engine::prune::PruneFilters::from_args(&args)?;
    if args.iter().any(|a| a.starts_with("until=")) {
        return Err(ApiError::bad_request("invalid filter 'until'"));
    }
    let (names, space) = ctx.state.engine(move |e| e.prune_volumes(all, &filters)).await?;
    Ok(json(
        StatusCode::OK,
        &j!({ "VolumesDeleted": if names.is_empty() { serde_json::Value::Null } else { j!(names) }, "SpaceReclaimed": space }),
    ))
}
