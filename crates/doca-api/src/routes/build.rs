//! `POST /build`: the classic builder's API (what `DOCKER_BUILDKIT=0 docker build`, compose
//! and the SDKs use): the context as a tar in the body, options in the query, and the output
//! as `{"stream": ...}` lines, `{"aux":{"ID": ...}}`, or an `errorDetail`.

use super::Ctx;
use crate::http::{self, ApiError, ApiResult, BodyReader, Progress};
use doca_engine::build::{BuildImage, Plain};
use serde_json::json as j;
use std::collections::BTreeMap;

/// Text the builder writes, as the classic builder's `stream` messages.
struct StreamLines<'a>(&'a mut Progress);

impl std::io::Write for StreamLines<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.line(&j!({ "stream": String::from_utf8_lossy(buf) }))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A JSON map in a query parameter (`buildargs`, `labels`); null values are left out (docker's
/// "argument given without a value", taken from nowhere here).
fn json_map(ctx: &Ctx, key: &str) -> ApiResult<BTreeMap<String, String>> {
    let Some(raw) = ctx.query.get(key).filter(|v| !v.is_empty()) else { return Ok(BTreeMap::new()) };
    let m: BTreeMap<String, Option<String>> =
        serde_json::from_str(raw).map_err(|e| ApiError::bad_request(format!("invalid {key}: {e}")))?;
    Ok(m.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))).collect())
}

fn random_id() -> ApiResult<String> {
    Ok(doca_engine::containers::ContainerId::random()?.as_str()[..16].to_string())
}

pub async fn build(ctx: Ctx) -> ApiResult {
    let q = &ctx.query;
    if q.get("version") == Some("2") {
        return Err(ApiError::bad_request("BuildKit is not served (Builder-Version 1): build with DOCKER_BUILDKIT=0"));
    }
    if q.get("remote").is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::bad_request("remote build contexts are not supported: send the context in the body"));
    }
    if let Some(p) = q.get("platform").filter(|p| !p.is_empty() && !matches!(*p, "linux/amd64" | "linux/x86_64" | "amd64" | "linux")) {
        return Err(ApiError::bad_request(format!("platform {p:?} is not supported: doca builds for linux/amd64 (this host)")));
    }
    let network = match q.get("networkmode").unwrap_or("") {
        "" | "default" | "bridge" => "default",
        "none" => "none",
        "host" => "host",
        n => return Err(ApiError::bad_request(format!("network mode {n:?} not supported by the builder (default, none, host)"))),
    };
    let build_args = json_map(&ctx, "buildargs")?;
    let epoch = match build_args.get("SOURCE_DATE_EPOCH") {
        Some(v) => Some(
            v.trim()
                .parse::<i64>()
                .map_err(|_| ApiError::bad_request(format!("invalid SOURCE_DATE_EPOCH {v:?}: want seconds since 1970")))?,
        ),
        None => None,
    };
    let req = BuildImage {
        tags: q.all("t").filter(|t| !t.is_empty()).map(String::from).collect(),
        build_args,
        target: q.get("target").filter(|t| !t.is_empty()).map(String::from),
        no_cache: q.bool("nocache"),
        labels: json_map(&ctx, "labels")?,
        network: network.into(),
        platform: None,
        epoch,
        build_id: random_id()?,
        cgroup_parent: q.get("cgroupparent").filter(|c| !c.is_empty()).map(String::from),
        pull: if q.bool("pull") { "always" } else { "missing" }.into(),
        ..Default::default()
    };
    let dockerfile = q.get("dockerfile").unwrap_or("Dockerfile").to_string();
    let quiet = q.bool("q");
    let mut body = BodyReader::new(ctx.req.into_body());
    http::progress(ctx.state, move |e, p| {
        let built = if quiet {
            e.build_image_from_archive(req, &dockerfile, &mut body, &mut Plain(std::io::sink()))
        } else {
            e.build_image_from_archive(req, &dockerfile, &mut body, &mut Plain(StreamLines(p)))
        };
        // A failure after the first line is an errorDetail line, as the classic builder's.
        let built = built?;
        if quiet {
            let _ = p.line(&j!({ "stream": format!("{}\n", built.id) }));
            return Ok(());
        }
        if !built.unused_args.is_empty() {
            let _ = p
                .line(&j!({ "stream": format!("[Warning] One or more build-args [{}] were not consumed\n", built.unused_args.join(" ")) }));
        }
        let _ = p.line(&j!({ "aux": { "ID": built.id.as_str() } }));
        let _ = p.line(&j!({ "stream": format!("Successfully built {}\n", &built.id.hex()[..12]) }));
        for t in &built.tags {
            let r = doca_engine::Reference::parse(t).map(|r| r.familiar()).unwrap_or_else(|_| t.clone());
            let _ = p.line(&j!({ "stream": format!("Successfully tagged {r}\n") }));
        }
        Ok(())
    })
    .await
}

/// `POST /build/prune`: the build cache (intermediate images and cache mounts).
pub async fn prune(ctx: Ctx) -> ApiResult {
    let mut req = doca_engine::build::BuilderPrune { all: ctx.query.bool("all"), until: None };
    for f in ctx.query.filters()? {
        match f.split_once('=') {
            Some(("until", v)) => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
                req.until = Some((doca_engine::containers::parse_time(v, now)? / 1_000_000_000) as i64);
            }
            _ => return Err(ApiError::bad_request(format!("invalid filter '{f}' (build cache prune takes until=)"))),
        }
    }
    let r = ctx.state.engine(move |e| e.prune_build_cache(&req)).await?;
    let ids: Vec<String> = r.deleted.iter().map(|d| d.hex().to_string()).collect();
    Ok(http::json(hyper::StatusCode::OK, &j!({ "CachesDeleted": ids, "SpaceReclaimed": r.reclaimed })))
}
