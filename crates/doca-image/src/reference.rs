//! Docker image references (distribution/reference grammar):
//! `[domain[:port]/]path[:tag][@digest]`, normalized as docker does: `busybox` is
//! `docker.io/library/busybox:latest`.

use doca_store::Digest;
use std::fmt;
use std::str::FromStr;

pub const DEFAULT_DOMAIN: &str = "docker.io";
const OFFICIAL_PREFIX: &str = "library/";
const NAME_MAX: usize = 255;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid reference format")]
    Format,
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    #[error("invalid repository name ({0}), cannot specify 64-byte hexadecimal strings")]
    HexName(String),
    #[error("repository name must not be more than {NAME_MAX} characters")]
    TooLong,
    #[error("invalid reference format: {0}")]
    Digest(String),
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

/// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | __ | [-]+
fn valid_path_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum_lower(b[0]) || !is_alnum_lower(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum_lower(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum_lower(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || d.starts_with('[') => (h, Some(p)),
        _ => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    if host.starts_with('[') && host.ends_with(']') {
        return host[1..host.len() - 1].parse::<std::net::Ipv6Addr>().is_ok();
    }
    !host.is_empty()
        && host.split('.').all(|c| {
            let b = c.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|x| x.is_ascii_alphanumeric() || *x == b'-')
        })
}

pub fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|x| x.is_ascii_alphanumeric() || b"_.-".contains(x))
}

impl Reference {
    /// Parses and normalizes a reference as the docker CLI does (`ParseNormalizedNamed`).
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ReferenceError::HexName(s.to_string()));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d.parse::<Digest>().map_err(|e| ReferenceError::Digest(e.to_string()))?)),
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/'.
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(ReferenceError::Format);
            }
        }
        if name.is_empty() {
            return Err(ReferenceError::Format);
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains(['.', ':']) || first == "localhost" || first.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                (first.to_string(), remainder.to_string())
            }
            _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        };
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') { format!("{OFFICIAL_PREFIX}{path}") } else { path };
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(path));
        }
        if !valid_domain(&domain) || !path.split('/').all(valid_path_component) {
            return Err(ReferenceError::Format);
        }
        if domain.len() + 1 + path.len() > NAME_MAX {
            return Err(ReferenceError::TooLong);
        }
        Ok(Reference { domain, path, tag: tag.map(str::to_string), digest })
    }

    /// Like `parse`, adding `:latest` when neither tag nor digest is given (`TagNameOnly`).
    pub fn parse_tagged(s: &str) -> Result<Self, ReferenceError> {
        let mut r = Self::parse(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some("latest".into());
        }
        Ok(r)
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }
    pub fn path(&self) -> &str {
        &self.path
    }
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// `docker.io/library/busybox`
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// `busybox`, `localhost:5000/x`: the short form docker prints.
    pub fn familiar_name(&self) -> String {
        familiar_name(&self.domain, &self.path)
    }

    pub fn with_tag(&self, tag: &str) -> Reference {
        Reference { tag: Some(tag.to_string()), digest: None, ..self.clone() }
    }

    /// `busybox:latest`
    pub fn familiar(&self) -> String {
        let mut s = self.familiar_name();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d.as_str());
        }
        s
    }
}

fn familiar_name(domain: &str, path: &str) -> String {
    if domain == DEFAULT_DOMAIN {
        path.strip_prefix(OFFICIAL_PREFIX).unwrap_or(path).to_string()
    } else {
        format!("{domain}/{path}")
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        let cases = [
            ("busybox", "docker.io/library/busybox", None, "busybox"),
            ("busybox:1.36", "docker.io/library/busybox", Some("1.36"), "busybox:1.36"),
            ("user/app:v1", "docker.io/user/app", Some("v1"), "user/app:v1"),
            ("localhost:5000/x/y:t", "localhost:5000/x/y", Some("t"), "localhost:5000/x/y:t"),
            ("localhost/x", "localhost/x", None, "localhost/x"),
            ("ghcr.io/a/b-c_d.e", "ghcr.io/a/b-c_d.e", None, "ghcr.io/a/b-c_d.e"),
            ("docker.io/library/busybox:latest", "docker.io/library/busybox", Some("latest"), "busybox:latest"),
            ("[::1]:5000/x:y", "[::1]:5000/x", Some("y"), "[::1]:5000/x:y"),
        ];
        for (input, name, tag, familiar) in cases {
            let r = Reference::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.name(), name, "{input}");
            assert_eq!(r.tag(), tag, "{input}");
            assert_eq!(r.familiar(), familiar, "{input}");
        }
        let d = Digest::of(b"x");
        let r = Reference::parse(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.digest(), Some(&d));
        assert_eq!(Reference::parse_tagged("busybox").unwrap().to_string(), "docker.io/library/busybox:latest");
    }

    #[test]
    fn rejects_like_docker() {
        assert_eq!(Reference::parse("UPPER:bad"), Err(ReferenceError::Uppercase("library/UPPER".into())));
        assert_eq!(
            Reference::parse("UPPER:bad").unwrap_err().to_string(),
            "invalid reference format: repository name (library/UPPER) must be lowercase"
        );
        for bad in ["", ":tag", "a:", "a:-x", "a//b", "a/", "-a", "a..b", "a b", "a:t@sha256:1", "a___b", &"x".repeat(300)] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(matches!(Reference::parse(&"a".repeat(64)), Err(ReferenceError::HexName(_))));
        assert!(Reference::parse(&format!("a:{}", "t".repeat(129))).is_err());
    }
}
