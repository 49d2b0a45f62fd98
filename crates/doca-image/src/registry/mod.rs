//! The OCI distribution client (distribution-spec v1.1, and what Docker Hub and
//! docker/distribution speak): the `/v2/` API over HTTP(S), anonymous, basic and bearer-token
//! auth, TLS with the system CAs and Docker's `certs.d/<host>/` (CA, client certificate),
//! plain HTTP only for insecure registries (loopback ones are, as in docker), mirrors for
//! docker.io, retries with back-off. `pull` brings an image into the store with every byte
//! checked against its digest.

pub mod auth;
pub mod client;
pub mod pull;
pub mod push;

use crate::archive::ArchiveError;
use serde::Deserialize;
use std::path::PathBuf;

/// Docker Hub: the registry `docker.io` names, and the key docker's config.json uses for it.
pub const DOCKER_HUB: &str = "docker.io";
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
pub const DOCKER_HUB_AUTH_KEY: &str = "https://index.docker.io/v1/";

/// The one configuration file (`/etc/doca/config.json`, or `DOCA_CONFIG`), with dockerd's
/// daemon.json names; every field has a default, so no file is needed.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
pub struct RegistryConfig {
    /// Hosts (`host:port`) that may be reached over plain HTTP or with an unverified
    /// certificate. Loopback hosts may too, as in docker, unless `certs.d/<host>/` exists:
    /// then they are verified against it.
    pub insecure_registries: Vec<String>,
    /// Mirrors tried first for docker.io images (`https://mirror.example`).
    pub registry_mirrors: Vec<String>,
    pub max_concurrent_downloads: usize,
    pub max_concurrent_uploads: usize,
    /// Where `<host>/ca.crt`, `<host>/client.cert` and `<host>/client.key` are looked for.
    pub certs_dirs: Vec<PathBuf>,
    /// Manifests larger than this are refused (bytes).
    pub max_manifest_size: u64,
    /// Seconds a registry may stay silent (connecting, answering, or mid-transfer) before the
    /// request fails; a slow transfer that moves is never cut.
    pub timeout_seconds: u64,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            insecure_registries: Vec::new(),
            registry_mirrors: Vec::new(),
            max_concurrent_downloads: 3,
            max_concurrent_uploads: 5,
            certs_dirs: vec![PathBuf::from("/etc/doca/certs.d"), PathBuf::from("/etc/docker/certs.d")],
            max_manifest_size: 4 << 20,
            timeout_seconds: 60,
        }
    }
}

impl RegistryConfig {
    /// Reads the file if it exists; a missing file is the defaults.
    pub fn load(path: &std::path::Path) -> Result<RegistryConfig, RegistryError> {
        match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| RegistryError::Config(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(RegistryConfig::default()),
            Err(e) => Err(RegistryError::Config(format!("{}: {e}", path.display()))),
        }
    }

    pub fn is_insecure(&self, host: &str) -> bool {
        let name = host.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map(|(h, _)| h).unwrap_or(host);
        let name = name.trim_start_matches('[').trim_end_matches(']');
        let loopback = name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        loopback || self.insecure_registries.iter().any(|r| r == host || r == name)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The request did not get an HTTP answer (docker's wording: `Get "URL": ...`).
    #[error("{method} \"{url}\": {message}")]
    Transport { method: String, url: String, message: String },
    #[error("pull access denied for {0}, repository does not exist or may require 'docker login': denied: requested access to the resource is denied")]
    PullDenied(String),
    #[error("unauthorized: authentication required for {0}")]
    Unauthorized(String),
    #[error("manifest for {0} not found: manifest unknown: manifest unknown")]
    ManifestUnknown(String),
    #[error("no matching manifest for {platform} in the manifest list entries of {reference}")]
    NoPlatform { reference: String, platform: String },
    /// The registry answered, but not as the protocol says.
    #[error("{registry}: {message}")]
    Protocol { registry: String, message: String },
    /// A blob or manifest whose content does not match its digest.
    #[error("{registry}: {what} {expected}: content does not match its digest (got {got}): refused")]
    DigestMismatch { registry: String, what: String, expected: String, got: String },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("credentials for {host}: {message}")]
    Credentials { host: String, message: String },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
}

impl From<doca_store::BlobError> for RegistryError {
    fn from(e: doca_store::BlobError) -> Self {
        RegistryError::Archive(ArchiveError::Store(e.into()))
    }
}

impl From<doca_store::DbError> for RegistryError {
    fn from(e: doca_store::DbError) -> Self {
        RegistryError::Archive(ArchiveError::Store(e.into()))
    }
}

/// Runs `work` on `items` with up to `workers` threads (1-16), each taking the next item in
/// order; after the first failure no item is started. Returns what succeeded and that failure
/// (the caller decides what to take back). Pulls and pushes move their blobs this way.
pub(crate) fn in_parallel<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> Result<R, RegistryError> + Sync,
) -> (Vec<R>, Option<RegistryError>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let done = Mutex::new(Vec::new());
    let failed: Mutex<Option<RegistryError>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..workers.clamp(1, 16).min(items.len().max(1)) {
            s.spawn(|| loop {
                if failed.lock().expect("failed").is_some() {
                    return;
                }
                let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) else { return };
                match work(item) {
                    Ok(r) => done.lock().expect("done").push(r),
                    Err(e) => {
                        failed.lock().expect("failed").get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    (done.into_inner().expect("done"), failed.into_inner().expect("failed"))
}
