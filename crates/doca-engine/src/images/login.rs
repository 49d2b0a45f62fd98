//! `doca login`, `doca logout` and `doca manifest inspect`: the registry side of images that
//! is not a pull or a push. Credentials live in Docker's `config.json` (or its credential
//! helper), so docker and doca share one login.

use crate::{Engine, EngineError};
use doca_image::registry::auth::{self, Credentials};
use doca_image::registry::client::Registry;
use doca_image::Reference;

impl Engine {
    /// Checks the credentials against the registry, then stores them. Returns the host.
    pub fn login(&mut self, server: Option<&str>, username: &str, secret: &str) -> Result<String, EngineError> {
        let (host, creds) = verified(server, username, secret)?;
        auth::store_credentials(&host, &creds, None)?;
        Ok(host)
    }

    /// Checks the credentials against the registry without keeping them (the API's `/auth`:
    /// the client keeps its credentials, as with dockerd). Returns the host.
    pub fn check_credentials(&mut self, server: Option<&str>, username: &str, secret: &str) -> Result<String, EngineError> {
        verified(server, username, secret).map(|(host, _)| host)
    }

    /// Forgets the credentials of `server`; false when there were none.
    pub fn logout(&mut self, server: Option<&str>) -> Result<(String, bool), EngineError> {
        let host = auth::server_host(server);
        let removed = auth::erase_credentials(&host, None)?;
        Ok((host, removed))
    }

    /// The tags of a repository (`pull --all-tags`).
    pub fn remote_tags(&mut self, name: &str) -> Result<Vec<String>, EngineError> {
        let (r, reg, _) = connect(name)?;
        Ok(reg.tags(r.path())?)
    }

    /// A manifest or index as the registry has it (`docker manifest inspect`).
    pub fn inspect_remote_manifest(&mut self, name: &str) -> Result<serde_json::Value, EngineError> {
        Ok(self.remote_manifest(name)?.manifest)
    }

    /// The manifest or index `name` resolves to in its registry, with its descriptor
    /// (the API's `/distribution/{name}/json`).
    pub fn remote_manifest(&mut self, name: &str) -> Result<RemoteManifest, EngineError> {
        let (r, reg, config) = connect(name)?;
        let wanted = r.digest().map(|d| d.to_string()).unwrap_or_else(|| r.tag().unwrap_or("latest").to_string());
        let (bytes, media_type, digest) = reg.manifest(r.path(), &wanted, config.max_manifest_size).map_err(|e| match e {
            doca_image::registry::RegistryError::ManifestUnknown(_) => EngineError::InvalidArgument(format!("no such manifest: {r}")),
            e => e.into(),
        })?;
        let manifest = serde_json::from_slice(&bytes).map_err(|e| EngineError::Internal(format!("manifest of {}: {e}", r.familiar())))?;
        Ok(RemoteManifest { manifest, media_type, digest, size: bytes.len() })
    }
}

/// A manifest as a registry serves it.
#[derive(Debug, Clone)]
pub struct RemoteManifest {
    pub manifest: serde_json::Value,
    pub media_type: String,
    pub digest: String,
    pub size: usize,
}

/// The registry of `name`, reached with the configuration and the user's credentials.
fn connect(name: &str) -> Result<(Reference, Registry, doca_image::registry::RegistryConfig), EngineError> {
    let r = Reference::parse(name).map_err(|source| EngineError::BadReference { input: name.to_string(), source })?;
    let config = super::pull::registry_config()?;
    let reg = Registry::connect(r.domain(), &config, auth::credentials_for(r.domain(), None)?)?;
    Ok((r, reg, config))
}

/// The credentials, once the registry has accepted them.
fn verified(server: Option<&str>, username: &str, secret: &str) -> Result<(String, Credentials), EngineError> {
    let host = auth::server_host(server);
    let creds = Credentials { username: username.to_string(), secret: secret.to_string() };
    let config = super::pull::registry_config()?;
    let reg = Registry::connect(&host, &config, Some(creds.clone()))?;
    reg.check_login().map_err(|e| match e {
        doca_image::registry::RegistryError::Unauthorized(_) => {
            EngineError::InvalidArgument(format!("login attempt to {}/v2/ failed with status: 401 Unauthorized", reg.base))
        }
        e => e.into(),
    })?;
    Ok((host, creds))
}
