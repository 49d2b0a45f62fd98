//! ImageInspect (moby api/types/types.go): `GET /images/{name}/json` and `docker image
//! inspect`; the docker CLI prints it as it comes.

use super::{Config, GraphDriver};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageInspect {
    pub id: String,
    pub repo_tags: Vec<String>,
    pub repo_digests: Vec<String>,
    pub parent: String,
    pub comment: String,
    pub created: String,
    /// The container an image was committed from (docker's builders and commit say so).
    pub container: String,
    /// That container's config, as the image config kept it (API < 1.44 shows it).
    pub container_config: Config,
    pub docker_version: String,
    pub author: String,
    pub config: Config,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    pub os: String,
    pub size: i64,
    /// The same as Size since API 1.44 dropped layer sharing from it; 1.41 clients read it.
    pub virtual_size: i64,
    pub graph_driver: GraphDriver,
    #[serde(rename = "RootFS")]
    pub rootfs: RootFs,
    pub metadata: ImageMetadata,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RootFs {
    #[serde(rename = "Type")]
    pub kind: String,
    pub layers: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ImageMetadata {
    pub last_tag_time: String,
}
