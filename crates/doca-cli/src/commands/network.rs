//! `doca network create|ls|inspect|rm|prune`

use crate::cli::NetworkCommand;
use crate::output::{print, row, Format};
use crate::{CmdResult, Failure};
use doca_engine::networks::ConnectNetwork;
use doca_engine::networks::{CreateNetwork, NetworkFilter};
use doca_engine::Engine;
use serde_json::json;

/// At most one value: doca's networks have one subnet of each family.
fn one(list: &[String], flag: &str) -> Result<Option<String>, Failure> {
    match list {
        [] => Ok(None),
        [x] => Ok(Some(x.clone())),
        _ => Err(Failure::failed(format!("{flag}: doca's networks have one subnet of each family; give each once"))),
    }
}

pub fn run(e: &mut Engine, cmd: NetworkCommand) -> CmdResult {
    match cmd {
        NetworkCommand::Create(a) => {
            // One IPv4 and (with --ipv6) one IPv6 subnet and gateway, told apart by their form.
            let (v6, v4): (Vec<String>, Vec<String>) = a.subnet.iter().cloned().partition(|s| s.contains(':'));
            let (g6, g4): (Vec<String>, Vec<String>) = a.gateway.iter().cloned().partition(|s| s.contains(':'));
            let n = e.create_network(&CreateNetwork {
                name: a.name,
                driver: a.driver,
                subnet: one(&v4, "--subnet")?,
                gateway: one(&g4, "--gateway")?,
                ip_range: one(&a.ip_range, "--ip-range")?,
                internal: a.internal,
                labels: super::key_values(&a.label, "label", crate::exit::Verb::Other)?,
                options: super::key_values(&a.opt, "option", crate::exit::Verb::Other)?,
                ipv6: a.ipv6,
                subnet6: one(&v6, "--subnet")?,
                gateway6: one(&g6, "--gateway")?,
            })?;
            print(&format!("{}\n", n.id))
        }
        NetworkCommand::Ls(a) => {
            let filters = a.filter.iter().map(|f| NetworkFilter::parse(f)).collect::<Result<Vec<_>, _>>()?;
            let nets = e.list_networks(&filters)?;
            let rows: Vec<_> = nets
                .iter()
                .map(|n| {
                    let labels: Vec<String> = n.config.labels.iter().map(|(k, x)| format!("{k}={x}")).collect();
                    row(vec![
                        ("ID", json!(if a.no_trunc { n.id.as_str() } else { &n.id[..12] })),
                        ("Name", json!(n.name)),
                        ("Driver", json!(n.driver)),
                        ("Scope", json!("local")),
                        ("IPv6", json!(n.config.subnet6.is_some())),
                        ("Internal", json!(n.config.internal)),
                        ("Labels", json!(labels.join(","))),
                        crate::output::label_method(&n.config.labels),
                        ("CreatedAt", json!(n.created)),
                    ])
                })
                .collect();
            let format = match (&a.format, a.quiet) {
                (Some(f), _) => f.clone(),
                (None, true) => "{{.ID}}".into(),
                (None, false) => "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}".into(),
            };
            let headers = row(vec![
                ("ID", json!("NETWORK ID")),
                ("Name", json!("NAME")),
                ("Driver", json!("DRIVER")),
                ("Scope", json!("SCOPE")),
                ("IPv6", json!("IPV6")),
                ("Internal", json!("INTERNAL")),
                ("Labels", json!("LABELS")),
                ("CreatedAt", json!("CREATED AT")),
            ]);
            print(&Format::parse(&format)?.render(&headers, &rows)?)
        }
        NetworkCommand::Inspect(a) => {
            super::inspect::print_found(&a.names, a.format.as_deref(), |n| e.inspect_network(n).map_err(|err| err.to_string()))
        }
        NetworkCommand::Rm(a) => super::stop::for_each_container(&a.names, |n| match e.remove_network(n) {
            Err(doca_engine::EngineError::NoSuchNetwork(_)) if a.force => Ok(()),
            r => r.map(drop),
        }),
        NetworkCommand::Connect(a) => {
            let ip = match a.ip.as_deref() {
                Some(i) => Some(i.parse().map_err(|_| Failure::failed(format!("invalid IPv4 address: {i}")))?),
                None => None,
            };
            Ok(e.connect_network(&ConnectNetwork { network: a.network, container: a.container, ip, aliases: a.alias })?)
        }
        NetworkCommand::Disconnect(a) => Ok(e.disconnect_network(&a.network, &a.container, a.force)?),
        NetworkCommand::Prune(a) => {
            let filters = doca_engine::prune::PruneFilters::from_args(&a.filter)?;
            if !a.force && !super::confirm("WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ")? {
                return Ok(());
            }
            print(&crate::output::deleted_section("Deleted Networks", e.prune_networks(&filters)?))
        }
    }
}
