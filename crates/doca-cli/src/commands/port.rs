//! `doca port CONTAINER [PRIVATE_PORT[/PROTO]]`

use crate::cli::PortArgs;
use crate::output::print;
use crate::{CmdResult, Failure};
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: PortArgs) -> CmdResult {
    let c = e.container(&a.container)?;
    let wanted = match &a.port {
        Some(p) => Some(doca_engine::Port::parse(p).map_err(|err| Failure::failed(err.to_string()))?),
        None => None,
    };
    let mut out = String::new();
    for (port, host) in e.container_ports(&c)? {
        let Some(h) = host else { continue };
        if wanted.is_some_and(|w| w != port) {
            continue;
        }
        for ip in doca_engine::networks::host_addresses(&h) {
            match wanted {
                Some(_) => out.push_str(&format!("{ip}:{}\n", h.host_port)),
                None => out.push_str(&format!("{port} -> {ip}:{}\n", h.host_port)),
            }
        }
    }
    if out.is_empty() {
        if let Some(w) = wanted {
            return Err(Failure::failed(format!("No public port '{w}' published for {}", a.container)));
        }
    }
    print(&out)
}
