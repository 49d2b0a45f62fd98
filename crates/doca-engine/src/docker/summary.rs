//! The list shapes: moby's `types.Container` (`GET /containers/json`, `doca ps`) and
//! `types.ImageSummary` (`GET /images/json`).

use super::{EndpointSettings, MountPoint};
use serde::Serialize;
use std::collections::BTreeMap;

/// One container in a list (moby api/types.Container).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerSummary {
    pub id: String,
    pub names: Vec<String>,
    /// The name it was created from, or the image's id when that name now leads elsewhere.
    pub image: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    /// The command line, the words joined by spaces.
    pub command: String,
    pub created: i64,
    pub ports: Vec<SummaryPort>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_rw: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_root_fs: Option<i64>,
    pub labels: BTreeMap<String, String>,
    pub state: String,
    /// "Up 5 minutes (healthy)", "Exited (0) 2 hours ago", ...
    pub status: String,
    pub host_config: SummaryHostConfig,
    pub network_settings: SummaryNetworkSettings,
    pub mounts: Vec<MountPoint>,
}

/// A port in a list (moby api/types.Port): `IP` and `PublicPort` only when published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SummaryPort {
    #[serde(rename = "IP", skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(rename = "PrivatePort")]
    pub private_port: u16,
    #[serde(rename = "PublicPort", skip_serializing_if = "Option::is_none")]
    pub public_port: Option<u16>,
    #[serde(rename = "Type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SummaryHostConfig {
    pub network_mode: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SummaryNetworkSettings {
    pub networks: BTreeMap<String, EndpointSettings>,
}

/// One image in a list (moby api/types/image.Summary): every field always present.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageSummary {
    /// How many containers use it; -1 when not counted (docker counts only for `system df`).
    pub containers: i64,
    pub created: i64,
    pub id: String,
    pub labels: BTreeMap<String, String>,
    pub parent_id: String,
    pub repo_digests: Vec<String>,
    pub repo_tags: Vec<String>,
    pub shared_size: i64,
    pub size: i64,
    pub virtual_size: i64,
}
