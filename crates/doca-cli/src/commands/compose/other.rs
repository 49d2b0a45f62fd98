//! `doca compose ls|kill|pause|unpause|top|images`.

use crate::cli::{ComposeKillArgs, ComposeLsArgs, ComposePortArgs, ComposeServicesArgs};
use crate::output::{print, row, Format};
use crate::{CmdResult, Failure};
use doca_compose::service::{CONFIG_FILES, PROJECT, SERVICE};
use doca_compose::up::Compose;
use doca_engine::containers::{ContainerFilter, ListContainers};
use doca_engine::Engine;
use serde_json::json;
use std::collections::BTreeMap;

/// `ls`: the projects with containers in this store, from compose's labels (no project file
/// is needed: it answers for every project, as docker compose's does).
pub fn ls(e: &mut Engine, a: ComposeLsArgs) -> CmdResult {
    let filters = vec![ContainerFilter::parse(&format!("label={PROJECT}"))?];
    let mut projects: BTreeMap<String, (BTreeMap<String, usize>, String)> = BTreeMap::new();
    for k in e.list_containers(&ListContainers { all: true, last: None, filters })? {
        let Some(p) = k.config.labels.get(PROJECT) else { continue };
        let entry =
            projects.entry(p.clone()).or_insert_with(|| (BTreeMap::new(), k.config.labels.get(CONFIG_FILES).cloned().unwrap_or_default()));
        *entry.0.entry(k.state.status.as_str().to_string()).or_default() += 1;
    }
    let rows: Vec<_> = projects
        .iter()
        .filter(|(_, (states, _))| a.all || states.contains_key("running"))
        .map(|(name, (states, files))| {
            let status: Vec<String> = states.iter().map(|(s, n)| format!("{s}({n})")).collect();
            row(vec![("Name", json!(name)), ("Status", json!(status.join(", "))), ("ConfigFiles", json!(files))])
        })
        .collect();
    let format = match (a.quiet, a.format.as_str()) {
        (true, _) => "{{.Name}}".to_string(),
        (false, "table") => "table {{.Name}}\t{{.Status}}\t{{.ConfigFiles}}".to_string(),
        (false, "json") => "{{json .}}".to_string(),
        (false, f) => return Err(Failure::failed(format!("unsupported format {f:?}: table or json"))),
    };
    let headers = row(vec![("Name", json!("NAME")), ("Status", json!("STATUS")), ("ConfigFiles", json!("CONFIG FILES"))]);
    print(&Format::parse(&format)?.render(&headers, &rows)?)
}

pub fn kill(e: &mut Engine, c: &Compose, a: ComposeKillArgs) -> CmdResult {
    for k in c.service_containers(e, &a.services, false)? {
        e.kill_container(k.id.as_str(), Some(&a.signal))?;
        super::progress("Container", &k.name, "Killed");
    }
    Ok(())
}

pub fn pause(e: &mut Engine, c: &Compose, a: ComposeServicesArgs, pause: bool) -> CmdResult {
    for k in c.service_containers(e, &a.services, false)? {
        if pause {
            e.pause_container(k.id.as_str())?;
            super::progress("Container", &k.name, "Paused");
        } else {
            e.unpause_container(k.id.as_str())?;
            super::progress("Container", &k.name, "Unpaused");
        }
    }
    Ok(())
}

pub fn top(e: &mut Engine, c: &Compose, a: ComposeServicesArgs) -> CmdResult {
    let mut text = String::new();
    for k in c.service_containers(e, &a.services, false)? {
        text.push_str(&format!("{}\n{}\n", k.name, e.top_container(k.id.as_str(), &[])?));
    }
    print(&text)
}

pub fn images(e: &mut Engine, c: &Compose, a: ComposeServicesArgs) -> CmdResult {
    let mut rows = Vec::new();
    for k in c.service_containers(e, &a.services, true)? {
        let (repo, tag) = k.config.image.rsplit_once(':').filter(|(_, t)| !t.contains('/')).unwrap_or((k.config.image.as_str(), "latest"));
        let size = e.inspect_image(k.image_id.as_str()).map(|i| i.size.max(0) as u64).unwrap_or(0);
        rows.push(row(vec![
            ("Container", json!(k.name)),
            ("Repository", json!(repo)),
            ("Tag", json!(tag)),
            ("ID", json!(k.image_id.short())),
            ("Size", json!(crate::units::human_size(size))),
            ("Service", json!(k.config.labels.get(SERVICE).cloned().unwrap_or_default())),
        ]));
    }
    let headers = row(vec![
        ("Container", json!("CONTAINER")),
        ("Repository", json!("REPOSITORY")),
        ("Tag", json!("TAG")),
        ("ID", json!("IMAGE ID")),
        ("Size", json!("SIZE")),
        ("Service", json!("SERVICE")),
    ]);
    print(&Format::parse("table {{.Container}}\t{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.Size}}")?.render(&headers, &rows)?)
}

/// `port SERVICE PORT`: where the port is published on the host.
pub fn port(e: &mut Engine, c: &Compose, a: ComposePortArgs) -> CmdResult {
    let index = a.index.to_string();
    let k = c
        .service_containers(e, std::slice::from_ref(&a.service), false)?
        .into_iter()
        .find(|k| k.config.labels.get(doca_compose::service::NUMBER) == Some(&index))
        .ok_or_else(|| Failure::failed(format!("service {:?} is not running", a.service)))?;
    let want = doca_engine::Port::parse(&format!("{}/{}", a.private_port, a.protocol)).map_err(|err| Failure::failed(err.to_string()))?;
    let summary = e
        .container_summaries(
            &ListContainers { all: true, last: None, filters: vec![ContainerFilter::parse(&format!("id={}", k.id))?] },
            Default::default(),
        )?
        .into_iter()
        .next();
    let found = summary
        .iter()
        .flat_map(|s| s.ports.iter())
        .find(|p| p.private_port == want.port && p.kind == a.protocol && p.public_port.is_some());
    match found {
        Some(p) => print(&format!("{}:{}\n", p.ip.as_deref().unwrap_or("0.0.0.0"), p.public_port.unwrap_or(0))),
        None => Err(Failure::failed(format!("no port {} for container {}", want, k.name))),
    }
}

/// `wait SERVICES`: until the services' containers stop; each exit code printed, the first
/// one's as doca's own.
pub fn wait(e: &mut Engine, c: &Compose, a: ComposeServicesArgs) -> CmdResult {
    let mut first = None;
    for k in c.service_containers(e, &a.services, true)? {
        let code = e.wait_container(k.id.as_str())?;
        print(&format!("{code}\n"))?;
        first.get_or_insert(code);
    }
    super::super::run::exit_with(first.unwrap_or(0))
}
