//! `doca pull`: an image from a registry into the store (doca-image's registry client), with
//! the registry configuration file and the user's docker credentials.

use crate::{Engine, EngineError};
use doca_image::manifest::Platform;
use doca_image::registry::pull::{PullRequest, Pulled};
use doca_image::registry::{auth, RegistryConfig};
use doca_image::unpack::UnpackOptions;
use doca_image::Reference;

pub use doca_image::registry::pull::Progress as PullProgress;

/// The registry configuration: `DOCA_CONFIG`, else `/etc/doca/config.json`; no file, defaults.
pub fn registry_config() -> Result<RegistryConfig, EngineError> {
    let path = std::env::var_os("DOCA_CONFIG").map(std::path::PathBuf::from).unwrap_or_else(|| "/etc/doca/config.json".into());
    Ok(RegistryConfig::load(&path)?)
}

#[derive(Debug, Clone, Default)]
pub struct PullImage {
    pub reference: String,
    /// `--platform`: linux/amd64 when none is given (this host).
    pub platform: Option<String>,
    /// Credentials for this pull (the API's `X-Registry-Auth`); otherwise the stored login.
    pub auth: Option<RegistryAuth>,
}

/// Credentials a client gives with a request, used for it alone and never stored.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryAuth {
    pub username: String,
    pub password: String,
}

/// Never printed: a secret must not reach logs or messages.
impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth").field("username", &self.username).finish_non_exhaustive()
    }
}

/// The request's credentials, or the ones stored for `domain`.
pub(crate) fn credentials(auth: Option<&RegistryAuth>, domain: &str) -> Result<Option<auth::Credentials>, EngineError> {
    Ok(match auth {
        Some(a) => Some(auth::Credentials { username: a.username.clone(), secret: a.password.clone() }),
        None => auth::credentials_for(domain, None)?,
    })
}

#[derive(Debug, Clone)]
pub struct PullResult {
    pub id: doca_store::Digest,
    /// The reference pulled, fully qualified (`docker.io/library/busybox:latest`).
    pub reference: Reference,
    pub manifest_digest: String,
    pub up_to_date: bool,
}

impl Engine {
    #[tracing::instrument(level = "debug", skip_all, fields(reference = %req.reference), err(level = "debug"))]
    pub fn pull_image(&mut self, req: &PullImage, progress: &(dyn Fn(PullProgress) + Sync)) -> Result<PullResult, EngineError> {
        let reference =
            Reference::parse(&req.reference).map_err(|source| EngineError::BadReference { input: req.reference.clone(), source })?;
        let reference = if reference.tag().is_none() && reference.digest().is_none() { reference.with_tag("latest") } else { reference };
        let platform = match &req.platform {
            Some(p) => {
                Platform::parse(p).ok_or_else(|| EngineError::InvalidArgument(format!("invalid platform {p:?}: want os/arch[/variant]")))?
            }
            None => Platform::host(),
        };
        let config = registry_config()?;
        let credentials = credentials(req.auth.as_ref(), reference.domain())?;
        let pulled: Pulled = doca_image::registry::pull::pull(
            &mut self.store,
            &PullRequest {
                reference: reference.clone(),
                platform,
                config: &config,
                credentials,
                unpack: UnpackOptions::default(),
                now: crate::now().unix_timestamp(),
                progress,
            },
        )?;
        let id = pulled.committed.id.clone();
        // docker's pull event names the reference, as pulled.
        self.emit("image", "pull", &reference.familiar(), &[("name", &reference.familiar())]);
        Ok(PullResult { id, reference, manifest_digest: pulled.manifest_digest, up_to_date: pulled.up_to_date })
    }
}
