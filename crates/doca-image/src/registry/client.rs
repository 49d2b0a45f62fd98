//! One registry, over HTTP(S): the `/v2/` ping that picks the endpoint (mirrors first for
//! docker.io; HTTPS, then plain HTTP only for insecure registries), requests with the auth
//! challenge answered (a bearer token per scope from the realm, or basic credentials), and
//! retries with back-off on 429, 5xx and dropped connections. Shared by threads (`&self`).

use super::auth::{basic, Challenge, Credentials};
use super::{RegistryConfig, RegistryError, DOCKER_HUB, DOCKER_HUB_API};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::sync::Mutex;
use std::time::Duration;
use ureq::http::{Response, StatusCode};
use ureq::tls::{Certificate, ClientCert, PemItem, PrivateKey, RootCerts, TlsConfig};

pub type Body = ureq::Body;

/// What a request sends.
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    None,
    Bytes(&'a [u8]),
    /// A file, sent from its start (again on a retry).
    File(&'a std::path::Path),
}

/// What to ask a manifest for (distribution-spec "Pulling manifests"): every kind doca reads.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// How many times a request is tried when the registry is busy or the connection drops.
const ATTEMPTS: u32 = 4;

pub struct Registry {
    /// The registry as references name it: `docker.io`, `localhost:5000`.
    pub host: String,
    /// The endpoint chosen by the ping: `https://registry-1.docker.io`, `http://127.0.0.1:5000`.
    pub base: String,
    agent: ureq::Agent,
    creds: Option<Credentials>,
    /// Authorization header values by scope ("" for basic auth).
    tokens: Mutex<HashMap<String, String>>,
}

fn system_roots() -> Vec<Certificate<'static>> {
    let mut out = Vec::new();
    for f in ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"] {
        if let Ok(pem) = std::fs::read(f) {
            out.extend(certs_of(&pem));
            if !out.is_empty() {
                break;
            }
        }
    }
    out
}

fn certs_of(pem: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|i| match i {
            Ok(PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

/// TLS for `host`: the system's CAs plus `certs.d/<host>/*.crt`, and the client certificate
/// `client.cert` with `client.key` when present (Docker's layout, "Verify repository client
/// certificates").
fn tls_for(host: &str, cfg: &RegistryConfig, verify: bool) -> Result<TlsConfig, RegistryError> {
    let mut roots = system_roots();
    let mut client = None;
    for dir in cfg.certs_dirs.iter().map(|d| d.join(host)) {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        for p in &names {
            let bad = |m: String| RegistryError::Config(format!("{}: {m}", p.display()));
            match p.extension().and_then(|e| e.to_str()) {
                Some("crt") => roots.extend(certs_of(&std::fs::read(p).map_err(|e| bad(e.to_string()))?)),
                Some("cert") => {
                    let key_path = p.with_extension("key");
                    let chain = certs_of(&std::fs::read(p).map_err(|e| bad(e.to_string()))?);
                    let key_pem = std::fs::read(&key_path).map_err(|e| bad(format!("its key {}: {e}", key_path.display())))?;
                    let key = PrivateKey::from_pem(&key_pem).map_err(|e| bad(format!("its key: {e}")))?;
                    client = Some(ClientCert::new_with_certs(&chain, key));
                }
                _ => {}
            }
        }
    }
    let roots = if roots.is_empty() { RootCerts::WebPki } else { RootCerts::new_with_certs(&roots) };
    Ok(TlsConfig::builder().root_certs(roots).client_cert(client).disable_verification(!verify).build())
}

fn agent(tls: TlsConfig, timeout: Duration) -> ureq::Agent {
    ureq::config::Config::builder()
        .http_status_as_error(false)
        .tls_config(tls)
        .user_agent(concat!("doca/", env!("CARGO_PKG_VERSION")))
        .timeout_connect(Some(timeout.min(Duration::from_secs(15))))
        .timeout_recv_response(Some(timeout))
        // A stalled transfer fails instead of hanging; a slow one that moves goes on.
        .timeout_per_read(Some(timeout))
        .max_redirects(10)
        .build()
        .new_agent()
}

/// docker's shape of a transport failure: `Get "URL": connect: connection refused`.
fn transport(method: &str, url: &str, e: impl std::fmt::Display) -> RegistryError {
    let text = e.to_string();
    let text = text.split(" (os error").next().unwrap_or(&text);
    let lower_first = |t: &str| -> String {
        let mut c = t.chars();
        c.next().map(|f| f.to_lowercase().chain(c).collect()).unwrap_or_default()
    };
    let mut message = match text.strip_prefix("io: ") {
        Some(t) => format!("connect: {}", lower_first(t)),
        None => lower_first(text),
    };
    if let Some(proxy) = proxy_for(url) {
        message.push_str(&format!(" (through the proxy {proxy})"));
    }
    RegistryError::Transport { method: method.into(), url: url.into(), message }
}

/// The proxy the HTTP client sends `url` through, from ALL_PROXY/HTTPS_PROXY/HTTP_PROXY and
/// NO_PROXY (ureq reads them, as dockerd honours them for pulls), as host:port.
fn proxy_for(url: &str) -> Option<String> {
    let uri: ureq::http::Uri = url.parse().ok()?;
    ureq::Proxy::try_from_env().filter(|p| !p.is_no_proxy(&uri)).map(|p| format!("{}:{}", p.host(), p.port()))
}

fn backoff(attempt: u32) {
    std::thread::sleep(Duration::from_millis(250 << attempt.min(4)));
}

impl Registry {
    /// Finds a working endpoint for `host`: for docker.io the mirrors, then Docker Hub; HTTPS
    /// first, and for an insecure registry an unverified certificate, then plain HTTP.
    pub fn connect(host: &str, cfg: &RegistryConfig, creds: Option<Credentials>) -> Result<Registry, RegistryError> {
        Registry::connect_with(host, cfg, creds, |_| Ok(())).map(|(r, ())| r)
    }

    /// `connect`, and the first request (`first`: a pull's manifest) on the endpoint chosen.
    /// A mirror that answers the ping but fails the request (it lacks the image, or errs) is
    /// passed over for the next endpoint, as dockerd falls back from mirrors per pull.
    pub fn connect_with<T>(
        host: &str,
        cfg: &RegistryConfig,
        creds: Option<Credentials>,
        first: impl Fn(&Registry) -> Result<T, RegistryError>,
    ) -> Result<(Registry, T), RegistryError> {
        // (base URL, verify TLS, is a mirror)
        let mut candidates: Vec<(String, bool, bool)> = Vec::new();
        if host == DOCKER_HUB {
            for m in &cfg.registry_mirrors {
                candidates.push((m.trim_end_matches('/').to_string(), true, true));
            }
            candidates.push((format!("https://{DOCKER_HUB_API}"), true, false));
        } else if cfg.is_insecure(host) && !cfg.certs_dirs.iter().any(|d| d.join(host).is_dir()) {
            // (A registry with a certs.d entry is verified against it, loopback or not.)
            candidates.push((format!("https://{host}"), false, false));
            candidates.push((format!("http://{host}"), false, false));
        } else {
            candidates.push((format!("https://{host}"), true, false));
        }
        let mut last = None;
        for (base, verify, mirror) in candidates {
            let tls_host = base.split("://").nth(1).unwrap_or(host).to_string();
            let r = Registry {
                host: host.to_string(),
                base: base.clone(),
                agent: agent(tls_for(&tls_host, cfg, verify)?, Duration::from_secs(cfg.timeout_seconds.max(1))),
                creds: creds.clone(),
                tokens: Mutex::new(HashMap::new()),
            };
            if let Err(e) = r.ping() {
                last = Some(e);
                continue;
            }
            match first(&r) {
                Ok(t) => return Ok((r, t)),
                Err(e) if mirror => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.expect("at least one endpoint"))
    }

    /// `GET /v2/`: 200, or 401 with a challenge, is a registry.
    fn ping(&self) -> Result<(), RegistryError> {
        let url = format!("{}/v2/", self.base);
        let resp = self.agent.get(&url).call().map_err(|e| transport("Get", &url, e))?;
        match resp.status().as_u16() {
            200 | 401 => Ok(()),
            s => Err(RegistryError::Protocol {
                registry: self.host.clone(),
                message: format!("GET {url}: {s}: not a registry (expected 200 or 401)"),
            }),
        }
    }

    fn auth_header(&self, scope: &str) -> Option<String> {
        let tokens = self.tokens.lock().expect("tokens");
        tokens.get(scope).or_else(|| tokens.get("")).cloned()
    }

    /// Answers a 401's challenge for `scope`; false when there is nothing more to try.
    fn authenticate(&self, resp: &Response<Body>, scope: &str) -> Result<bool, RegistryError> {
        let Some(header) = resp.headers().get("www-authenticate").and_then(|v| v.to_str().ok()) else { return Ok(false) };
        let Some(ch) = Challenge::parse(header) else { return Ok(false) };
        match ch.scheme.as_str() {
            "basic" => {
                let Some(c) = &self.creds else { return Ok(false) };
                // Another thread may have answered the same challenge since this request left
                // without credentials: retrying with them is right either way (`send` answers
                // one challenge per request, so a refused password is not retried).
                self.tokens.lock().expect("tokens").insert(String::new(), basic(c));
                Ok(true)
            }
            "bearer" => {
                let realm = ch.params.get("realm").ok_or_else(|| RegistryError::Protocol {
                    registry: self.host.clone(),
                    message: "bearer challenge without realm".into(),
                })?;
                let mut url = realm.clone();
                let mut sep = if url.contains('?') { '&' } else { '?' };
                for (k, v) in [
                    ("service", ch.params.get("service").cloned()),
                    ("scope", Some(scope.to_string()).filter(|s| !s.is_empty()).or_else(|| ch.params.get("scope").cloned())),
                ] {
                    if let Some(v) = v {
                        url.push(sep);
                        url.push_str(&format!("{k}={}", encode(&v)));
                        sep = '&';
                    }
                }
                let mut req = self.agent.get(&url);
                if let Some(c) = &self.creds {
                    req = req.header("Authorization", &basic(c));
                }
                let mut resp = req.call().map_err(|e| transport("Get", realm, e))?;
                if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
                    return Err(RegistryError::Unauthorized(self.host.clone()));
                }
                if !resp.status().is_success() {
                    return Err(RegistryError::Protocol {
                        registry: self.host.clone(),
                        message: format!("token server {realm}: {}", resp.status()),
                    });
                }
                #[derive(serde::Deserialize)]
                struct Token {
                    #[serde(default)]
                    token: Option<String>,
                    #[serde(default)]
                    access_token: Option<String>,
                }
                let body = resp.body_mut().with_config().limit(1 << 20).read_to_vec().map_err(|e| transport("Get", realm, e))?;
                let t: Token = serde_json::from_slice(&body)
                    .map_err(|e| RegistryError::Protocol { registry: self.host.clone(), message: format!("token server {realm}: {e}") })?;
                let token = t.token.or(t.access_token).filter(|t| !t.is_empty()).ok_or_else(|| RegistryError::Protocol {
                    registry: self.host.clone(),
                    message: format!("token server {realm}: no token in its answer"),
                })?;
                let mut tokens = self.tokens.lock().expect("tokens");
                let value = format!("Bearer {token}");
                if tokens.get(scope) == Some(&value) {
                    return Ok(false);
                }
                tokens.insert(scope.to_string(), value);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// A request to `path` (under `/v2/`) with `scope`'s auth, answered challenges and retries.
    /// Statuses other than 401/429/5xx are the caller's to read.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        scope: &str,
        headers: &[(&str, &str)],
        body: Payload,
    ) -> Result<Response<Body>, RegistryError> {
        let url =
            if path.starts_with("http://") || path.starts_with("https://") { path.to_string() } else { format!("{}/v2/{path}", self.base) };
        let verb = format!("{}{}", &method[..1], method[1..].to_ascii_lowercase());
        let mut authed = false;
        let mut attempt = 0;
        loop {
            let mut req = ureq::http::Request::builder().method(method).uri(&url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(a) = self.auth_header(scope) {
                req = req.header("Authorization", a);
            }
            let result = match body {
                Payload::Bytes(b) => self.agent.run(req.body(b).map_err(|e| transport(&verb, &url, e))?),
                // Opened again for each attempt: a retry sends the whole file.
                Payload::File(p) => {
                    let f = std::fs::File::open(p).map_err(|e| transport(&verb, &url, format!("{}: {e}", p.display())))?;
                    self.agent.run(req.body(f).map_err(|e| transport(&verb, &url, e))?)
                }
                Payload::None => self.agent.run(req.body(()).map_err(|e| transport(&verb, &url, e))?),
            };
            match &result {
                Ok(resp) => tracing::debug!(method, %url, status = %resp.status(), attempt, "registry request"),
                Err(e) => tracing::debug!(method, %url, error = %e, attempt, "registry request failed"),
            }
            match result {
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED && !authed => {
                    authed = true;
                    if !self.authenticate(&resp, scope)? {
                        return Ok(resp);
                    }
                }
                Ok(resp)
                    if (resp.status() == StatusCode::TOO_MANY_REQUESTS || resp.status().is_server_error()) && attempt + 1 < ATTEMPTS =>
                {
                    backoff(attempt);
                    attempt += 1;
                }
                Ok(resp) => return Ok(resp),
                Err(_) if attempt + 1 < ATTEMPTS => {
                    backoff(attempt);
                    attempt += 1;
                }
                Err(e) => return Err(transport(&verb, &url, e)),
            }
        }
    }

    pub(crate) fn status_error(&self, what: &str, resp: &mut Response<Body>) -> RegistryError {
        let status = resp.status();
        let body = resp.body_mut().with_config().limit(64 << 10).read_to_string().unwrap_or_default();
        // The distribution spec's error body: {"errors":[{"code":..,"message":..}]}.
        let detail = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v["errors"].as_array().map(|a| {
                    a.iter()
                        .map(|e| format!("{}: {}", e["code"].as_str().unwrap_or("").to_lowercase(), e["message"].as_str().unwrap_or("")))
                        .collect::<Vec<_>>()
                        .join("; ")
                })
            })
            .unwrap_or_else(|| body.chars().take(200).collect());
        RegistryError::Protocol {
            registry: self.host.clone(),
            message: format!("{what}: {status}{}", if detail.is_empty() { String::new() } else { format!(": {detail}") }),
        }
    }

    /// `GET /v2/<repo>/tags/list`, following `Link` pages (distribution-spec "Listing Tags").
    pub fn tags(&self, repo: &str) -> Result<Vec<String>, RegistryError> {
        let scope = format!("repository:{repo}:pull");
        let mut out = Vec::new();
        let mut path = format!("{repo}/tags/list");
        for _ in 0..1000 {
            let mut resp = self.send("GET", &path, &scope, &[], Payload::None)?;
            match resp.status().as_u16() {
                200 => {}
                401 | 403 | 404 => return Err(RegistryError::PullDenied(repo.to_string())),
                _ => return Err(self.status_error(&format!("tags of {repo}"), &mut resp)),
            }
            let next = resp
                .headers()
                .get("link")
                .and_then(|v| v.to_str().ok())
                .and_then(|l| l.split_once('<'))
                .and_then(|(_, r)| r.split_once('>'))
                .map(|(u, _)| u.to_string());
            let body = resp.body_mut().with_config().limit(16 << 20).read_to_vec().map_err(|e| transport("Get", &path, e))?;
            let v: serde_json::Value = serde_json::from_slice(&body)
                .map_err(|e| RegistryError::Protocol { registry: self.host.clone(), message: format!("tags of {repo}: {e}") })?;
            out.extend(v["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str().map(String::from)));
            match next {
                Some(n) => path = if n.starts_with("http") { n } else { format!("{}{n}", self.base) },
                None => break,
            }
        }
        out.sort();
        Ok(out)
    }

    /// `login`'s check: `GET /v2/` with the credentials (answering the challenge).
    pub fn check_login(&self) -> Result<(), RegistryError> {
        let mut resp = self.send("GET", "", "", &[], Payload::None)?;
        match resp.status().as_u16() {
            200 => Ok(()),
            401 | 403 => Err(RegistryError::Unauthorized(self.host.clone())),
            _ => Err(self.status_error("GET /v2/", &mut resp)),
        }
    }

    /// A manifest (or index) by tag or digest: its bytes, media type and digest. With a
    /// digest, the content must hash to it.
    pub fn manifest(&self, repo: &str, reference: &str, limit: u64) -> Result<(Vec<u8>, String, String), RegistryError> {
        let scope = format!("repository:{repo}:pull");
        let mut resp = self.send("GET", &format!("{repo}/manifests/{reference}"), &scope, &[("Accept", MANIFEST_ACCEPT)], Payload::None)?;
        match resp.status().as_u16() {
            200 => {}
            401 | 403 => return Err(RegistryError::PullDenied(repo.to_string())),
            404 => {
                let body = resp.body_mut().with_config().limit(64 << 10).read_to_string().unwrap_or_default();
                if body.contains("NAME_UNKNOWN") {
                    return Err(RegistryError::PullDenied(repo.to_string()));
                }
                return Err(RegistryError::ManifestUnknown(format!("{repo}:{reference}")));
            }
            _ => return Err(self.status_error(&format!("manifest {repo}:{reference}"), &mut resp)),
        }
        let media_type = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        if resp.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok()).is_some_and(|n| n > limit)
        {
            return Err(RegistryError::Protocol {
                registry: self.host.clone(),
                message: format!("manifest {repo}:{reference} is over the {limit}-byte limit"),
            });
        }
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(limit + 1)
            .read_to_vec()
            .map_err(|e| transport("Get", &format!("{}/v2/{repo}/manifests/{reference}", self.base), e))?;
        if bytes.len() as u64 > limit {
            return Err(RegistryError::Protocol {
                registry: self.host.clone(),
                message: format!("manifest {repo}:{reference} is over the {limit}-byte limit"),
            });
        }
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if reference.starts_with("sha256:") && reference != digest {
            return Err(RegistryError::DigestMismatch {
                registry: self.host.clone(),
                what: format!("manifest of {repo}"),
                expected: reference.into(),
                got: digest,
            });
        }
        Ok((bytes, media_type, digest))
    }

    /// A blob's body as a stream (the caller checks its digest as it reads).
    pub fn blob(&self, repo: &str, digest: &str) -> Result<(Box<dyn Read + Send>, Option<u64>), RegistryError> {
        let scope = format!("repository:{repo}:pull");
        let mut resp = self.send("GET", &format!("{repo}/blobs/{digest}"), &scope, &[], Payload::None)?;
        match resp.status().as_u16() {
            200 => {}
            401 | 403 => return Err(RegistryError::PullDenied(repo.to_string())),
            _ => return Err(self.status_error(&format!("blob {digest} of {repo}"), &mut resp)),
        }
        let len = resp.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
        Ok((Box::new(resp.into_body().into_reader()), len))
    }
}

/// Percent-encoding for a query value (RFC 3986 unreserved characters pass).
fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A plain download (ADD <url>): GET with the system's and `certs.d`'s CAs, redirects followed,
/// into `to`; returns the Last-Modified time (unix seconds) when the server gives one.
pub fn download(url: &str, to: &std::path::Path, cfg: &RegistryConfig) -> Result<Option<i64>, RegistryError> {
    let host = url.split("://").nth(1).and_then(|r| r.split('/').next()).unwrap_or("");
    let a = agent(tls_for(host, cfg, true)?, Duration::from_secs(cfg.timeout_seconds.max(1)));
    let mut resp = a.get(url).call().map_err(|e| transport("Get", url, e))?;
    if !resp.status().is_success() {
        return Err(RegistryError::Protocol { registry: host.to_string(), message: format!("GET {url}: {}", resp.status()) });
    }
    let modified = resp
        .headers()
        .get("last-modified")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok())
        .map(|t| t.unix_timestamp());
    let mut f = std::fs::File::create(to).map_err(|e| transport("Get", url, format!("{}: {e}", to.display())))?;
    std::io::copy(&mut resp.body_mut().as_reader(), &mut f).map_err(|e| transport("Get", url, e))?;
    Ok(modified)
}
