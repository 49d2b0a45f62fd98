//! `doca ps`: containers with docker's filters (status, name, id, label, ancestor, exited,
//! before, since), `-a`, `-n`, `-l`.

use super::record::{Container, Status};
use crate::{Engine, EngineError};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContainerFilter {
    Status(Status),
    /// A substring of the name, or anchored with `^`/`$` as docker's regular expressions are
    /// used.
    Name(String),
    Id(String),
    Label {
        key: String,
        value: Option<String>,
    },
    /// The image: a name (any tag of it), name:tag, or an id prefix.
    Ancestor(String),
    Exited(i32),
    Before(String),
    Since(String),
    /// `starting`, `healthy`, `unhealthy`, or `none` (no health check running).
    Health(String),
    /// A volume's name or a mount's destination.
    Volume(String),
    /// A network's name or id (prefix).
    Network(String),
    /// A host port the container publishes (`8080`, `8080/udp`).
    Publish(doca_net::Port),
    /// A container port it exposes or publishes.
    Expose(doca_net::Port),
    /// Swarm tasks: doca has none.
    IsTask(bool),
}

impl ContainerFilter {
    pub fn parse(s: &str) -> Result<ContainerFilter, EngineError> {
        let (k, v) =
            s.split_once('=').ok_or_else(|| EngineError::InvalidArgument(format!("bad format of filter (expected name=value): {s}")))?;
        Ok(match k.to_ascii_lowercase().as_str() {
            "status" => ContainerFilter::Status(
                Status::parse(v)
                    .ok_or_else(|| EngineError::InvalidArgument(format!("invalid filter 'status={v}': Invalid filter 'status={v}'")))?,
            ),
            "name" => ContainerFilter::Name(v.to_string()),
            "id" => ContainerFilter::Id(v.to_string()),
            "label" => match v.split_once('=') {
                Some((k, val)) => ContainerFilter::Label { key: k.to_string(), value: Some(val.to_string()) },
                None => ContainerFilter::Label { key: v.to_string(), value: None },
            },
            "ancestor" => ContainerFilter::Ancestor(v.to_string()),
            "exited" => {
                ContainerFilter::Exited(v.parse().map_err(|_| EngineError::InvalidArgument(format!("invalid filter 'exited={v}'")))?)
            }
            "before" => ContainerFilter::Before(v.to_string()),
            "since" => ContainerFilter::Since(v.to_string()),
            "health" => match v {
                "starting" | "healthy" | "unhealthy" | "none" => ContainerFilter::Health(v.to_string()),
                _ => return Err(EngineError::InvalidArgument(format!("Unrecognised filter value for health: {v}"))),
            },
            "volume" => ContainerFilter::Volume(v.to_string()),
            "network" => ContainerFilter::Network(v.to_string()),
            "publish" | "expose" => {
                let port = doca_net::Port::parse(v).map_err(|_| EngineError::InvalidArgument(format!("invalid filter '{k}={v}'")))?;
                if k.eq_ignore_ascii_case("publish") {
                    ContainerFilter::Publish(port)
                } else {
                    ContainerFilter::Expose(port)
                }
            }
            "is-task" => ContainerFilter::IsTask(match v {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return Err(EngineError::InvalidArgument(format!("Invalid filter 'is-task={v}'"))),
            }),
            _ => return Err(EngineError::InvalidFilter(k.to_string())),
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct ListContainers {
    pub all: bool,
    /// `-n`: the last N created (any state); `-l` is `-n 1`.
    pub last: Option<usize>,
    pub filters: Vec<ContainerFilter>,
}

/// What a container's health, network and port filters look at (only what a given filter
/// needs is read).
#[derive(Default)]
struct Facts {
    health: String,
    /// Names and ids of the networks it joins.
    networks: Vec<String>,
    /// Host ports it publishes.
    published: Vec<doca_net::Port>,
    /// Container ports it exposes or publishes.
    exposed: Vec<doca_net::Port>,
}

fn name_matches(pattern: &str, name: &str) -> bool {
    let (start, p) = pattern.strip_prefix('^').map(|p| (true, p)).unwrap_or((false, pattern));
    let (end, p) = p.strip_suffix('$').map(|p| (true, p)).unwrap_or((false, p));
    match (start, end) {
        (true, true) => name == p,
        (true, false) => name.starts_with(p),
        (false, true) => name.ends_with(p),
        (false, false) => name.contains(p),
    }
}

impl crate::Engine {
    /// Bytes in a container's writable layer (`ps -s`, `system df`).
    pub fn container_size(&self, id: &super::ContainerId) -> u64 {
        dir_size(&self.container_paths(id).dir.join("upper"))
    }
}

/// Bytes of file content under `dir` (the writable layer's size, `ps -s`).
pub fn dir_size(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_size(&e.path()),
            Ok(t) if t.is_file() => e.metadata().map(|m| m.len()).unwrap_or(0),
            _ => 0,
        })
        .sum()
}

impl Engine {
    pub fn list_containers(&mut self, req: &ListContainers) -> Result<Vec<Container>, EngineError> {
        let all = self.containers()?;
        let position = |key: &str| -> Result<usize, EngineError> {
            let k = key.strip_prefix('/').unwrap_or(key);
            all.iter()
                .position(|c| c.name == k || c.id.as_str() == k)
                .or_else(|| {
                    let m: Vec<usize> = all.iter().enumerate().filter(|(_, c)| c.id.as_str().starts_with(k)).map(|(i, _)| i).collect();
                    (m.len() == 1).then(|| m[0])
                })
                .ok_or_else(|| EngineError::NoSuchContainer(key.to_string()))
        };
        let mut bounds = (0usize, all.len());
        let mut ancestors = Vec::new();
        for f in &req.filters {
            match f {
                ContainerFilter::Before(k) => bounds.1 = bounds.1.min(position(k)?),
                ContainerFilter::Since(k) => bounds.0 = bounds.0.max(position(k)? + 1),
                ContainerFilter::Ancestor(a) => ancestors.push(self.resolve_image(a).map(|r| r.image.id).ok()),
                _ => {}
            }
        }
        let status_filtered = req.filters.iter().any(|f| matches!(f, ContainerFilter::Status(_) | ContainerFilter::Exited(_)));
        // What the filters on a container's health, networks and ports need, read only when
        // one of them is given.
        let mut facts: std::collections::HashMap<String, Facts> = std::collections::HashMap::new();
        let wants = |f: fn(&ContainerFilter) -> bool| req.filters.iter().any(f);
        let need_health = wants(|f| matches!(f, ContainerFilter::Health(_)));
        let need_networks = wants(|f| matches!(f, ContainerFilter::Network(_)));
        let need_published = wants(|f| matches!(f, ContainerFilter::Publish(_)));
        let need_exposed = wants(|f| matches!(f, ContainerFilter::Expose(_)));
        if need_health || need_networks || need_published || need_exposed {
            let networks = if need_networks { self.networks()? } else { Vec::new() };
            for c in &all {
                let mut f = Facts::default();
                if need_health {
                    f.health = self.container_health(c).map_or_else(|| "none".to_string(), |h| h.status);
                }
                if need_networks {
                    let mut keys: Vec<String> = match c.config.network {
                        _ if c.config.left_primary => Vec::new(),
                        super::NetworkMode::None | super::NetworkMode::Host => vec![c.config.network.name()],
                        _ => c.config.network.networks(),
                    };
                    keys.extend(c.config.connected.iter().map(|a| a.network.clone()));
                    let ids: Vec<String> = networks.iter().filter(|n| keys.contains(&n.name)).map(|n| n.id.clone()).collect();
                    keys.extend(ids);
                    f.networks = keys;
                }
                if need_published {
                    let endpoints = self.endpoints_of(c).unwrap_or_default();
                    f.published = endpoints
                        .iter()
                        .flat_map(|e| &e.config.ports)
                        .map(|p| doca_net::Port { port: p.host_port, proto: p.container.proto })
                        .collect();
                    for b in c.config.publish.iter().filter(|b| b.host_port_start > 0) {
                        f.published
                            .extend((b.host_port_start..=b.host_port_end).map(|port| doca_net::Port { port, proto: b.container.proto }));
                    }
                }
                if need_exposed {
                    f.exposed = self.exposed_ports(c).unwrap_or_default();
                    f.exposed.extend(c.config.publish.iter().map(|b| b.container));
                }
                facts.insert(c.id.to_string(), f);
            }
        }
        let mut out: Vec<Container> = all
            .into_iter()
            .enumerate()
            .filter(|(i, _)| *i >= bounds.0 && *i < bounds.1)
            .map(|(_, c)| c)
            .filter(|c| {
                req.all || req.last.is_some() || status_filtered || c.state.status.is_live() || c.state.status == Status::Restarting
            })
            .filter(|c| {
                req.filters.iter().all(|f| match f {
                    ContainerFilter::Status(s) => c.state.status == *s,
                    ContainerFilter::Name(n) => name_matches(n, &c.name),
                    ContainerFilter::Id(p) => c.id.as_str().starts_with(p.as_str()),
                    ContainerFilter::Label { key, value } => {
                        c.config.labels.get(key).is_some_and(|v| value.as_ref().is_none_or(|want| want == v))
                    }
                    ContainerFilter::Exited(code) => c.state.status == Status::Exited && c.state.exit_code == *code,
                    ContainerFilter::Ancestor(_) | ContainerFilter::Before(_) | ContainerFilter::Since(_) => true,
                    ContainerFilter::Health(h) => facts.get(c.id.as_str()).is_some_and(|f| f.health == *h),
                    ContainerFilter::Volume(v) => c.config.mounts.iter().any(|m| {
                        (m.kind == super::mounts::MountKind::Volume && m.source == *v)
                            || m.target.trim_end_matches('/') == v.trim_end_matches('/')
                    }),
                    ContainerFilter::Network(n) => facts
                        .get(c.id.as_str())
                        .is_some_and(|f| f.networks.iter().any(|k| k == n || (n.len() >= 3 && k.starts_with(n.as_str())))),
                    ContainerFilter::Publish(p) => facts.get(c.id.as_str()).is_some_and(|f| f.published.contains(p)),
                    ContainerFilter::Expose(p) => facts.get(c.id.as_str()).is_some_and(|f| f.exposed.contains(p)),
                    ContainerFilter::IsTask(t) => !*t,
                })
            })
            .filter(|c| ancestors.is_empty() || ancestors.iter().any(|a| a.as_ref() == Some(&c.image_id)))
            .collect();
        // Newest first, as docker lists.
        out.reverse();
        if let Some(n) = req.last {
            out.truncate(n);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_names_match() {
        assert_eq!(ContainerFilter::parse("status=exited").unwrap(), ContainerFilter::Status(Status::Exited));
        assert!(ContainerFilter::parse("status=sleepy").is_err());
        assert_eq!(ContainerFilter::parse("label=a=b").unwrap(), ContainerFilter::Label { key: "a".into(), value: Some("b".into()) });
        assert_eq!(ContainerFilter::parse("exited=137").unwrap(), ContainerFilter::Exited(137));
        assert_eq!(ContainerFilter::parse("color=red").unwrap_err().to_string(), "invalid filter 'color'");
        assert!(name_matches("web", "my_web_1"));
        assert!(name_matches("^web$", "web") && !name_matches("^web$", "web1"));
        assert!(name_matches("^web", "web1") && !name_matches("^web", "aweb"));
    }
}
