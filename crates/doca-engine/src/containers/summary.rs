//! The list of containers as docker's `GET /containers/json` and `docker ps` show them: one
//! summary per container, built once here for both fronts.

use super::list::ListContainers;
use super::record::{Container, Status};
use crate::docker::{human_duration, ContainerSummary, SummaryHostConfig, SummaryNetworkSettings, SummaryPort};
use crate::{Digest, Engine, EngineError};
use std::collections::HashMap;

/// What [`Engine::container_summaries`] adds beyond the list itself.
#[derive(Debug, Clone, Copy, Default)]
pub struct SummaryOptions {
    /// `size=1`/`ps -s`: the writable layer's bytes and the image's beside them.
    pub size: bool,
}

fn unix(rfc3339: Option<&str>) -> i64 {
    rfc3339.and_then(crate::parse_rfc3339).unwrap_or(0)
}

/// docker's Status string: "Up 5 minutes (healthy)", "Exited (0) 2 hours ago", "Created", ...
pub fn status_text(c: &Container, health: Option<&str>, now: i64) -> String {
    let st = &c.state;
    match st.status {
        Status::Created => "Created".into(),
        Status::Running => {
            let up = format!("Up {}", human_duration(now - unix(st.started_at.as_deref())));
            match health {
                Some("starting") => format!("{up} (health: starting)"),
                Some(h) => format!("{up} ({h})"),
                None => up,
            }
        }
        Status::Paused => format!("Up {} (Paused)", human_duration(now - unix(st.started_at.as_deref()))),
        Status::Restarting => format!("Restarting ({}) {} ago", st.exit_code, human_duration(now - unix(st.finished_at.as_deref()))),
        Status::Removing => "Removal In Progress".into(),
        Status::Dead => "Dead".into(),
        Status::Exited => format!("Exited ({}) {} ago", st.exit_code, human_duration(now - unix(st.finished_at.as_deref()))),
    }
}

/// docker's Command column (daemon/list.go): the path, then the arguments, those with a space
/// in single quotes.
fn command_line(argv: &[String]) -> String {
    let mut words = argv.iter();
    let Some(path) = words.next() else { return String::new() };
    let args: Vec<String> = words.map(|a| if a.contains(' ') { format!("'{a}'") } else { a.clone() }).collect();
    if args.is_empty() {
        path.clone()
    } else {
        format!("{path} {}", args.join(" "))
    }
}

impl Engine {
    /// The containers `req` selects, newest first, as docker lists them.
    pub fn container_summaries(&mut self, req: &ListContainers, opts: SummaryOptions) -> Result<Vec<ContainerSummary>, EngineError> {
        let list = self.list_containers(req)?;
        let now = crate::now().unix_timestamp();
        // One read of each image's config and size, however many containers share it.
        let mut images: HashMap<Digest, (doca_image::config::ContainerConfig, i64)> = HashMap::new();
        // What each name the containers were made from names now, once per name: a container
        // whose name no longer leads to its image shows the image's id (docker's list.go).
        let mut names: HashMap<String, Option<Digest>> = HashMap::new();
        let mut out = Vec::with_capacity(list.len());
        for c in &list {
            let now_names =
                names.entry(c.config.image.clone()).or_insert_with(|| self.resolve_image(&c.config.image).ok().map(|r| r.image.id));
            let image = if now_names.as_ref() == Some(&c.image_id) { c.config.image.clone() } else { c.image_id.to_string() };
            if !images.contains_key(&c.image_id) {
                let cfg = self.image_run_config(&c.image_id)?;
                let size = if opts.size { self.inspect_image(c.image_id.as_str()).map(|i| i.size.max(0)).unwrap_or(0) } else { 0 };
                images.insert(c.image_id.clone(), (cfg, size));
            }
            let (config, image_size) = &images[&c.image_id];
            let argv = super::spec::command(config, &c.config).unwrap_or_default();
            let live = c.state.status.is_live();
            // Endpoints exist only while a container runs; read once for its ports and networks.
            let endpoints = if live { self.endpoints_of(c)? } else { Vec::new() };
            // As docker: only a running container shows its ports.
            let ports = if live { self.ports_of(c, &endpoints)? } else { Vec::new() };
            let health = if c.state.status == Status::Running { self.container_health(c).map(|h| h.status) } else { None };
            let size_rw = opts.size.then(|| i64::try_from(self.container_size(&c.id)).unwrap_or(i64::MAX));
            let mut labels = config.labels.clone().unwrap_or_default();
            labels.extend(c.config.labels.clone());
            out.push(ContainerSummary {
                id: c.id.to_string(),
                names: vec![format!("/{}", c.name)],
                image,
                image_id: c.image_id.to_string(),
                command: command_line(&argv),
                created: unix(Some(&c.created)),
                ports: ports
                    .iter()
                    .flat_map(|(p, h)| match h {
                        Some(h) => crate::networks::host_addresses(h)
                            .into_iter()
                            .map(|ip| SummaryPort {
                                ip: Some(ip),
                                private_port: p.port,
                                public_port: Some(h.host_port),
                                kind: p.proto.name().into(),
                            })
                            .collect::<Vec<_>>(),
                        None => vec![SummaryPort { ip: None, private_port: p.port, public_port: None, kind: p.proto.name().into() }],
                    })
                    .collect(),
                size_rw,
                size_root_fs: size_rw.map(|rw| rw + image_size),
                labels,
                state: c.state.status.as_str().into(),
                status: status_text(c, health.as_deref(), now),
                host_config: SummaryHostConfig { network_mode: c.config.network.name() },
                network_settings: SummaryNetworkSettings { networks: super::inspect::endpoint_networks(c, &endpoints) },
                mounts: c.config.mounts.iter().map(|m| self.mount_point(m)).collect(),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_lines_quote_arguments_with_spaces_as_docker() {
        let argv: Vec<String> = ["sh", "-c", "echo hello-out; sleep 300"].iter().map(|s| s.to_string()).collect();
        assert_eq!(super::command_line(&argv), "sh -c 'echo hello-out; sleep 300'");
        assert_eq!(super::command_line(&argv[..1]), "sh");
        assert_eq!(super::command_line(&[]), "");
    }
}
