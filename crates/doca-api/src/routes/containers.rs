//! `/containers/...`: list, inspect, logs, stats, lifecycle (stop, kill, restart, pause,
//! remove, rename, update, prune), changes, export and the archive routes (`docker cp`).
//! Create, start, attach and wait are in `create.rs` and `attach.rs`.

use super::Ctx;
use crate::http::{self, empty, json, stdcopy, ApiError, ApiResult, BodyReader};
use doca_engine::containers::{ContainerFilter, ContainerLogs, CopyOptions, ListContainers, SummaryOptions};
use hyper::{Response, StatusCode};
use serde_json::json as j;
use std::io::Write;

pub async fn list(ctx: Ctx) -> ApiResult {
    let filters = ctx.query.filters()?.iter().map(|f| ContainerFilter::parse(f)).collect::<Result<Vec<_>, _>>()?;
    let limit = ctx.query.int("limit")?.filter(|n| *n > 0).map(|n| n as usize);
    let req = ListContainers { all: ctx.query.bool("all") || limit.is_some(), last: limit, filters };
    let opts = SummaryOptions { size: ctx.query.bool("size") };
    let list = ctx.state.engine(move |e| e.container_summaries(&req, opts)).await?;
    Ok(json(StatusCode::OK, &list))
}

pub async fn inspect(ctx: Ctx, id: String) -> ApiResult {
    let size = ctx.query.bool("size");
    let v = ctx
        .state
        .engine(move |e| {
            let c = e.inspect_container(&id)?;
            let mut v = serde_json::to_value(&c).expect("json");
            if size {
                let rec = e.container(&id)?;
                let rw = e.container_size(&rec.id);
                let image = e.inspect_image(rec.image_id.as_str()).map(|i| i.size.max(0) as u64).unwrap_or(0);
                v["SizeRw"] = j!(rw);
                v["SizeRootFs"] = j!(rw + image);
            }
            Ok(v)
        })
        .await?;
    Ok(json(StatusCode::OK, &v))
}

/// `top`: the runtime's `ps` output as docker's titles and rows.
pub async fn top(ctx: Ctx, id: String) -> ApiResult {
    let args: Vec<String> =
        ctx.query.get("ps_args").filter(|a| !a.is_empty()).map(|a| a.split_whitespace().map(String::from).collect()).unwrap_or_default();
    let out = ctx.state.engine(move |e| e.top_container(&id, &args)).await?;
    let mut lines = out.lines().filter(|l| !l.trim().is_empty());
    let titles: Vec<String> = lines.next().unwrap_or("").split_whitespace().map(String::from).collect();
    let processes: Vec<Vec<String>> = lines
        .map(|l| {
            // The last column (the command) keeps its spaces, as dockerd splits.
            let mut fields: Vec<String> = Vec::new();
            let mut rest = l.trim_start();
            while fields.len() + 1 < titles.len() {
                let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
                fields.push(rest[..end].to_string());
                rest = rest[end..].trim_start();
            }
            fields.push(rest.to_string());
            fields
        })
        .collect();
    Ok(json(StatusCode::OK, &j!({ "Titles": titles, "Processes": processes })))
}

/// `logs`: stdcopy frames without a terminal, raw bytes with one; `follow` streams until the
/// container stops or the client goes.
pub async fn logs(ctx: Ctx, id: String) -> ApiResult {
    let q = &ctx.query;
    let (stdout, stderr) = (q.bool("stdout"), q.bool("stderr"));
    if !stdout && !stderr {
        return Err(ApiError::bad_request("Bad parameters: you must choose at least one stream"));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let time_of = |key: &str| -> ApiResult<Option<i128>> {
        q.get(key)
            .filter(|v| !v.is_empty() && *v != "0")
            .map(|v| doca_engine::containers::parse_time(v, now).map_err(ApiError::from))
            .transpose()
    };
    let tail = match q.get("tail") {
        None | Some("" | "all") => None,
        Some(n) => Some(n.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid tail value: {n}")))?.max(0) as usize),
    };
    let req = ContainerLogs { follow: q.bool("follow"), since: time_of("since")?, until: time_of("until")?, tail };
    let timestamps = q.bool("timestamps");
    let c = ctx.state.container(&id).await?;
    let tty = c.config.tty;
    let (mut w, body) = http::channel();
    let state = ctx.state;
    tokio::task::spawn_blocking(move || {
        let Ok(mut e) = state.lend() else { return };
        let _ = e.container_logs(c.id.as_str(), &req, |entry| {
            let stream = if entry.stream == "stderr" { 2 } else { 1 };
            if (stream == 1 && !stdout) || (stream == 2 && !stderr) {
                return Ok(());
            }
            let mut line = Vec::new();
            if timestamps {
                line.extend_from_slice(entry.time.as_bytes());
                line.push(b' ');
            }
            line.extend_from_slice(entry.log.as_bytes());
            if tty {
                w.write_all(&line)
            } else {
                w.write_all(&stdcopy(stream, &line))
            }
        });
    });
    // dockerd sends no Content-Type on logs (API 1.41); clients read the framing from Config.Tty.
    Ok(Response::builder().status(StatusCode::OK).body(body).expect("response"))
}

pub async fn changes(ctx: Ctx, id: String) -> ApiResult {
    let changes = ctx.state.engine(move |e| e.container_changes(&id)).await?;
    let list: Vec<serde_json::Value> = changes
        .iter()
        .map(|(k, p)| {
            // docker's ChangeType: 0 modified, 1 added, 2 deleted.
            let kind = match k.letter() {
                'C' => 0,
                'A' => 1,
                _ => 2,
            };
            j!({ "Path": p.display().to_string(), "Kind": kind })
        })
        .collect();
    Ok(json(StatusCode::OK, &list))
}

pub async fn export(ctx: Ctx, id: String) -> ApiResult {
    ctx.state.container(&id).await?;
    let (mut w, body) = http::channel();
    let state = ctx.state;
    tokio::task::spawn_blocking(move || {
        let Ok(mut e) = state.lend() else { return };
        if let Err(err) = e.export_container(&id, &mut w) {
            tracing::info!("export {id}: {err}");
        }
    });
    Ok(Response::builder().status(StatusCode::OK).header("Content-Type", "application/x-tar").body(body).expect("response"))
}

/// `stats`: dockerd's StatsJSON, each with the previous sample as `precpu_stats`; a stream
/// (one a second) unless `stream=0` or `one-shot=1`.
pub async fn stats(ctx: Ctx, id: String) -> ApiResult {
    let stream = ctx.query.bool_or("stream", true) && !ctx.query.bool("one-shot");
    let one_shot = ctx.query.bool("one-shot");
    let state = ctx.state;
    let first = {
        let id = id.clone();
        state.engine(move |e| e.container_stats(&id)).await?
    };
    let (mut w, body) = http::channel();
    tokio::task::spawn_blocking(move || {
        let Ok(mut e) = state.lend() else { return };
        let (c, mut current) = first;
        let mut previous = None;
        let next = |e: &mut doca_engine::Engine, current: &mut doca_engine::containers::StatsSample| {
            std::thread::sleep(std::time::Duration::from_secs(1));
            e.container_stats(c.id.as_str()).ok().map(|(_, n)| std::mem::replace(current, n))
        };
        // Unless one-shot, the first answer has a previous sample a second back (as dockerd's).
        if !one_shot {
            previous = next(&mut e, &mut current);
        }
        loop {
            let mut line = serde_json::to_vec(&current.to_docker(&c, previous.as_ref())).expect("json");
            line.push(b'\n');
            if w.write_all(&line).is_err() || !stream {
                return;
            }
            match next(&mut e, &mut current) {
                Some(p) => previous = Some(p),
                None => return,
            }
        }
    });
    Ok(Response::builder().status(StatusCode::OK).header("Content-Type", "application/json").body(body).expect("response"))
}

fn timeout(ctx: &Ctx) -> ApiResult<Option<i64>> {
    ctx.query.int("t").and_then(|t| if t.is_some() { Ok(t) } else { ctx.query.int("timeout") })
}

pub async fn stop(ctx: Ctx, id: String) -> ApiResult {
    let t = timeout(&ctx)?;
    let signal = ctx.query.get("signal").filter(|s| !s.is_empty()).map(String::from);
    let c = ctx.state.container(&id).await?;
    if !c.state.status.is_live() {
        return Ok(empty(StatusCode::NOT_MODIFIED));
    }
    ctx.state.engine(move |e| e.stop_container(&id, t, signal.as_deref())).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn restart(ctx: Ctx, id: String) -> ApiResult {
    let t = timeout(&ctx)?;
    let signal = ctx.query.get("signal").filter(|s| !s.is_empty()).map(String::from);
    ctx.state
        .engine(move |e| {
            let c = e.stop_container(&id, t, signal.as_deref())?;
            e.start_container(c.id.as_str(), &doca_engine::containers::StartContainer::default()).map(|_| ())
        })
        .await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn kill(ctx: Ctx, id: String) -> ApiResult {
    let signal = ctx.query.get("signal").filter(|s| !s.is_empty()).map(String::from);
    let c = ctx.state.container(&id).await?;
    if !c.state.status.is_live() {
        return Err(ApiError::new(StatusCode::CONFLICT, format!("Container {} is not running", c.id)));
    }
    ctx.state.engine(move |e| e.kill_container(&id, signal.as_deref())).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn pause(ctx: Ctx, id: String, pause: bool) -> ApiResult {
    ctx.state.engine(move |e| if pause { e.pause_container(&id) } else { e.unpause_container(&id) }).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn rename(ctx: Ctx, id: String) -> ApiResult {
    let name = ctx.query.get("name").unwrap_or("").trim_start_matches('/').to_string();
    if name.is_empty() {
        return Err(ApiError::bad_request("Neither old nor new names may be empty"));
    }
    ctx.state.engine(move |e| e.rename_container(&id, &name)).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct UpdateBody {
    memory: Option<i64>,
    memory_swap: Option<i64>,
    memory_reservation: Option<i64>,
    nano_cpus: Option<i64>,
    cpu_shares: Option<i64>,
    cpu_quota: Option<i64>,
    cpu_period: Option<i64>,
    cpuset_cpus: Option<String>,
    cpuset_mems: Option<String>,
    pids_limit: Option<i64>,
    restart_policy: Option<super::create::RestartPolicyBody>,
}

/// `update`: the resource fields given (docker's zero means "unchanged" for each).
pub async fn update(ctx: Ctx, id: String) -> ApiResult {
    let Ctx { state, req, .. } = ctx;
    let b: UpdateBody = http::read_json(req.into_body()).await?;
    let set = |v: Option<i64>| v.is_some_and(|n| n != 0);
    let fields = doca_engine::containers::UpdateFields {
        memory: set(b.memory),
        memory_swap: set(b.memory_swap),
        memory_reservation: set(b.memory_reservation),
        nano_cpus: set(b.nano_cpus),
        cpu_shares: set(b.cpu_shares),
        cpu_quota: set(b.cpu_quota),
        cpu_period: set(b.cpu_period),
        cpuset_cpus: b.cpuset_cpus.as_ref().is_some_and(|s| !s.is_empty()),
        cpuset_mems: b.cpuset_mems.as_ref().is_some_and(|s| !s.is_empty()),
        pids_limit: set(b.pids_limit),
        restart: b.restart_policy.as_ref().filter(|r| !r.name.is_empty()).map(|r| r.policy()).transpose()?,
    };
    let r = doca_engine::containers::Resources {
        memory: b.memory.unwrap_or(0),
        memory_swap: b.memory_swap.unwrap_or(0),
        memory_reservation: b.memory_reservation.unwrap_or(0),
        nano_cpus: b.nano_cpus.unwrap_or(0),
        cpu_shares: b.cpu_shares.unwrap_or(0),
        cpu_quota: b.cpu_quota.unwrap_or(0),
        cpu_period: b.cpu_period.unwrap_or(0),
        cpuset_cpus: b.cpuset_cpus.unwrap_or_default(),
        cpuset_mems: b.cpuset_mems.unwrap_or_default(),
        pids_limit: b.pids_limit.unwrap_or(0),
        ..Default::default()
    };
    state.engine(move |e| e.update_container(&id, &r, &fields)).await?;
    Ok(json(StatusCode::OK, &j!({ "Warnings": [] })))
}

pub async fn remove(ctx: Ctx, id: String) -> ApiResult {
    let (force, volumes) = (ctx.query.bool("force"), ctx.query.bool("v"));
    if ctx.query.bool("link") {
        return Err(ApiError::bad_request("removing a link (`rm --link`) is not supported: remove the linking container"));
    }
    ctx.state.engine(move |e| e.remove_container(&id, force, volumes)).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

pub async fn prune(ctx: Ctx) -> ApiResult {
    let filters = doca_engine::prune::PruneFilters::from_args(&ctx.query.filters()?)?;
    let pruned = ctx.state.engine(move |e| e.prune_containers(&filters)).await?;
    let ids: Vec<String> = pruned.iter().map(|(c, _)| c.id.to_string()).collect();
    let space: u64 = pruned.iter().map(|(_, s)| s).sum();
    Ok(json(
        StatusCode::OK,
        &j!({ "ContainersDeleted": if ids.is_empty() { serde_json::Value::Null } else { j!(ids) }, "SpaceReclaimed": space }),
    ))
}

fn archive_path(ctx: &Ctx) -> ApiResult<String> {
    ctx.query.get("path").filter(|p| !p.is_empty()).map(String::from).ok_or_else(|| ApiError::bad_request("path is required"))
}

fn stat_header(stat: &doca_engine::containers::PathStat) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(stat).expect("json"))
}

/// `HEAD .../archive`: the path's stat in `X-Docker-Container-Path-Stat`.
pub async fn archive_stat(ctx: Ctx, id: String) -> ApiResult {
    let path = archive_path(&ctx)?;
    let stat = ctx.state.engine(move |e| e.container_path_stat(&id, &path)).await?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("X-Docker-Container-Path-Stat", stat_header(&stat))
        .body(http::full(""))
        .expect("response"))
}

/// `GET .../archive`: the path as a tar stream, through the same staging copy as `doca cp`.
pub async fn archive_get(ctx: Ctx, id: String) -> ApiResult {
    let path = archive_path(&ctx)?;
    let stat = {
        let (id, path) = (id.clone(), path.clone());
        ctx.state.engine(move |e| e.container_path_stat(&id, &path)).await?
    };
    let (mut w, body) = http::channel();
    let state = ctx.state;
    tokio::task::spawn_blocking(move || {
        let Ok(mut e) = state.lend() else { return };
        if let Err(err) = e.copy_out_archive(&id, &path, CopyOptions::default(), &mut w) {
            tracing::info!("archive of {id}:{path}: {err}");
        }
    });
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("Content-Type", "application/x-tar")
        .header("X-Docker-Container-Path-Stat", stat_header(&stat))
        .body(body)
        .expect("response"))
}

/// `PUT .../archive`: an untrusted tar unpacked into a private staging directory, then copied
/// into the container's directory `path` on descriptors (as `doca cp - C:DIR`).
pub async fn archive_put(ctx: Ctx, id: String) -> ApiResult {
    let path = archive_path(&ctx)?;
    let opts = CopyOptions { keep_owner: ctx.query.bool("copyUIDGID"), ..Default::default() };
    // noOverwriteDirNonDir is how doca always copies: a directory never replaces a file, nor a
    // file a directory.
    let state = ctx.state.clone();
    let stat = {
        let (id, path) = (id.clone(), path.clone());
        state.engine(move |e| e.container_path_stat(&id, &path)).await?
    };
    // The destination must be a directory (docker's "extraction point is not a directory").
    if stat.mode & (1 << 31) == 0 {
        return Err(ApiError::bad_request(format!("extraction point is not a directory: {path}")));
    }
    let mut reader = BodyReader::new(ctx.body());
    state.engine(move |e| e.copy_in_archive(&id, &path, opts, &mut reader)).await?;
    Ok(empty(StatusCode::OK))
}
