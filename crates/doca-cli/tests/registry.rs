//! `doca pull` against real registries on loopback (Debian's docker-registry, fed by skopeo,
//! with and without htpasswd auth) and against a small fake registry that misbehaves on
//! purpose (wrong digests, truncated blobs, 500s, bearer tokens).

use doca_testkit::{free_port, make_certs, require_root, require_tool, ContainerEnv, DistRegistry, TempRoot};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

fn skopeo_push(archive: &Path, dest: &str, creds: Option<&str>) {
    let mut c = Command::new("skopeo");
    c.args(["copy", "-q", "--dest-tls-verify=false"]);
    if let Some(cr) = creds {
        c.args(["--dest-creds", cr]);
    }
    let o = c.arg(format!("docker-archive:{}", archive.display())).arg(format!("docker://{dest}")).output().unwrap();
    assert!(o.status.success(), "skopeo copy: {}", String::from_utf8_lossy(&o.stderr));
}

fn skopeo_digest(reference: &str) -> String {
    let o = Command::new("skopeo").args(["inspect", "--tls-verify=false", &format!("docker://{reference}")]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["Digest"].as_str().unwrap().to_string()
}

/// A store with busybox, saved as a docker archive for skopeo, and then removed from the
/// store so that a pull downloads it for real.
fn env_with_archive() -> (ContainerEnv, std::path::PathBuf) {
    let e = ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-rtest");
    let archive = e.t.path("busybox.tar");
    e.t.ok(&["save", "-o", archive.to_str().unwrap(), "busybox"]);
    e.t.ok(&["rmi", "busybox"]);
    (e, archive)
}

#[test]
fn images_pushed_by_skopeo_are_pulled_verified_and_run() {
    require_root!();
    require_tool!("docker-registry");
    require_tool!("skopeo");
    let reg = DistRegistry::start(None);
    let (e, archive) = env_with_archive();
    let name = format!("{}/test/busybox:1", reg.host());
    skopeo_push(&archive, &name, None);
    let want = skopeo_digest(&name);
    let out = e.t.ok(&["pull", &name]);
    assert!(out.starts_with("1: Pulling from test/busybox\n"), "{out}");
    assert!(out.contains(": Pull complete\n") && out.contains(&format!("Digest: {want}\n")), "{out}");
    assert!(out.ends_with(&format!("Status: Downloaded newer image for {name}\n{name}\n")), "{out}");
    let digests = e.t.ok(&["inspect", "--format", "{{json .RepoDigests}}", &name]);
    assert_eq!(digests.trim(), format!("[\"{}/test/busybox@{want}\"]", reg.host()));
    assert_eq!(e.t.ok(&e.args("run", &["--rm", "--network", "none", &name, "echo", "pulled"])), "pulled\n");
    // Again: nothing to download.
    assert!(e.t.ok(&["pull", &name]).contains(&format!("Status: Image is up to date for {name}")));
    // By digest: the same image, no tag made.
    let by_digest = format!("{}/test/busybox@{want}", reg.host());
    assert_eq!(e.t.ok(&["pull", "-q", &by_digest]), format!("{by_digest}\n"));
    assert_eq!(
        e.t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]),
        format!("{}/test/busybox:1\n", reg.host()),
        "a pull by digest tags nothing"
    );
    // -a: every tag of the repository.
    skopeo_push(&archive, &format!("{}/test/busybox:2", reg.host()), None);
    let out = e.t.ok(&["pull", "-a", "-q", &format!("{}/test/busybox", reg.host())]);
    assert_eq!(out, format!("{0}/test/busybox:1\n{0}/test/busybox:2\n", reg.host()));
    // Not there: docker's messages, exit 1.
    let err = e.t.fails(&["pull", &format!("{}/test/busybox:nope", reg.host())], 1);
    assert!(err.contains(&format!("manifest for {}/test/busybox:nope not found: manifest unknown", reg.host())), "{err}");
    let err = e.t.fails(&["pull", &format!("127.0.0.1:{}/x:1", free_port())], 1);
    assert!(err.contains("/v2/\": connect: connection refused"), "{err}");
}

#[test]
fn basic_auth_uses_the_docker_config_and_never_shows_the_secret() {
    require_root!();
    require_tool!("docker-registry");
    require_tool!("skopeo");
    require_tool!("htpasswd");
    let reg = DistRegistry::start(Some(("alice", "s3cret-pw")));
    let (e, archive) = env_with_archive();
    let name = format!("{}/private/busybox:1", reg.host());
    skopeo_push(&archive, &name, Some("alice:s3cret-pw"));
    let before = e.t.fingerprint();
    let err = e.t.fails(&["pull", &name], 1);
    assert!(err.contains("pull access denied for") && err.contains("may require 'docker login'"), "{err}");
    assert_eq!(e.t.fingerprint(), before, "a refused pull changes nothing");
    // Logged in as docker keeps it: ~/.docker/config.json's auths.
    let dc = e.t.path("docker-config");
    std::fs::create_dir_all(&dc).unwrap();
    let auth = {
        let o = Command::new("base64").arg("-w0").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        o.stdin.as_ref().unwrap().write_all(b"alice:s3cret-pw").unwrap();
        String::from_utf8(o.wait_with_output().unwrap().stdout).unwrap()
    };
    std::fs::write(dc.join("config.json"), format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, reg.host())).unwrap();
    let o = e.t.cmd().args(["pull", &name]).env("DOCKER_CONFIG", &dc).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let all = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(!all.contains("s3cret") && !e.t.ok(&["inspect", &name]).contains("s3cret"));
    // A credential helper (credsStore) answers instead of the file.
    let bin = e.t.path("helper-bin");
    std::fs::create_dir_all(&bin).unwrap();
    let helper = bin.join("docker-credential-fake");
    std::fs::write(&helper, "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\necho '{\"ServerURL\":\"'$server'\",\"Username\":\"alice\",\"Secret\":\"s3cret-pw\"}'\n").unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let dh = e.t.path("docker-config-helper");
    std::fs::create_dir_all(&dh).unwrap();
    std::fs::write(dh.join("config.json"), r#"{"credsStore":"fake"}"#).unwrap();
    e.t.ok(&["rmi", &name]);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let o = e.t.cmd().args(["pull", "-q", &name]).env("DOCKER_CONFIG", &dh).env("PATH", path).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // login checks the password with the registry before keeping it; logout forgets it.
    let dc2 = e.t.path("docker-config-2");
    let login = |pw: &str| {
        let mut c = e.t.cmd();
        c.args(["login", "-u", "alice", "--password-stdin", &reg.host()])
            .env("DOCKER_CONFIG", &dc2)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(format!("{pw}\n").as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let o = login("wrong");
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("failed with status: 401 Unauthorized"));
    assert!(!dc2.join("config.json").exists(), "nothing kept for a refused login");
    let o = login("s3cret-pw");
    assert_eq!(String::from_utf8_lossy(&o.stdout), "Login Succeeded\n");
    let m = e.t.cmd().args(["manifest", "inspect", &name]).env("DOCKER_CONFIG", &dc2).output().unwrap();
    let v: serde_json::Value = serde_json::from_slice(&m.stdout).unwrap();
    assert_eq!(v["schemaVersion"], 2);
    let o = e.t.cmd().args(["logout", &reg.host()]).env("DOCKER_CONFIG", &dc2).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("Removing login credentials for {}\n", reg.host()));
    let m = e.t.cmd().args(["manifest", "inspect", &name]).env("DOCKER_CONFIG", &dc2).output().unwrap();
    assert_eq!(m.status.code(), Some(1));
}

/// A registry that answers from a table and can misbehave: status, body, a Content-Length
/// larger than the body (a truncated transfer), and bearer auth against its own token server.
#[derive(Clone, Default)]
struct Route {
    status: u16,
    content_type: String,
    body: Vec<u8>,
    /// Claim this many bytes and send `body` only.
    claim: Option<usize>,
    /// Send this many bytes of the body, then go silent for a minute.
    stall_after: Option<usize>,
}

struct FakeRegistry {
    port: u16,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    hits: Arc<Mutex<Vec<String>>>,
}

impl FakeRegistry {
    fn start(token: Option<&'static str>) -> FakeRegistry {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes: Arc<Mutex<HashMap<String, Route>>> = Default::default();
        let hits: Arc<Mutex<Vec<String>>> = Default::default();
        let (r, h) = (routes.clone(), hits.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (r, h) = (r.clone(), h.clone());
                std::thread::spawn(move || serve(conn, port, token, &r, &h));
            }
        });
        FakeRegistry { port, routes, hits }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn route(&self, path: &str, status: u16, content_type: &str, body: &[u8]) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.into(), Route { status, content_type: content_type.into(), body: body.to_vec(), ..Default::default() });
    }
}

fn serve(mut conn: TcpStream, port: u16, token: Option<&str>, routes: &Mutex<HashMap<String, Route>>, hits: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut auth = String::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some(v) = h.to_ascii_lowercase().strip_prefix("authorization:") {
            auth = v.trim().to_string();
        }
    }
    hits.lock().unwrap().push(path.clone());
    let respond = |conn: &mut TcpStream, status: u16, extra: &str, ct: &str, body: &[u8], claim: usize| {
        let head = format!("HTTP/1.1 {status} X\r\nContent-Type: {ct}\r\nContent-Length: {claim}\r\nConnection: close\r\n{extra}\r\n");
        let _ = conn.write_all(head.as_bytes());
        let _ = conn.write_all(body);
    };
    if let Some(t) = token {
        if path.starts_with("/token") {
            let body = format!(r#"{{"token":"{t}"}}"#);
            return respond(&mut conn, 200, "", "application/json", body.as_bytes(), body.len());
        }
        if auth != format!("bearer {t}") {
            let challenge = format!("Www-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake\"\r\n");
            return respond(&mut conn, 401, &challenge, "application/json", b"{}", 2);
        }
    }
    if path == "/v2/" {
        return respond(&mut conn, 200, "", "application/json", b"{}", 2);
    }
    let r = routes.lock().unwrap().get(&path).cloned();
    match r {
        Some(r) if r.stall_after.is_some() => {
            let n = r.stall_after.unwrap_or(0).min(r.body.len());
            respond(&mut conn, r.status, "", &r.content_type, &r.body[..n], r.body.len());
            let _ = conn.flush();
            std::thread::sleep(std::time::Duration::from_secs(60));
        }
        Some(r) => respond(&mut conn, r.status, "", &r.content_type, &r.body, r.claim.unwrap_or(r.body.len())),
        None => {
            respond(
                &mut conn,
                404,
                "",
                "application/json",
                br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
                68,
            );
        }
    }
}

fn sha(b: &[u8]) -> String {
    format!("sha256:{}", doca_testkit::sha256_hex(b))
}

/// One image (an uncompressed layer with one file) served by the fake registry as `x/img:1`;
/// returns the layer's digest.
fn serve_image(reg: &FakeRegistry) -> String {
    let mut layer = doca_testkit::Layer::new();
    layer.file("hello", b"from the fake registry\n");
    let layer = layer.finish();
    let ld = sha(&layer);
    let config =
        format!(r#"{{"architecture":"amd64","os":"linux","config":{{"Cmd":["sh"]}},"rootfs":{{"type":"layers","diff_ids":["{ld}"]}}}}"#);
    let cd = sha(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{ld}","size":{}}}]}}"#,
        config.len(),
        layer.len()
    );
    reg.route("/v2/x/img/manifests/1", 200, "application/vnd.oci.image.manifest.v1+json", manifest.as_bytes());
    reg.route(&format!("/v2/x/img/blobs/{cd}"), 200, "application/octet-stream", config.as_bytes());
    reg.route(&format!("/v2/x/img/blobs/{ld}"), 200, "application/octet-stream", &layer);
    ld
}

#[test]
fn a_bearer_token_registry_is_pulled_from() {
    require_root!();
    let reg = FakeRegistry::start(Some("t0ken"));
    serve_image(&reg);
    let e = ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-rtest");
    let name = format!("{}/x/img:1", reg.host());
    e.t.ok(&["pull", "-q", &name]);
    assert!(
        reg.hits.lock().unwrap().iter().any(|h| h.starts_with("/token?service=fake&scope=repository%3Ax%2Fimg%3Apull")),
        "{:?}",
        reg.hits.lock().unwrap()
    );
    assert_eq!(e.t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", &format!("{}/x/img", reg.host())]), format!("{name}\n"));
}

#[test]
fn blobs_that_do_not_match_their_digest_or_end_early_are_refused_and_the_store_is_unchanged() {
    require_root!();
    let e = ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-rtest");
    let name = |r: &FakeRegistry| format!("{}/x/img:1", r.host());
    // Wrong bytes under the layer's digest.
    let reg = FakeRegistry::start(None);
    let ld = serve_image(&reg);
    reg.route(&format!("/v2/x/img/blobs/{ld}"), 200, "application/octet-stream", b"not the layer");
    let before = e.t.fingerprint();
    let err = e.t.fails(&["pull", &name(&reg)], 1);
    assert!(err.contains("content does not match its digest") && err.contains(&ld), "{err}");
    assert_eq!(e.t.fingerprint(), before);
    // A transfer that ends before its Content-Length (tried again, then given up).
    let reg = FakeRegistry::start(None);
    let ld = serve_image(&reg);
    {
        let mut routes = reg.routes.lock().unwrap();
        let r = routes.get_mut(&format!("/v2/x/img/blobs/{ld}")).unwrap();
        r.claim = Some(r.body.len() + 100);
    }
    let err = e.t.fails(&["pull", &name(&reg)], 1);
    assert!(err.contains(&format!("layer {ld}")), "{err}");
    assert_eq!(e.t.fingerprint(), before);
    // A registry that fails every time: retried, then its status named.
    let reg = FakeRegistry::start(None);
    reg.route("/v2/x/img/manifests/1", 500, "application/json", br#"{"errors":[{"code":"UNKNOWN","message":"boom"}]}"#);
    let err = e.t.fails(&["pull", &name(&reg)], 1);
    assert!(err.contains("500") && err.contains("boom"), "{err}");
    assert!(reg.hits.lock().unwrap().iter().filter(|h| h.contains("manifests")).count() >= 3, "retried");
    // An unknown layer media type.
    let reg = FakeRegistry::start(None);
    serve_image(&reg);
    {
        let mut routes = reg.routes.lock().unwrap();
        let m = routes.get_mut("/v2/x/img/manifests/1").unwrap();
        m.body = String::from_utf8(m.body.clone()).unwrap().replace("image.layer.v1.tar", "image.layer.v1.weird").into_bytes();
    }
    let err = e.t.fails(&["pull", &name(&reg)], 1);
    assert!(err.contains("unsupported layer media type"), "{err}");
    assert_eq!(e.t.fingerprint(), before);
}

#[test]
fn run_create_and_build_pull_what_the_store_lacks() {
    require_root!();
    require_tool!("docker-registry");
    require_tool!("skopeo");
    let reg = DistRegistry::start(None);
    let (e, archive) = env_with_archive();
    let name = format!("{}/lib/busybox:1", reg.host());
    skopeo_push(&archive, &name, None);
    // --pull never: docker's message, nothing pulled.
    let err = e.t.fails(&e.args("run", &["--rm", "--network", "none", "--pull", "never", &name, "true"]), 125);
    assert!(err.contains(&format!("No such image: {name}")), "{err}");
    // missing (the default): pulled first, its lines on stderr, the container's on stdout.
    let o = e.t.cmd().args(e.args("run", &["--rm", "--network", "none", &name, "echo", "ran"])).output().unwrap();
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout), "ran\n");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.starts_with(&format!("Unable to find image '{name}' locally\n1: Pulling from lib/busybox\n")), "{err}");
    // A build pulls its base image.
    e.t.ok(&["rmi", &name]);
    let ctx = e.t.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {name}\nRUN echo built > /b\nCMD [\"cat\", \"/b\"]\n")).unwrap();
    e.t.ok(&["build", "-q", "--network", "none", "--cgroup-parent", &e.cgroup, "-t", "built:1", ctx.to_str().unwrap()]);
    assert_eq!(e.t.ok(&e.args("run", &["--rm", "--network", "none", "built:1"])), "built\n");
    e.t.ok(&["rmi", &name]);
    let err = e.t.fails(&["build", "--pull=never", "--network", "none", ctx.to_str().unwrap()], 1);
    assert!(err.contains(&format!("Dockerfile:1: FROM {name}: image \"{name}\" is not in the store")), "{err}");
}

#[test]
fn images_pushed_by_doca_are_pulled_by_podman_and_skopeo() {
    require_root!();
    require_tool!("docker-registry");
    require_tool!("skopeo");
    require_tool!("podman");
    let reg = DistRegistry::start(None);
    let e = ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-rtest");
    let ctx = e.t.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nRUN echo made by doca > /made\nCMD [\"cat\", \"/made\"]\n").unwrap();
    let name = format!("{}/team/app:1", reg.host());
    e.t.ok(&["build", "-q", "--network", "none", "--cgroup-parent", &e.cgroup, "-t", &name, ctx.to_str().unwrap()]);
    let out = e.t.ok(&["push", &name]);
    assert!(out.starts_with(&format!("The push refers to repository [{}/team/app]\n", reg.host())), "{out}");
    assert_eq!(out.matches(": Pushed\n").count(), 2, "a line per layer, none for the config, as docker (issue 17, item 17):\n{out}");
    assert_eq!(out.matches(": Preparing\n").count(), 2, "{out}");
    assert!(out.find(": Preparing").unwrap() < out.find(": Pushed").unwrap(), "{out}");
    let digest = out.lines().last().unwrap().split_whitespace().nth(2).unwrap().to_string();
    assert_eq!(skopeo_digest(&name), digest, "the registry has the manifest doca stored");
    let ids = e.t.ok(&["inspect", "--format", "{{json .RepoDigests}}", &name]);
    assert!(ids.contains(&format!("{}/team/app@{digest}", reg.host())), "{ids}");
    // Podman pulls it and runs it as doca would.
    // (runc: podman's default crun refuses this host's cgroup v1/v2 hybrid.)
    let runc = String::from_utf8(Command::new("sh").args(["-c", "command -v runc"]).output().unwrap().stdout).unwrap();
    let pm = doca_testkit::Podman::new(&e.t.path("podman")).with_runtime(Path::new(runc.trim()));
    let o = pm.cmd().args(["pull", "-q", "--tls-verify=false", &name]).output().unwrap();
    assert!(o.status.success(), "podman pull: {}", String::from_utf8_lossy(&o.stderr));
    let o = pm.cmd().args(["run", "--rm", "--network", "none", &name]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&o.stdout), "made by doca\n", "{}", String::from_utf8_lossy(&o.stderr));
    // Again: nothing sent. To another repository of the registry: mounted, not sent.
    assert_eq!(e.t.ok(&["push", &name]).matches("Layer already exists").count(), 2);
    let other = format!("{}/team/copy:1", reg.host());
    e.t.ok(&["tag", &name, &other]);
    let out = e.t.ok(&["push", &other]);
    assert_eq!(out.matches("Mounted from another repository").count(), 2, "{out}");
    assert_eq!(e.t.ok(&["push", "-q", &other]), format!("{other}\n"));
    assert_eq!(skopeo_digest(&other), digest);
    // What is not tagged locally: docker's message.
    let err = e.t.fails(&["push", &format!("{}/team/none:1", reg.host())], 1);
    assert!(err.contains("An image does not exist locally with the tag"), "{err}");
}

#[test]
fn tls_registries_are_verified_against_certs_d_with_client_certificates() {
    require_root!();
    require_tool!("docker-registry");
    require_tool!("skopeo");
    require_tool!("openssl");
    let certs = tempfile::tempdir().unwrap();
    make_certs(certs.path());
    let c = |f: &str| certs.path().join(f).display().to_string();
    let tls =
        format!("  tls:\n    certificate: {}\n    key: {}\n    clientcas:\n      - {}\n", c("server.crt"), c("server.key"), c("ca.crt"));
    let reg = DistRegistry::start_in(tempfile::tempdir().unwrap(), &tls, "");
    let (e, archive) = env_with_archive();
    let name = format!("{}/secure/busybox:1", reg.host());
    // skopeo's cert dir has docker's layout too: *.crt CAs, client.cert with client.key.
    let sk = e.t.path("skopeo-certs");
    std::fs::create_dir_all(&sk).unwrap();
    for (from, to) in [("ca.crt", "ca.crt"), ("client.crt", "client.cert"), ("client.key", "client.key")] {
        std::fs::copy(certs.path().join(from), sk.join(to)).unwrap();
    }
    let o = Command::new("skopeo")
        .args(["copy", "-q", "--dest-cert-dir", sk.to_str().unwrap()])
        .arg(format!("docker-archive:{}", archive.display()))
        .arg(format!("docker://{name}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "skopeo: {}", String::from_utf8_lossy(&o.stderr));
    // certs.d/<host>/: the CA, and client.cert + client.key (Docker's layout).
    let certs_d = e.t.path("certs.d");
    let host_dir = certs_d.join(reg.host());
    std::fs::create_dir_all(&host_dir).unwrap();
    let doca_config = e.t.path("doca.json");
    std::fs::write(&doca_config, format!(r#"{{"certs-dirs": ["{}"]}}"#, certs_d.display())).unwrap();
    let pull = || e.t.cmd().args(["pull", "-q", &name]).env("DOCA_CONFIG", &doca_config).output().unwrap();
    // Without the CA: the server's certificate is not trusted (and no fallback to HTTP).
    let o = pull();
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr).to_lowercase();
    assert!(err.contains("certificate") || err.contains("issuer"), "{err}");
    std::fs::copy(certs.path().join("ca.crt"), host_dir.join("ca.crt")).unwrap();
    // The CA but no client certificate: the registry refuses the handshake.
    assert_eq!(pull().status.code(), Some(1));
    std::fs::copy(certs.path().join("client.crt"), host_dir.join("client.cert")).unwrap();
    std::fs::copy(certs.path().join("client.key"), host_dir.join("client.key")).unwrap();
    let o = pull();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), format!("{name}\n"));
}

/// An image for `arch` with one layer compressed by `compress` ("gzip" or "zstd"), served as
/// `x/multi@digest`; returns the manifest's descriptor for an index.
fn serve_arch(reg: &FakeRegistry, arch: &str, compress: &str) -> String {
    let mut layer = doca_testkit::Layer::new();
    layer.file("arch", format!("{arch}\n").as_bytes());
    let tar = layer.finish();
    let diff_id = sha(&tar);
    let mut child = Command::new(compress).args(["-c"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(&tar).unwrap();
    let blob = child.wait_with_output().unwrap().stdout;
    let ld = sha(&blob);
    let config = format!(r#"{{"architecture":"{arch}","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{diff_id}"]}}}}"#);
    let cd = sha(config.as_bytes());
    let media =
        if compress == "gzip" { "application/vnd.oci.image.layer.v1.tar+gzip" } else { "application/vnd.oci.image.layer.v1.tar+zstd" };
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"{media}","digest":"{ld}","size":{}}}]}}"#,
        config.len(),
        blob.len()
    );
    let md = sha(manifest.as_bytes());
    reg.route(&format!("/v2/x/multi/manifests/{md}"), 200, "application/vnd.oci.image.manifest.v1+json", manifest.as_bytes());
    reg.route(&format!("/v2/x/multi/blobs/{cd}"), 200, "application/octet-stream", config.as_bytes());
    reg.route(&format!("/v2/x/multi/blobs/{ld}"), 200, "application/octet-stream", &blob);
    format!(
        r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{},"platform":{{"os":"linux","architecture":"{arch}"}}}}"#,
        manifest.len()
    )
}

#[test]
fn indexes_resolve_to_the_asked_platform_and_layers_may_be_gzip_or_zstd() {
    require_root!();
    require_tool!("zstd");
    let reg = FakeRegistry::start(None);
    let amd = serve_arch(&reg, "amd64", "gzip");
    let arm = serve_arch(&reg, "arm64", "zstd");
    let index = format!(r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{arm},{amd}]}}"#);
    reg.route("/v2/x/multi/manifests/1", 200, "application/vnd.oci.image.index.v1+json", index.as_bytes());
    let e = ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-rtest");
    let name = format!("{}/x/multi:1", reg.host());
    e.t.ok(&["pull", "-q", &name]);
    assert_eq!(e.t.ok(&["inspect", "--format", "{{.Architecture}}", &name]), "amd64\n");
    e.t.ok(&["pull", "-q", "--platform", "linux/arm64", &name]);
    assert_eq!(e.t.ok(&["inspect", "--format", "{{.Architecture}}", &name]), "arm64\n", "the zstd layer unpacked and checked");
    let err = e.t.fails(&["pull", "--platform", "linux/s390x", &name], 1);
    assert!(err.contains("no matching manifest for linux/s390x"), "{err}");
    assert!(e.t.ok(&["system", "check"]).contains("store is consistent"));
}

#[test]
fn a_silent_registry_times_out_and_oversized_manifests_are_refused() {
    require_root!();
    let e = ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-rtest");
    let cfg = e.t.path("doca.json");
    std::fs::write(&cfg, r#"{"timeout-seconds": 1, "max-manifest-size": 300}"#).unwrap();
    let reg = FakeRegistry::start(None);
    serve_image(&reg);
    // A manifest over the limit (the image's is about 400 bytes).
    let o = e.t.cmd().args(["pull", &format!("{}/x/img:1", reg.host())]).env("DOCA_CONFIG", &cfg).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("over the 300-byte limit"), "{}", String::from_utf8_lossy(&o.stderr));
    // A registry that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in silent.incoming().flatten() {
            held.push(c);
        }
    });
    let started = std::time::Instant::now();
    let o = e.t.cmd().args(["pull", &format!("127.0.0.1:{port}/x/img:1")]).env("DOCA_CONFIG", &cfg).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains(&format!("127.0.0.1:{port}/v2/")), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "gave up in {:?}", started.elapsed());
}

#[test]
fn a_pull_killed_halfway_leaves_a_consistent_store_and_the_next_reuses_what_finished() {
    require_root!();
    let reg = FakeRegistry::start(None);
    // Two layers: the first comes at once, the second stalls halfway.
    let mut layers = Vec::new();
    for (name, size) in [("first", 1000usize), ("second", 300_000)] {
        let mut l = doca_testkit::Layer::new();
        l.file(name, &vec![b'x'; size]);
        layers.push(l.finish());
    }
    let digests: Vec<String> = layers.iter().map(|l| sha(l)).collect();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{}","{}"]}}}}"#,
        digests[0], digests[1]
    );
    let cd = sha(config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":{}}}]}}"#,
        config.len(),
        digests[0],
        layers[0].len(),
        digests[1],
        layers[1].len()
    );
    reg.route("/v2/x/two/manifests/1", 200, "application/vnd.oci.image.manifest.v1+json", manifest.as_bytes());
    reg.route(&format!("/v2/x/two/blobs/{cd}"), 200, "application/octet-stream", config.as_bytes());
    reg.route(&format!("/v2/x/two/blobs/{}", digests[0]), 200, "application/octet-stream", &layers[0]);
    reg.routes.lock().unwrap().insert(
        format!("/v2/x/two/blobs/{}", digests[1]),
        Route {
            status: 200,
            content_type: "application/octet-stream".into(),
            body: layers[1].clone(),
            stall_after: Some(100_000),
            ..Default::default()
        },
    );
    let e = ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-rtest");
    let name = format!("{}/x/two:1", reg.host());
    let mut child = e.t.cmd().args(["pull", &name]).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    while !seen.contains(&format!("{}: Pull complete", &digests[0][7..19])) {
        let mut line = String::new();
        assert!(out.read_line(&mut line).unwrap() > 0, "pull ended early: {seen}");
        seen.push_str(&line);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Consistent: nothing recorded, the finished layer kept under its digest.
    let check = e.t.ok(&["system", "check"]);
    assert!(check.contains("store is consistent"), "{check}");
    assert!(e.t.fails(&["inspect", &name], 1).contains("No such"));
    // The next pull (the registry answers now) does not fetch the first layer again.
    reg.routes.lock().unwrap().get_mut(&format!("/v2/x/two/blobs/{}", digests[1])).unwrap().stall_after = None;
    let before = reg.hits.lock().unwrap().iter().filter(|h| h.contains(&digests[0])).count();
    let out = e.t.ok(&["pull", &name]);
    assert!(out.contains(&format!("{}: Already exists", &digests[0][7..19])), "{out}");
    assert_eq!(reg.hits.lock().unwrap().iter().filter(|h| h.contains(&digests[0])).count(), before);
    assert!(e.t.ok(&["system", "check"]).contains("store is consistent"));
}

#[test]
fn docker_hub_names_are_pulled_through_a_configured_mirror() {
    require_root!();
    require_tool!("docker-registry");
    require_tool!("skopeo");
    let mirror = DistRegistry::start(None);
    // A mirror listed first that answers but lacks the image: passed over for the next one,
    // as dockerd does per pull (it used to end the pull with "manifest unknown").
    let empty = DistRegistry::start(None);
    let (e, archive) = env_with_archive();
    skopeo_push(&archive, &format!("{}/library/busybox:latest", mirror.host()), None);
    let cfg = e.t.path("doca.json");
    std::fs::write(&cfg, format!(r#"{{"registry-mirrors": ["http://{}", "http://{}"]}}"#, empty.host(), mirror.host())).unwrap();
    // `busybox` is docker.io/library/busybox:latest, fetched from the mirror that has it.
    let o = e.t.cmd().args(["pull", "busybox"]).env("DOCA_CONFIG", &cfg).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("Using default tag: latest\nlatest: Pulling from library/busybox\n"), "{out}");
    assert!(out.ends_with("Status: Downloaded newer image for busybox:latest\ndocker.io/library/busybox:latest\n"), "{out}");
    assert_eq!(e.t.ok(&e.args("run", &["--rm", "--network", "none", "busybox", "echo", "mirrored"])), "mirrored\n");
}

/// Requests go through the proxy that HTTPS_PROXY names unless NO_PROXY exempts the host, as
/// dockerd's do, and a failure says which proxy. This is also what keeps every test offline: the
/// test kit gives each doca a proxy on a closed loopback port (an image a test forgot to make is
/// refused at once instead of fetched from Docker Hub), with loopback exempt.
#[test]
fn requests_honour_the_proxy_variables_and_tests_stay_offline() {
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    t.ok(&["images", "-q"]);
    let before = t.fingerprint();
    let o = t.run(&["pull", "busybox"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("\"https://registry-1.docker.io/v2/\"") && err.contains("(through the proxy 127.0.0.1:9)"),
        "the pull did not go to the test's proxy: {err}"
    );
    assert_eq!(t.fingerprint(), before);
    // Loopback is exempt (NO_PROXY): a registry there is reached directly, here a closed port.
    let port = free_port();
    let o = t.run(&["pull", &format!("127.0.0.1:{port}/x:1")]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.code() == Some(1) && !err.contains("through the proxy"), "{err}");
}

/// Data loss found side by side with docker 20.10: `rmi REPO@DIGEST` deleted the whole image
/// while another tag still named it. docker untags only that name; `rmi REPO:TAG` also drops
/// the repository's digest names with its last tag (no `REPO <none>` row is left).
#[test]
fn rmi_of_a_digest_reference_untags_only_that_name_and_images_name_lists_only_that_name() {
    require_root!();
    require_tool!("docker-registry");
    let reg = DistRegistry::start(None);
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    let id = t.busybox("busybox:local");
    let name = format!("{}/bench/bbcheck", reg.host());
    t.ok(&["tag", "busybox:local", &format!("{name}:t")]);
    let out = t.ok(&["push", &format!("{name}:t")]);
    let digest = out.lines().last().unwrap().split_whitespace().nth(2).unwrap().to_string();
    let by_digest = format!("{name}@{digest}");
    // Another repository's digest name is not listed under this one's name (docker matches
    // tags and digests alike): no `REGISTRY/NAME <none>` row.
    assert_eq!(t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", "busybox"]), "busybox:local\n");

    // By digest: that name goes, the tags stay, nothing is deleted.
    assert_eq!(t.ok(&["rmi", &by_digest]), format!("Untagged: {by_digest}\n"));
    assert_eq!(t.ok(&["images", "-q", "--no-trunc", "busybox:local"]).trim(), id);
    assert_eq!(t.ok(&["inspect", "-f", "{{.RepoTags}} {{.RepoDigests}}", &id]).trim(), format!("[{name}:t busybox:local] []"));

    // By tag: the repository's digest name goes with its last tag; the other tag keeps the image.
    t.ok(&["push", &format!("{name}:t")]);
    assert_eq!(t.ok(&["rmi", &format!("{name}:t")]), format!("Untagged: {name}:t\nUntagged: {by_digest}\n"));
    assert_eq!(t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]), "busybox:local\n", "no REPO <none> row is left");
    let err = t.fails(&["rmi", &by_digest], 1);
    assert_eq!(err.trim(), format!("Error: No such image: {by_digest}"));

    // The last name deletes the image, as before.
    let out = t.ok(&["rmi", "busybox:local"]);
    assert!(out.starts_with("Untagged: busybox:local\nDeleted: sha256:"), "{out}");
    assert_eq!(t.ok(&["images", "-aq"]), "");
}
