//! `doca serve` (`doca system service`): Docker's Engine API over this store, for Docker's
//! clients (the docker CLI, compose, the SDKs). The server is `doca-api`; this is its flags.

use crate::cli::{Cli, ServeArgs};
use crate::{CmdResult, Failure};
use doca_api::{Endpoint, Serve, Tls};
use doca_engine::EngineConfig;

pub fn run(cli: &Cli, a: ServeArgs) -> CmdResult {
    let mut endpoints = Vec::new();
    for h in &a.host {
        endpoints.push(Endpoint::parse(h).map_err(|e| Failure::not_run(e.to_string()))?);
    }
    // Socket activation: systemd's sockets when it passed some, else the default socket.
    if endpoints.is_empty() {
        endpoints.push(if std::env::var_os("LISTEN_FDS").is_some() {
            Endpoint::Systemd
        } else {
            Endpoint::Unix(cli.run_root.join("doca.sock"))
        });
    }
    let tls = match (&a.tlscert, &a.tlskey) {
        (Some(cert), Some(key)) => {
            Some(Tls { cert: cert.clone(), key: key.clone(), client_ca: if a.tlsverify { a.tlscacert.clone() } else { None } })
        }
        (None, None) if a.tlsverify => return Err(Failure::not_run("--tlsverify needs --tlscert and --tlskey (and --tlscacert)")),
        (None, None) => None,
        _ => return Err(Failure::not_run("--tlscert and --tlskey go together")),
    };
    if a.tlsverify && a.tlscacert.is_none() {
        return Err(Failure::not_run("--tlsverify needs --tlscacert: the CA that signs the clients' certificates"));
    }
    let req = Serve {
        engine: EngineConfig { root: cli.root.clone(), run_root: cli.run_root.clone() },
        endpoints,
        tls,
        insecure_tcp: a.insecure_tcp,
        idle_timeout: (a.timeout > 0).then(|| std::time::Duration::from_secs(a.timeout)),
    };
    doca_api::serve(req).map_err(|e| Failure::failed(e.to_string()))
}
