//! `/images/...`, `/commit`, `/distribution/{name}/json`.

use super::Ctx;
use crate::http::{self, json, ApiError, ApiResult, BodyReader, Progress};
use doca_engine::docker::ImageSummary;
use doca_engine::images::{
    ImageFilter, ListImages, PullImage, PullProgress, PushImage, PushProgress, RegistryAuth, RemoveEvent, RemoveImage,
};
use doca_engine::{Engine, EngineError};
use hyper::{Response, StatusCode};
use serde_json::json as j;
use std::collections::BTreeMap;

/// Docker's image list entries (also `/system/df`'s, with `count` the containers using each).
pub fn summaries(e: &mut Engine, req: &ListImages, count: bool) -> Result<Vec<ImageSummary>, EngineError> {
    let images = e.list_images(req)?;
    let mut users: BTreeMap<String, i64> = BTreeMap::new();
    if count {
        for c in e.containers()? {
            *users.entry(c.image_id.to_string()).or_default() += 1;
        }
    }
    Ok(images
        .into_iter()
        .map(|i| ImageSummary {
            containers: if count { users.get(i.id.as_str()).copied().unwrap_or(0) } else { -1 },
            created: i.created_unix,
            id: i.id.to_string(),
            labels: i.labels.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect(),
            parent_id: String::new(),
            repo_digests: i.repo_digests,
            repo_tags: i.repo_tags,
            shared_size: -1,
            size: i.size,
            virtual_size: i.size,
        })
        .collect())
}

pub async fn list(ctx: Ctx) -> ApiResult {
    let mut filters = ctx.query.filters()?.iter().map(|f| ImageFilter::parse(f)).collect::<Result<Vec<_>, _>>()?;
    // API < 1.25's `filter=NAME`.
    if let Some(r) = ctx.query.get("filter").filter(|f| !f.is_empty()) {
        filters.push(ImageFilter::Reference(r.to_string()));
    }
    let req = ListImages { all: ctx.query.bool("all"), filters };
    let list = ctx.state.engine(move |e| summaries(e, &req, false)).await?;
    let mut v = serde_json::to_value(&list).expect("json");
    // VirtualSize left the API in 1.44.
    if ctx.at_least(1, 44) {
        for i in v.as_array_mut().into_iter().flatten() {
            i.as_object_mut().map(|o| o.remove("VirtualSize"));
        }
    }
    Ok(json(StatusCode::OK, &v))
}

pub async fn inspect(ctx: Ctx, name: String) -> ApiResult {
    let i = ctx.state.engine(move |e| e.inspect_image(&name)).await?;
    Ok(json(StatusCode::OK, &i))
}

pub async fn history(ctx: Ctx, name: String) -> ApiResult {
    let h = ctx.state.engine(move |e| e.image_history(&name)).await?;
    let list: Vec<serde_json::Value> = h
        .iter()
        .map(|x| {
            j!({
                "Comment": x.comment,
                "Created": x.created_unix,
                "CreatedBy": x.created_by,
                "Id": x.id.clone().unwrap_or_else(|| "<missing>".into()),
                "Size": x.size,
                "Tags": if x.tags.is_empty() { serde_json::Value::Null } else { j!(x.tags) },
            })
        })
        .collect();
    Ok(json(StatusCode::OK, &list))
}

pub async fn tag(ctx: Ctx, name: String) -> ApiResult {
    let repo = ctx.query.get("repo").unwrap_or("").to_string();
    let tag = ctx.query.get("tag").unwrap_or("").to_string();
    if repo.is_empty() {
        return Err(ApiError::bad_request("repository name must have at least one component"));
    }
    let target = if tag.is_empty() { repo } else { format!("{repo}:{tag}") };
    ctx.state.engine(move |e| e.tag_image(&name, &target)).await?;
    Ok(http::empty(StatusCode::CREATED))
}

fn remove_events(events: &[RemoveEvent]) -> Vec<serde_json::Value> {
    events
        .iter()
        .map(|ev| match ev {
            RemoveEvent::Untagged(t) => j!({ "Untagged": t }),
            RemoveEvent::Deleted(d) => j!({ "Deleted": d.as_str() }),
        })
        .collect()
}

pub async fn remove(ctx: Ctx, name: String) -> ApiResult {
    let force = ctx.query.bool("force");
    let events = ctx.state.engine(move |e| e.remove_image(&RemoveImage { name, force })).await?;
    Ok(json(StatusCode::OK, &remove_events(&events)))
}

pub async fn prune(ctx: Ctx) -> ApiResult {
    let mut args = ctx.query.filters()?;
    // `dangling=false` prunes every unused image (docker image prune -a).
    let all = args.iter().any(|a| a == "dangling=false" || a == "dangling=0");
    args.retain(|a| !a.starts_with("dangling="));
    let filters = doca_engine::prune::PruneFilters::from_args(&args)?;
    let report = ctx.state.engine(move |e| e.prune_images(&doca_engine::images::PruneImages { all, filters })).await?;
    let deleted = remove_events(&report.events);
    Ok(json(
        StatusCode::OK,
        &j!({ "ImagesDeleted": if deleted.is_empty() { serde_json::Value::Null } else { j!(deleted) }, "SpaceReclaimed": report.reclaimed }),
    ))
}

/// docker's progress bar text: `[=====>      ]  1.2MB/3.4MB`.
fn bar(done: u64, total: Option<u64>) -> String {
    let size = |n: u64| doca_engine::docker::human_size(n);
    match total.filter(|t| *t > 0) {
        Some(t) => {
            let filled = ((done.min(t) * 50) / t) as usize;
            let arrow = if filled < 50 { ">" } else { "" };
            format!("[{}{arrow}{}] {}/{}", "=".repeat(filled), " ".repeat(50 - filled - arrow.len()), size(done), size(t))
        }
        None => size(done),
    }
}

/// `X-Registry-Auth`: base64url JSON of docker's AuthConfig (`e30=`, `{}`, when the client has
/// none). Used for the request alone, never stored.
fn registry_auth(ctx: &Ctx) -> ApiResult<Option<RegistryAuth>> {
    use base64::Engine as _;
    let Some(raw) = ctx.header("X-Registry-Auth").filter(|h| !h.is_empty()) else { return Ok(None) };
    let bad = || ApiError::bad_request("invalid X-Registry-Auth header: want base64 of a JSON AuthConfig");
    let trimmed = raw.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(trimmed))
        .map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let field = |k: &str| v[k].as_str().unwrap_or("").to_string();
    let (mut username, mut password) = (field("username"), field("password"));
    // `auth`: base64 of "user:password", as config.json keeps it.
    if username.is_empty() && !field("auth").is_empty() {
        let pair = base64::engine::general_purpose::STANDARD.decode(field("auth")).map_err(|_| bad())?;
        let pair = String::from_utf8(pair).map_err(|_| bad())?;
        if let Some((u, p)) = pair.split_once(':') {
            (username, password) = (u.to_string(), p.to_string());
        }
    }
    Ok((!username.is_empty()).then_some(RegistryAuth { username, password }))
}

fn short(d: &doca_engine::Digest) -> String {
    d.hex()[..12].to_string()
}

/// `POST /images/create`: a pull (`fromImage`, `tag`, `platform`) with docker's progress lines,
/// or an import of the body (`fromSrc=-`) or of a URL.
pub async fn create(ctx: Ctx) -> ApiResult {
    let q = ctx.query.clone();
    if let Some(src) = q.get("fromSrc").filter(|s| !s.is_empty()) {
        if src != "-" {
            return Err(ApiError::bad_request("doca imports from the request body only (fromSrc=-)"));
        }
        let reference = match (q.get("repo").filter(|r| !r.is_empty()), q.get("tag").filter(|t| !t.is_empty())) {
            (Some(r), Some(t)) => Some(format!("{r}:{t}")),
            (Some(r), None) => Some(r.to_string()),
            _ => None,
        };
        let changes: Vec<String> = q.all("changes").map(String::from).collect();
        let message = q.get("message").filter(|m| !m.is_empty()).map(String::from);
        let reader = BodyReader::new(ctx.req.into_body());
        return http::progress(ctx.state, move |e, p: &mut Progress| {
            let c = e.import_image(doca_engine::images::ImportImage {
                source: "-".into(),
                input: Box::new(reader),
                changes,
                message,
                reference,
            })?;
            let _ = p.line(&j!({ "status": c.id.as_str() }));
            Ok(())
        })
        .await;
    }
    let image = q.get("fromImage").unwrap_or("").to_string();
    if image.is_empty() {
        return Err(ApiError::bad_request("fromImage or fromSrc is required"));
    }
    let tag = q.get("tag").filter(|t| !t.is_empty()).map(String::from);
    // `tag` is a tag or a digest (docker's CLI sends `sha256:...` there for `name@digest`).
    let reference = match tag {
        Some(t) if t.contains(':') => format!("{image}@{t}"),
        Some(t) => format!("{image}:{t}"),
        None => image,
    };
    let platform = q.get("platform").filter(|p| !p.is_empty()).map(String::from);
    let auth = registry_auth(&ctx)?;
    http::progress(ctx.state, move |e, p| {
        let parsed =
            doca_engine::Reference::parse(&reference).map_err(|source| EngineError::BadReference { input: reference.clone(), source })?;
        let tag_or_digest =
            parsed.tag().map(String::from).or_else(|| parsed.digest().map(|d| d.to_string())).unwrap_or_else(|| "latest".into());
        let _ = p.line(&j!({ "status": format!("Pulling from {}", parsed.path()), "id": tag_or_digest }));
        let lines = std::sync::Mutex::new(p);
        let progress = |ev: PullProgress| {
            let v = match ev {
                PullProgress::Resolved { layers, .. } => {
                    let mut p = lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    for l in layers {
                        let _ = p.line(&j!({ "status": "Pulling fs layer", "progressDetail": {}, "id": short(l) }));
                    }
                    return;
                }
                PullProgress::Exists(d) => j!({ "status": "Already exists", "progressDetail": {}, "id": short(d) }),
                PullProgress::Downloading { layer, done, total } => j!({
                    "status": "Downloading",
                    "progressDetail": { "current": done, "total": total },
                    "progress": bar(done, total),
                    "id": short(layer),
                }),
                PullProgress::Downloaded(d) => j!({ "status": "Download complete", "progressDetail": {}, "id": short(d) }),
                PullProgress::Extracting => return,
            };
            let _ = lines.lock().unwrap_or_else(std::sync::PoisonError::into_inner).line(&v);
        };
        let r = e.pull_image(&PullImage { reference: reference.clone(), platform, auth }, &progress)?;
        let p = lines.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        let _ = p.line(&j!({ "status": format!("Digest: {}", r.manifest_digest) }));
        let shown = r.reference.familiar();
        let status = if r.up_to_date {
            format!("Status: Image is up to date for {shown}")
        } else {
            format!("Status: Downloaded newer image for {shown}")
        };
        let _ = p.line(&j!({ "status": status }));
        Ok(())
    })
    .await
}

/// `push`: docker's lines per layer, the digest line, then the `aux` with Tag, Digest, Size.
/// The registry credentials are the ones doca has for the registry (root's docker
/// `config.json`, which `docker login` on this host writes).
pub async fn push(ctx: Ctx, name: String) -> ApiResult {
    let tag = ctx.query.get("tag").filter(|t| !t.is_empty()).map(String::from);
    let reference = match tag {
        Some(t) => format!("{name}:{t}"),
        None => name,
    };
    let auth = registry_auth(&ctx)?;
    http::progress(ctx.state, move |e, p| {
        let parsed =
            doca_engine::Reference::parse(&reference).map_err(|source| EngineError::BadReference { input: reference.clone(), source })?;
        let _ = p.line(&j!({ "status": format!("The push refers to repository [{}]", parsed.familiar_name()) }));
        let lines = std::sync::Mutex::new(p);
        let progress = |ev: PushProgress| {
            let (d, what) = match ev {
                PushProgress::Preparing(d) => (d, "Preparing"),
                PushProgress::Exists(d) => (d, "Layer already exists"),
                PushProgress::Mounted(d) => (d, "Mounted from another repository"),
                PushProgress::Pushed(d) => (d, "Pushed"),
            };
            let _ = lines
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .line(&j!({ "status": what, "progressDetail": {}, "id": short(d) }));
        };
        let r = e.push_image(&PushImage { name: reference.clone(), auth }, &progress)?;
        let p = lines.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
        let tag = r.reference.tag().unwrap_or("latest").to_string();
        let _ = p.line(&j!({ "status": format!("{tag}: digest: {} size: {}", r.digest, r.size) }));
        let _ = p.line(&j!({ "progressDetail": {}, "aux": { "Tag": tag, "Digest": r.digest, "Size": r.size } }));
        Ok(())
    })
    .await
}

/// `get`: one archive of the images named (the path's, or every `names`).
pub async fn get(ctx: Ctx, name: Option<String>) -> ApiResult {
    let names: Vec<String> = match name {
        Some(n) => vec![n],
        None => ctx.query.all("names").filter(|n| !n.is_empty()).map(String::from).collect(),
    };
    if names.is_empty() {
        return Err(ApiError::bad_request("no images named"));
    }
    // Every name must resolve before the archive starts (a 404 then, not a broken tar).
    {
        let names = names.clone();
        ctx.state
            .engine(move |e| {
                for n in &names {
                    e.resolve_image(n)?;
                }
                Ok(())
            })
            .await?;
    }
    let (w, body) = http::channel();
    let state = ctx.state;
    tokio::task::spawn_blocking(move || {
        let Ok(mut e) = state.lend() else { return };
        let req = doca_engine::images::SaveImages { names, output: Box::new(w), archive: "the response".into() };
        if let Err(err) = e.save_images(req) {
            tracing::info!("save: {err}");
        }
    });
    Ok(Response::builder().status(StatusCode::OK).header("Content-Type", "application/x-tar").body(body).expect("response"))
}

/// `load`: the body is an image archive (docker save, podman, skopeo, OCI), untrusted.
pub async fn load(ctx: Ctx) -> ApiResult {
    let reader = BodyReader::new(ctx.req.into_body());
    http::progress(ctx.state, move |e, p| {
        let loaded = e.load_images(doca_engine::images::LoadImages { archive: "the request body".into(), input: Box::new(reader) })?;
        for c in loaded {
            if c.tags.is_empty() {
                let _ = p.line(&j!({ "stream": format!("Loaded image ID: {}\n", c.id) }));
            }
            for t in &c.tags {
                let _ = p.line(&j!({ "stream": format!("Loaded image: {}\n", t.familiar()) }));
            }
        }
        Ok(())
    })
    .await
}

/// `GET /distribution/{name}/json`: the registry's descriptor of the image and its platforms.
pub async fn distribution(ctx: Ctx, name: String) -> ApiResult {
    let m = ctx.state.engine(move |e| e.remote_manifest(&name)).await?;
    let platforms: Vec<serde_json::Value> = m.manifest["manifests"]
        .as_array()
        .map(|l| l.iter().filter_map(|d| d.get("platform").cloned()).collect())
        .unwrap_or_else(|| vec![j!({ "architecture": doca_engine::host_arch(), "os": "linux" })]);
    Ok(json(
        StatusCode::OK,
        &j!({ "Descriptor": { "mediaType": m.media_type, "digest": m.digest, "size": m.size }, "Platforms": platforms }),
    ))
}

/// `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`.
pub async fn commit(ctx: Ctx) -> ApiResult {
    let q = ctx.query.clone();
    let container =
        q.get("container").filter(|c| !c.is_empty()).map(String::from).ok_or_else(|| ApiError::bad_request("container is required"))?;
    let reference = match (q.get("repo").filter(|r| !r.is_empty()), q.get("tag").filter(|t| !t.is_empty())) {
        (Some(r), Some(t)) => Some(format!("{r}:{t}")),
        (Some(r), None) => Some(r.to_string()),
        _ => None,
    };
    let req = doca_engine::containers::CommitContainer {
        container,
        reference,
        author: q.get("author").filter(|a| !a.is_empty()).map(String::from),
        message: q.get("comment").filter(|c| !c.is_empty()).map(String::from),
        changes: q.all("changes").filter(|c| !c.is_empty()).map(String::from).collect(),
        pause: q.bool_or("pause", true),
    };
    let id = ctx.state.engine(move |e| e.commit_container(&req)).await?;
    Ok(json(StatusCode::CREATED, &j!({ "Id": id.as_str() })))
}
