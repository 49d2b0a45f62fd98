//! Who doca is to a registry: credentials from Docker's `config.json` (`auths`, `credsStore`,
//! `credHelpers` through `docker-credential-*` helpers), so a user logged in with docker is
//! logged in with doca, and the `WWW-Authenticate` challenge (RFC 6750; the distribution
//! token spec: `Bearer realm=...,service=...,scope=...`).

use super::{RegistryError, DOCKER_HUB, DOCKER_HUB_AUTH_KEY};
use base64::Engine as _;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub secret: String,
}

/// Never printed: a secret must not reach logs or messages.
impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, <redacted>)", self.username)
    }
}

/// `~/.docker/config.json` (or `$DOCKER_CONFIG/config.json`).
pub fn docker_config_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(d).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker").join("config.json"))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, rename = "identitytoken")]
    identity_token: Option<String>,
}

/// The key docker's config uses for a registry host.
fn config_key(host: &str) -> &str {
    if host == DOCKER_HUB {
        DOCKER_HUB_AUTH_KEY
    } else {
        host
    }
}

/// The credentials the user has for `host`, if any.
pub fn credentials_for(host: &str, config: Option<&std::path::Path>) -> Result<Option<Credentials>, RegistryError> {
    let Some(path) = config.map(PathBuf::from).or_else(docker_config_path) else { return Ok(None) };
    let bad = |message: String| RegistryError::Credentials { host: host.to_string(), message };
    let cfg: DockerConfig = match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| bad(format!("{}: {e}", path.display())))?,
        Err(_) => return Ok(None),
    };
    let key = config_key(host);
    if let Some(helper) = cfg.cred_helpers.get(key).or_else(|| cfg.cred_helpers.get(host)).or(cfg.creds_store.as_ref()) {
        if let Some(c) = from_helper(helper, key).map_err(bad)? {
            return Ok(Some(c));
        }
    }
    // Entries may be written as "host", "https://host" or "https://host/v1/".
    let entry = cfg.auths.iter().find(|(k, _)| {
        let k = k.trim_start_matches("https://").trim_start_matches("http://");
        let k = k.split('/').next().unwrap_or(k);
        k == host || (host == DOCKER_HUB && (k == "index.docker.io" || k == "registry-1.docker.io"))
    });
    let Some((_, e)) = entry else { return Ok(None) };
    if let Some(t) = &e.identity_token {
        return Ok(Some(Credentials { username: "<token>".into(), secret: t.clone() }));
    }
    if let (Some(u), Some(p)) = (&e.username, &e.password) {
        return Ok(Some(Credentials { username: u.clone(), secret: p.clone() }));
    }
    let Some(auth) = &e.auth else { return Ok(None) };
    let decoded = base64::engine::general_purpose::STANDARD.decode(auth.trim()).map_err(|_| bad("the auth entry is not base64".into()))?;
    let text = String::from_utf8(decoded).map_err(|_| bad("the auth entry is not UTF-8".into()))?;
    match text.split_once(':') {
        Some((u, p)) => Ok(Some(Credentials { username: u.to_string(), secret: p.to_string() })),
        None => Err(bad("the auth entry is not user:password".into())),
    }
}

/// `docker-credential-<helper> get` with the server URL on stdin (docker-credential-helpers'
/// protocol); "credentials not found" is no credentials, not an error.
fn from_helper(helper: &str, server: &str) -> Result<Option<Credentials>, String> {
    let Ok(out) = run_helper(helper, "get", server) else { return Ok(None) };
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Answer {
        username: String,
        secret: String,
    }
    let a: Answer = serde_json::from_slice(&out).map_err(|e| format!("docker-credential-{helper}: {e}"))?;
    Ok(Some(Credentials { username: a.username, secret: a.secret }))
}

/// The registry host a `login`/`logout` argument names: `https://index.docker.io/v1/` and
/// no argument are Docker Hub; a scheme and a path are dropped.
pub fn server_host(server: Option<&str>) -> String {
    let Some(s) = server else { return DOCKER_HUB.to_string() };
    let s = s.trim_start_matches("https://").trim_start_matches("http://");
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "" | "index.docker.io" | "registry-1.docker.io" | DOCKER_HUB => DOCKER_HUB.to_string(),
        h => h.to_string(),
    }
}

fn read_config(path: &std::path::Path, host: &str) -> Result<serde_json::Value, RegistryError> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b)
            .map_err(|e| RegistryError::Credentials { host: host.into(), message: format!("{}: {e}", path.display()) }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(serde_json::json!({})),
        Err(e) => Err(RegistryError::Credentials { host: host.into(), message: format!("{}: {e}", path.display()) }),
    }
}

/// Writes the file whole through a temp file and a rename, mode 0600 (it holds secrets).
fn write_config(path: &std::path::Path, v: &serde_json::Value, host: &str) -> Result<(), RegistryError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let bad = |e: std::io::Error| RegistryError::Credentials { host: host.into(), message: format!("{}: {e}", path.display()) };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(bad)?;
    }
    let tmp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(bad)?;
    f.write_all(serde_json::to_string_pretty(v).expect("json").as_bytes()).map_err(bad)?;
    f.sync_all().map_err(bad)?;
    std::fs::rename(&tmp, path).map_err(bad)
}

/// `login`: the credentials into Docker's config (its `credsStore` helper when one is set,
/// else `auths` with base64 user:secret, as docker writes it).
pub fn store_credentials(host: &str, c: &Credentials, config: Option<&std::path::Path>) -> Result<(), RegistryError> {
    let path = config
        .map(PathBuf::from)
        .or_else(docker_config_path)
        .ok_or_else(|| RegistryError::Credentials { host: host.into(), message: "no HOME for ~/.docker/config.json".into() })?;
    let mut v = read_config(&path, host)?;
    let key = config_key(host).to_string();
    let helper = v["credHelpers"][&key].as_str().or(v["credsStore"].as_str()).map(String::from);
    if let Some(helper) = helper {
        let body = serde_json::json!({"ServerURL": key, "Username": c.username, "Secret": c.secret}).to_string();
        run_helper(&helper, "store", &body).map_err(|message| RegistryError::Credentials { host: host.into(), message })?;
        v["auths"][&key] = serde_json::json!({});
    } else {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.secret));
        if !v["auths"].is_object() {
            v["auths"] = serde_json::json!({});
        }
        v["auths"][&key] = serde_json::json!({ "auth": auth });
    }
    write_config(&path, &v, host)
}

/// `logout`: false when there was nothing to remove.
pub fn erase_credentials(host: &str, config: Option<&std::path::Path>) -> Result<bool, RegistryError> {
    let Some(path) = config.map(PathBuf::from).or_else(docker_config_path) else { return Ok(false) };
    let mut v = read_config(&path, host)?;
    let key = config_key(host).to_string();
    if let Some(helper) = v["credHelpers"][&key].as_str().or(v["credsStore"].as_str()).map(String::from) {
        let _ = run_helper(&helper, "erase", &key);
    }
    let removed = v["auths"].as_object_mut().and_then(|a| a.remove(&key)).is_some();
    if removed {
        write_config(&path, &v, host)?;
    }
    Ok(removed)
}

fn run_helper(helper: &str, verb: &str, input: &str) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let program = format!("docker-credential-{helper}");
    let mut child = std::process::Command::new(&program)
        .arg(verb)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| format!("{program}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{program} {verb}: {}", String::from_utf8_lossy(&out.stdout).trim()));
    }
    Ok(out.stdout)
}

/// `Basic base64(user:secret)`.
pub fn basic(c: &Credentials) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", c.username, c.secret)))
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// "bearer" or "basic", lowercase.
    pub scheme: String,
    pub params: HashMap<String, String>,
}

impl Challenge {
    pub fn parse(header: &str) -> Option<Challenge> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(char::is_whitespace).unwrap_or((header, ""));
        let mut params = HashMap::new();
        let mut rest = rest.trim();
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
            let after = after.trim_start();
            let (value, tail) = if let Some(q) = after.strip_prefix('"') {
                // A quoted string; \" escapes a quote.
                let mut v = String::new();
                let mut chars = q.char_indices();
                let mut end = q.len();
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                v.push(n);
                            }
                        }
                        '"' => {
                            end = i + 1;
                            break;
                        }
                        c => v.push(c),
                    }
                }
                (v, &q[end.min(q.len())..])
            } else {
                let end = after.find(',').unwrap_or(after.len());
                (after[..end].trim().to_string(), &after[end..])
            };
            params.insert(key, value);
            rest = tail.trim_start().trim_start_matches(',').trim_start();
        }
        Some(Challenge { scheme: scheme.to_ascii_lowercase(), params })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_as_registries_send_them() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["scope"], "repository:library/busybox:pull");
        let c = Challenge::parse(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!((c.scheme.as_str(), c.params["realm"].as_str()), ("basic", "Registry Realm"));
        let c = Challenge::parse(r#"Bearer realm=https://x/token, service="a \"b\"""#).unwrap();
        assert_eq!((c.params["realm"].as_str(), c.params["service"].as_str()), ("https://x/token", "a \"b\""));
    }

    #[test]
    fn credentials_from_docker_config_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret:x");
        std::fs::write(
            &path,
            format!(r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}},"localhost:5000":{{"auth":"{auth}"}}}}}}"#),
        )
        .unwrap();
        let c = credentials_for("docker.io", Some(&path)).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.secret.as_str()), ("alice", "s3cret:x"));
        assert!(credentials_for("localhost:5000", Some(&path)).unwrap().is_some());
        assert!(credentials_for("other:5000", Some(&path)).unwrap().is_none());
        assert!(!format!("{c:?}").contains("s3cret"));
        assert_eq!(basic(&c), format!("Basic {auth}"));
    }

    #[test]
    fn login_and_logout_keep_the_rest_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d/config.json");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, r#"{"auths":{"other:1":{"auth":"eDp5"}},"psFormat":"table {{.ID}}"}"#).unwrap();
        let c = Credentials { username: "bob".into(), secret: "pw".into() };
        store_credentials("localhost:5000", &c, Some(&path)).unwrap();
        assert_eq!(credentials_for("localhost:5000", Some(&path)).unwrap(), Some(c));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["psFormat"], "table {{.ID}}");
        assert!(v["auths"]["other:1"].is_object());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(erase_credentials("localhost:5000", Some(&path)).unwrap());
        assert!(!erase_credentials("localhost:5000", Some(&path)).unwrap());
        assert_eq!(credentials_for("localhost:5000", Some(&path)).unwrap(), None);
        assert_eq!(server_host(Some("https://index.docker.io/v1/")), "docker.io");
        assert_eq!(server_host(Some("localhost:5000")), "localhost:5000");
        assert_eq!(server_host(None), "docker.io");
    }
}
