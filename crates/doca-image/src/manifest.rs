//! OCI image manifests and indexes (image-spec manifest.md, image-index.md) and Docker's
//! schema2 manifests and manifest lists, as far as doca reads them: one type for all four,
//! since their JSON shares the fields that matter (mediaType, config, layers, manifests).

use doca_store::Digest;
use serde::Deserialize;
use std::collections::HashMap;

use crate::media;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    #[serde(default)]
    pub media_type: String,
    pub digest: Digest,
    #[serde(default)]
    pub size: i64,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    #[serde(default)]
    pub platform: Option<Platform>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Platform {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// This host's platform (linux and Go's name of the architecture).
    pub fn host() -> Platform {
        Platform { architecture: host_arch().into(), os: "linux".into(), variant: None }
    }

    /// `linux/amd64`, `linux/arm64/v8`, `amd64`.
    pub fn parse(s: &str) -> Option<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        let (os, arch, variant) = match parts.as_slice() {
            [arch] => ("linux", *arch, None),
            [os, arch] => (*os, *arch, None),
            [os, arch, v] => (*os, *arch, Some(v.to_string())),
            _ => return None,
        };
        let arch = match arch {
            "x86_64" | "x86-64" => "amd64",
            "aarch64" => "arm64",
            a => a,
        };
        (!os.is_empty() && !arch.is_empty()).then(|| Platform { architecture: arch.into(), os: os.into(), variant })
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    #[serde(default)]
    pub schema_version: i64,
    #[serde(default)]
    pub media_type: String,
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

impl Manifest {
    pub fn is_index(&self) -> bool {
        self.media_type == media::OCI_INDEX
            || self.media_type == media::DOCKER_LIST
            || (self.config.is_none() && !self.manifests.is_empty())
    }

    /// The entry of an index for `want`: the same os and architecture, and the variant when
    /// one is asked (arm64's "v8" is its default, as containerd's platform matcher has it);
    /// an entry without a platform only when nothing matches.
    pub fn pick(&self, want: &Platform) -> Option<&Descriptor> {
        let variant_ok = |p: &Platform| match (&want.variant, &p.variant) {
            (None, _) => true,
            (Some(w), Some(v)) => w == v,
            (Some(w), None) => want.architecture == "arm64" && w == "v8",
        };
        self.manifests
            .iter()
            .find(|c| c.platform.as_ref().is_some_and(|p| p.os == want.os && p.architecture == want.architecture && variant_ok(p)))
            .or_else(|| self.manifests.iter().find(|c| c.platform.is_none()))
    }
}

/// This host's architecture as OCI platforms name it.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_and_index_entries() {
        assert_eq!(
            Platform::parse("linux/arm64/v8"),
            Some(Platform { os: "linux".into(), architecture: "arm64".into(), variant: Some("v8".into()) })
        );
        assert_eq!(Platform::parse("x86_64").unwrap().to_string(), "linux/amd64");
        assert_eq!(Platform::parse("a/b/c/d"), None);
        let d = |arch: &str, v: Option<&str>, n: u8| {
            format!(
                r#"{{"mediaType":"x","digest":"sha256:{}","size":1,"platform":{{"os":"linux","architecture":"{arch}"{}}}}}"#,
                format!("{n:02x}").repeat(32),
                v.map(|v| format!(r#","variant":"{v}""#)).unwrap_or_default()
            )
        };
        let index: Manifest = serde_json::from_str(&format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{},{},{}]}}"#,
            media::OCI_INDEX,
            d("arm", Some("v7"), 1),
            d("arm64", None, 2),
            d("amd64", None, 3)
        ))
        .unwrap();
        assert!(index.is_index());
        let pick = |s: &str| index.pick(&Platform::parse(s).unwrap()).map(|d| d.digest.hex()[..2].to_string());
        assert_eq!(pick("linux/amd64").as_deref(), Some("03"));
        assert_eq!(pick("linux/arm64/v8").as_deref(), Some("02"));
        assert_eq!(pick("linux/arm/v7").as_deref(), Some("01"));
        assert_eq!(pick("linux/arm/v6"), None);
        assert_eq!(pick("linux/s390x"), None);
    }
}
