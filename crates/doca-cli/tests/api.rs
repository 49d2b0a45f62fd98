//! `doca serve` with real Docker clients: Debian's docker CLI (20.10, the `docker.io` package)
//! pointed at the server's socket, as root, against real containers. What a client makes the
//! CLI sees and the other way round; the server can die at any moment and the containers live
//! on; malformed and hostile requests are refused with nothing made and nothing touched.

use doca_testkit::{require_root, require_tool, ContainerEnv, DistRegistry, TempRoot};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

/// Debian's docker CLI (20.10): the client the API is checked against.
const DOCKER: &str = "/usr/bin/docker";

/// `doca serve` on a socket of the test's own, killed (SIGKILL) when dropped.
struct Server {
    child: Child,
    sock: PathBuf,
    /// The docker client's own configuration directory, so no test reads or writes root's.
    config: PathBuf,
}

impl Server {
    fn start(t: &TempRoot) -> Server {
        let sock = t.path("api.sock");
        let log = std::fs::File::create(t.path("serve.log")).unwrap();
        let child = t
            .cmd()
            .args(["serve", "-H", &format!("unix://{}", sock.display())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn doca serve");
        for _ in 0..200 {
            if std::os::unix::net::UnixStream::connect(&sock).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let config = t.path("docker-config");
        std::fs::create_dir_all(&config).unwrap();
        Server { child, sock, config }
    }

    fn docker(&self) -> Command {
        let mut c = Command::new(DOCKER);
        c.env("DOCKER_HOST", format!("unix://{}", self.sock.display()))
            .env("DOCKER_CONFIG", &self.config)
            .env("DOCKER_BUILDKIT", "0")
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_TLS_VERIFY");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.docker().args(args).stdin(Stdio::null()).output().expect("spawn docker")
    }

    /// docker ARGS, which must succeed; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "docker {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// docker ARGS, which must exit with `code`; its stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "docker {args:?}:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stderr).unwrap()
    }

    /// A raw request with curl: (status, body).
    fn curl(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, String) {
        let mut c = Command::new("curl");
        c.args(["-s", "-o", "-", "-w", "\n%{http_code}", "--unix-socket"]).arg(&self.sock).args(["-X", method]);
        if body.is_some() {
            c.args(["-H", "Content-Type: application/json", "--data-binary", "@-"]);
        }
        let mut child = c.arg(format!("http://docker{path}")).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().expect("curl");
        if let Some(b) = body {
            child.stdin.take().unwrap().write_all(b).unwrap();
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        (code.trim().parse().unwrap_or(0), body.to_string())
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// A request on a raw connection, for the upgrades: the connection, a reader after the
    /// answer's head, and the head.
    fn raw(&self, request: &str) -> (std::os::unix::net::UnixStream, std::io::BufReader<std::os::unix::net::UnixStream>, String) {
        use std::io::BufRead;
        let mut sock = std::os::unix::net::UnixStream::connect(&self.sock).unwrap();
        sock.write_all(request.as_bytes()).unwrap();
        let mut r = std::io::BufReader::new(sock.try_clone().unwrap());
        let mut head = String::new();
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                return (sock, r, head);
            }
            head.push_str(&line);
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn env() -> (ContainerEnv, Server) {
    let e = ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-apitest");
    let s = Server::start(&e.t);
    (e, s)
}

#[test]
fn docker_cli_runs_containers_through_doca_serve() {
    require_root!();
    require_tool!(DOCKER);
    let (e, s) = env();
    let cg = e.cgroup.as_str();
    // Version negotiation: the 20.10 client speaks 1.41 to a server that serves 1.24-1.47.
    assert_eq!(s.ok(&["version", "--format", "{{.Server.APIVersion}} {{.Client.APIVersion}}"]).trim(), "1.47 1.41");
    // Foreground run: attach before start, no byte lost; exit codes as docker's.
    assert_eq!(s.ok(&["run", "--rm", "--cgroup-parent", cg, "busybox", "echo", "hi"]), "hi\n");
    s.fails(&["run", "--rm", "--cgroup-parent", cg, "busybox", "sh", "-c", "exit 3"], 3);
    let err = s.fails(&["run", "--rm", "--cgroup-parent", cg, "busybox", "no-such-command"], 127);
    assert!(err.contains("no-such-command"), "{err}");
    // stdout and stderr stay apart through the stdcopy framing.
    let o = s.run(&["run", "--rm", "--cgroup-parent", cg, "busybox", "sh", "-c", "echo out; echo err >&2"]);
    assert_eq!((String::from_utf8_lossy(&o.stdout).as_ref(), String::from_utf8_lossy(&o.stderr).as_ref()), ("out\n", "err\n"));
    // stdin piped into a foreground run.
    let mut child = s
        .docker()
        .args(["run", "-i", "--rm", "--cgroup-parent", cg, "busybox", "tr", "a-z", "A-Z"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"piped input\n").unwrap();
    assert_eq!(String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap(), "PIPED INPUT\n");

    // Detached, then everything docker's scripts do with it.
    let id = s.ok(&[
        "run",
        "-d",
        "--name",
        "api-d",
        "--cgroup-parent",
        cg,
        "-e",
        "FOO=bar",
        "-l",
        "tr=1",
        "busybox",
        "sh",
        "-c",
        "echo hello-out; echo hello-err >&2; exec sleep 300",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    assert_eq!(
        s.ok(&["ps", "--filter", "label=tr=1", "--format", "{{.ID}} {{.Names}} {{.State}}"]),
        format!("{} api-d running\n", &id[..12])
    );
    assert_eq!(s.ok(&["ps", "-a", "--filter", "name=api-d", "--format", "{{.Command}}"]), "\"sh -c 'echo hello-o…\"\n");
    // The CLI sees what the API made, at once, and the API what the CLI made.
    assert!(e.t.ok(&["ps", "--format", "{{.Names}}"]).contains("api-d"));
    e.t.ok(&e.args("run", &["-d", "--name", "cli-made", "busybox", "sleep", "300"]));
    assert!(s.ok(&["ps", "--format", "{{.Names}}"]).contains("cli-made"));
    assert!(s.ok(&["inspect", "-f", "{{.Config.Env}}", "api-d"]).contains("FOO=bar"));
    assert_eq!(s.ok(&["inspect", "-f", "{{.State.Running}} {{.Name}}", "api-d"]), "true /api-d\n");
    // The same answers through both fronts: inspect's JSON whole, and the list columns.
    let through_api: serde_json::Value = serde_json::from_str(&s.ok(&["inspect", "api-d"])).unwrap();
    let through_cli: serde_json::Value = serde_json::from_str(&e.t.ok(&["inspect", "api-d"])).unwrap();
    assert_eq!(through_api, through_cli);
    for args in [
        &["ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Image}} {{.Command}} {{.Status}} {{.Ports}} {{.Names}} {{.Labels}}"][..],
        &["images", "--format", "{{.Repository}} {{.Tag}} {{.ID}} {{.Size}}"][..],
        &["volume", "ls"][..],
        &["network", "ls", "--format", "{{.ID}} {{.Name}} {{.Driver}}"][..],
    ] {
        assert_eq!(s.ok(args), e.t.ok(args), "{args:?}");
    }
    // Logs, demultiplexed by the client.
    let o = s.run(&["logs", "api-d"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello-out\n");
    assert_eq!(String::from_utf8_lossy(&o.stderr), "hello-err\n");
    let o = s.run(&["logs", "--tail", "1", "-t", "api-d"]);
    let tail = String::from_utf8_lossy(&o.stderr);
    assert!(o.stdout.is_empty() && tail.ends_with(" hello-err\n") && tail.starts_with("20"), "{tail}");
    // logs -f follows until the container exits.
    s.ok(&["run", "-d", "--name", "api-f", "--cgroup-parent", cg, "busybox", "sh", "-c", "echo a; sleep 0.3; echo b"]);
    assert_eq!(s.ok(&["logs", "-f", "api-f"]), "a\nb\n");
    s.ok(&["rm", "api-f"]);
    // Exec: output, stdin, exit codes.
    assert_eq!(s.ok(&["exec", "api-d", "echo", "from-exec"]), "from-exec\n");
    let mut child = s.docker().args(["exec", "-i", "api-d", "cat"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"through exec\n").unwrap();
    assert_eq!(String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap(), "through exec\n");
    s.fails(&["exec", "api-d", "sh", "-c", "exit 4"], 4);
    assert_eq!(s.ok(&["exec", "-u", "nobody", "api-d", "id", "-u"]), "65534\n");
    // top and diff.
    assert!(s.ok(&["top", "api-d"]).contains("sleep 300"));
    // cp both ways; a path missing in the container is docker's error.
    let host_file = e.t.path("to-container.txt");
    std::fs::write(&host_file, "from the host\n").unwrap();
    s.ok(&["cp", host_file.to_str().unwrap(), "api-d:/tmp/"]);
    assert_eq!(s.ok(&["exec", "api-d", "cat", "/tmp/to-container.txt"]), "from the host\n");
    let back = e.t.path("back");
    s.ok(&["cp", "api-d:/tmp/to-container.txt", back.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&back).unwrap(), "from the host\n");
    assert!(s.fails(&["cp", "api-d:/no/such/path", back.to_str().unwrap()], 1).contains("No such container:path: api-d:/no/such/path"));
    assert!(s.ok(&["diff", "api-d"]).contains("A /tmp/to-container.txt"));
    // Stop, start, restart, kill, rm: the states docker shows.
    s.ok(&["stop", "-t", "1", "api-d"]);
    assert!(s.ok(&["ps", "-a", "--filter", "name=api-d", "--format", "{{.Status}}"]).starts_with("Exited (137)"));
    s.ok(&["start", "api-d"]);
    s.ok(&["restart", "-t", "0", "api-d"]);
    assert_eq!(s.ok(&["inspect", "-f", "{{.State.Status}}", "api-d"]), "running\n");
    // pause, update, rename, commit.
    s.ok(&["pause", "api-d"]);
    assert_eq!(s.ok(&["inspect", "-f", "{{.State.Status}}", "api-d"]), "paused\n");
    s.ok(&["unpause", "api-d"]);
    s.ok(&["update", "--memory", "64m", "--memory-swap", "128m", "api-d"]);
    assert_eq!(s.ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "api-d"]), format!("{}\n", 64 << 20));
    s.ok(&["rename", "api-d", "api-renamed"]);
    s.ok(&["rename", "api-renamed", "api-d"]);
    let committed = s.ok(&["commit", "-c", "ENV COMMITTED=1", "api-d", "api-committed:1"]);
    assert!(committed.starts_with("sha256:"), "{committed}");
    assert_eq!(s.ok(&["run", "--rm", "--cgroup-parent", cg, "api-committed:1", "cat", "/tmp/to-container.txt"]), "from the host\n");
    assert!(s.ok(&["inspect", "-f", "{{.Config.Env}}", "api-committed:1"]).contains("COMMITTED=1"));
    s.ok(&["kill", "api-d"]);
    assert!(s.fails(&["kill", "api-d"], 1).contains("is not running"));
    s.ok(&["rm", "api-d"]);
    assert!(s.fails(&["inspect", "api-d"], 1).contains("No such object: api-d"));
    assert!(!e.t.ok(&["ps", "-a", "--format", "{{.Names}}"]).contains("api-d"));
    // Published ports answer on the host; docker port and ps show them.
    s.ok(&[
        "run",
        "-d",
        "--name",
        "api-web",
        "--cgroup-parent",
        cg,
        "-p",
        "127.0.0.1::8080",
        "busybox",
        "sh",
        "-c",
        "echo served > /tmp/index.html; exec httpd -f -p 8080 -h /tmp",
    ]);
    let port = s.ok(&["port", "api-web", "8080/tcp"]);
    let addr = port.lines().next().unwrap_or("").to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{port}");
    assert!(s.ok(&["ps", "--filter", "name=api-web", "--format", "{{.Ports}}"]).contains("->8080/tcp"));
    let mut body = String::new();
    for _ in 0..100 {
        let o = Command::new("curl").args(["-s", &format!("http://{addr}/index.html")]).output().unwrap();
        body = String::from_utf8_lossy(&o.stdout).into_owned();
        if body == "served\n" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(body, "served\n");
    let stats = s.ok(&["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "api-web"]);
    assert!(stats.starts_with("api-web "), "{stats}");
    s.ok(&["rm", "-f", "api-web"]);
    assert!(s.ok(&["system", "df"]).contains("Images"));
    assert!(s.ok(&["info", "--format", "{{.Driver}}"]).contains("overlay2"));
    // Events: the store's log, what both fronts did.
    let ev = s.ok(&["events", "--since", "5m", "--until", "0s", "--filter", "container=cli-made", "--format", "{{.Action}}"]);
    assert!(ev.lines().any(|l| l == "start"), "{ev}");
    s.ok(&["rm", "-f", "cli-made"]);
}

#[test]
fn a_terminal_run_and_exec_work_under_script() {
    require_root!();
    require_tool!(DOCKER);
    require_tool!("script");
    let (e, s) = env();
    let host = format!("unix://{}", s.sock.display());
    let sh = |cmd: &str| {
        let o = Command::new("script")
            .args(["-qec", cmd, "/dev/null"])
            .env("DOCKER_HOST", &host)
            .env("DOCKER_CONFIG", &s.config)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (code, out) = sh(&format!("{DOCKER} run -it --rm --cgroup-parent {} busybox sh -c 'tty; echo tty-run'", e.cgroup));
    assert_eq!(code, Some(0), "{out}");
    // The container's pty turns \n into \r\n (the client's terminal may add another \r
    // before the docker CLI has set it raw).
    assert!(out.contains("/dev/pts/") && out.contains("tty-run\r"), "{out:?}");
    s.ok(&["run", "-d", "--name", "tty-target", "--cgroup-parent", &e.cgroup, "busybox", "sleep", "300"]);
    let (code, out) = sh(&format!("{DOCKER} exec -it tty-target sh -c 'tty; echo tty-exec; exit 5'"));
    assert_eq!(code, Some(5), "{out}");
    assert!(out.contains("/dev/pts/") && out.contains("tty-exec\r"), "{out:?}");
}

#[test]
fn volumes_networks_and_names_between_containers() {
    require_root!();
    require_tool!(DOCKER);
    let (e, s) = env();
    let cg = e.cgroup.as_str();
    assert_eq!(s.ok(&["volume", "create", "api-vol"]), "api-vol\n");
    assert!(s.ok(&["volume", "ls", "--format", "{{.Name}}"]).contains("api-vol"));
    s.ok(&["run", "--rm", "--cgroup-parent", cg, "-v", "api-vol:/data", "busybox", "sh", "-c", "echo kept > /data/f"]);
    assert_eq!(s.ok(&["run", "--rm", "--cgroup-parent", cg, "-v", "api-vol:/data:ro", "busybox", "cat", "/data/f"]), "kept\n");
    // The volume the API made is the CLI's too.
    assert!(e.t.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "api-vol"]).trim().ends_with("/volumes/api-vol/_data"));
    // A bind mount, read-only inside.
    let dir = e.t.path("bind");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("x"), "bound\n").unwrap();
    let spec = format!("{}:/mnt:ro", dir.display());
    assert_eq!(s.ok(&["run", "--rm", "--cgroup-parent", cg, "-v", &spec, "busybox", "cat", "/mnt/x"]), "bound\n");
    s.fails(&["run", "--rm", "--cgroup-parent", cg, "-v", &spec, "busybox", "touch", "/mnt/y"], 1);
    assert!(!dir.join("y").exists());
    // A user network: the alias resolves from another container.
    s.ok(&["network", "create", "--subnet", "10.231.7.0/24", "api-net"]);
    s.ok(&[
        "run",
        "-d",
        "--name",
        "api-web",
        "--network",
        "api-net",
        "--network-alias",
        "webby",
        "--cgroup-parent",
        cg,
        "busybox",
        "sleep",
        "300",
    ]);
    let ping = s.ok(&["run", "--rm", "--network", "api-net", "--cgroup-parent", cg, "busybox", "ping", "-c", "1", "-W", "5", "webby"]);
    assert!(ping.contains("10.231.7."), "{ping}");
    assert!(s.ok(&["network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", "api-net"]).contains("10.231.7.0/24"));
    // API 1.44+: several networks at create.
    s.ok(&["network", "create", "--subnet", "10.231.8.0/24", "api-net2"]);
    let create = format!(
        r#"{{"Image":"busybox","Cmd":["sleep","300"],"HostConfig":{{"NetworkMode":"api-net","CgroupParent":"{cg}"}},"NetworkingConfig":{{"EndpointsConfig":{{"api-net":{{}},"api-net2":{{"Aliases":["second"]}}}}}}}}"#
    );
    let (code, text) = s.curl("POST", "/v1.44/containers/create?name=api-two", Some(create.as_bytes()));
    assert_eq!(code, 201, "{text}");
    assert_eq!(s.curl("POST", "/v1.44/containers/api-two/start", None).0, 204);
    let nets = s.ok(&["inspect", "-f", "{{range $k, $v := .NetworkSettings.Networks}}{{$k}}={{$v.IPAddress}} {{end}}", "api-two"]);
    assert!(nets.contains("api-net=10.231.7.") && nets.contains("api-net2=10.231.8."), "{nets}");
    let ping = s.ok(&["run", "--rm", "--network", "api-net2", "--cgroup-parent", cg, "busybox", "ping", "-c", "1", "-W", "5", "second"]);
    assert!(ping.contains("10.231.8."), "{ping}");
    s.ok(&["rm", "-f", "api-two"]);
    s.ok(&["network", "rm", "api-net2"]);
    s.ok(&["rm", "-f", "api-web"]);
    s.ok(&["network", "rm", "api-net"]);
    s.fails(&["volume", "rm", "no-such-volume"], 1);
    s.ok(&["volume", "rm", "api-vol"]);
    // The prunes: stopped containers, unused networks and volumes, dangling images.
    s.ok(&["create", "--name", "api-stopped", "--cgroup-parent", cg, "busybox", "true"]);
    s.ok(&["network", "create", "api-unused"]);
    s.ok(&["volume", "create", "api-unused-vol"]);
    assert!(s.ok(&["container", "prune", "-f"]).contains("Deleted Containers:"));
    assert!(s.ok(&["network", "prune", "-f"]).contains("api-unused"));
    s.ok(&["volume", "prune", "-f"]);
    s.ok(&["image", "prune", "-f"]);
    assert!(e.t.ok(&["ps", "-aq"]).is_empty());
    assert!(!e.t.ok(&["network", "ls", "--format", "{{.Name}}"]).contains("api-unused"));
}

#[test]
fn images_build_save_load_tag_and_registry_round_trip() {
    require_root!();
    require_tool!(DOCKER);
    require_tool!("docker-registry");
    let (e, s) = env();
    let ctx = e.t.path("ctx");
    std::fs::create_dir(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nARG GREETING=hi\nRUN echo \"$GREETING from build\" > /greeting\nCOPY app.txt /app.txt\nCMD [\"cat\", \"/greeting\", \"/app.txt\"]\n",
    )
    .unwrap();
    std::fs::write(ctx.join("app.txt"), "app\n").unwrap();
    let out = s.ok(&["build", "-t", "api-built:1", "--build-arg", "GREETING=hello", ctx.to_str().unwrap()]);
    assert!(out.contains("Step 3/5 : RUN") && out.contains("Successfully tagged api-built:1"), "{out}");
    assert_eq!(s.ok(&["run", "--rm", "--cgroup-parent", &e.cgroup, "api-built:1"]), "hello from build\napp\n");
    // The same id through the CLI, and a quiet rebuild is all cache.
    let id = e.t.ok(&["inspect", "-f", "{{.Id}}", "api-built:1"]);
    assert_eq!(s.ok(&["build", "-q", "-t", "api-built:1", "--build-arg", "GREETING=hello", ctx.to_str().unwrap()]), id);
    // A failing step: the client exits non-zero with the step's error; nothing is tagged.
    std::fs::write(ctx.join("Dockerfile"), "FROM busybox\nRUN exit 7\n").unwrap();
    let err = s.fails(&["build", "-t", "api-broken", ctx.to_str().unwrap()], 1);
    assert!(err.contains("returned a non-zero code: 7"), "{err}");
    s.fails(&["inspect", "api-broken"], 1);
    // Tag, images, save, rmi, load.
    s.ok(&["tag", "api-built:1", "api-built:2"]);
    assert!(s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]).contains("api-built:2"));
    let archive = e.t.path("saved.tar");
    s.ok(&["save", "-o", archive.to_str().unwrap(), "api-built:2"]);
    assert!(s.ok(&["rmi", "api-built:2"]).contains("Untagged: api-built:2"));
    assert!(s.ok(&["load", "-i", archive.to_str().unwrap()]).contains("Loaded image: api-built:2"));
    assert_eq!(e.t.ok(&["inspect", "-f", "{{.Id}}", "api-built:2"]), id);
    // import (images/create?fromSrc=-), and the build cache's prune.
    let rootfs = doca_testkit::busybox_tar();
    let imported = s.ok(&["import", "-c", "CMD [\"echo\", \"imported\"]", rootfs.to_str().unwrap(), "api-imported:1"]);
    assert!(imported.starts_with("sha256:"), "{imported}");
    assert_eq!(s.ok(&["run", "--rm", "--cgroup-parent", &e.cgroup, "api-imported:1"]), "imported\n");
    assert!(s.ok(&["builder", "prune", "-f"]).contains("Total"));
    // Push to and pull from a registry on loopback.
    let reg = DistRegistry::start(None);
    let remote = format!("{}/api/built:1", reg.host());
    s.ok(&["tag", "api-built:1", &remote]);
    let pushed = s.ok(&["push", &remote]);
    assert!(pushed.contains("digest: sha256:"), "{pushed}");
    s.ok(&["rmi", &remote]);
    s.ok(&["rmi", "api-built:1", "api-built:2"]);
    let pulled = s.ok(&["pull", &remote]);
    assert!(pulled.contains("Downloaded newer image for"), "{pulled}");
    assert_eq!(e.t.ok(&["inspect", "-f", "{{.Id}}", &remote]), id);
    // A registry with a password: `docker login` is checked by the server (`/auth`) and kept by
    // the client; push and pull carry it in X-Registry-Auth, and the server keeps nothing.
    let locked = DistRegistry::start(Some(("api-user", "api-pass")));
    let private = format!("{}/api/private:1", locked.host());
    s.ok(&["tag", &remote, &private]);
    assert!(s.fails(&["push", &private], 1).contains("authentication required"));
    let err = s.fails(&["login", "-u", "api-user", "--password", "wrong", &locked.host()], 1);
    assert!(err.contains("401"), "{err}");
    s.ok(&["login", "-u", "api-user", "--password", "api-pass", &locked.host()]);
    assert!(std::fs::read_to_string(s.config.join("config.json")).unwrap().contains(&locked.host()));
    assert!(s.ok(&["push", &private]).contains("digest: sha256:"));
    s.ok(&["rmi", &private]);
    let pulled = s.ok(&["pull", &private]);
    assert!(pulled.contains(&format!("Status: Image is up to date for {private}")), "{pulled}");
    assert_eq!(e.t.ok(&["inspect", "-f", "{{.Id}}", &private]), id);
    assert!(!e.t.root().join("config.json").exists());
}

#[test]
fn containers_outlive_a_killed_server_and_a_new_one_sees_them() {
    require_root!();
    require_tool!(DOCKER);
    let (e, mut s) = env();
    s.ok(&["run", "-d", "--name", "survivor", "--cgroup-parent", &e.cgroup, "busybox", "sh", "-c", "echo before; exec sleep 300"]);
    let pid = s.ok(&["inspect", "-f", "{{.State.Pid}}", "survivor"]);
    s.kill();
    assert!(Path::new(&format!("/proc/{}", pid.trim())).exists(), "the container died with the server");
    let s2 = Server::start(&e.t);
    assert_eq!(s2.ok(&["inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "survivor"]), format!("running {pid}"));
    assert_eq!(s2.ok(&["logs", "survivor"]), "before\n");
    assert_eq!(s2.ok(&["exec", "survivor", "echo", "still"]), "still\n");
    s2.ok(&["rm", "-f", "survivor"]);
}

#[test]
fn bad_requests_get_dockerds_statuses_and_leave_the_store_as_it_was() {
    require_root!();
    require_tool!("curl");
    let (e, s) = env();
    // Versions outside the range, and an unknown route.
    let (code, body) = s.curl("GET", "/v1.99/info", None);
    assert_eq!((code, body.contains("client version 1.99 is too new. Maximum supported API version is 1.47")), (400, true), "{body}");
    let (code, body) = s.curl("GET", "/v1.11/info", None);
    assert_eq!((code, body.contains("is too old. Minimum supported API version is 1.24")), (400, true), "{body}");
    assert_eq!(s.curl("GET", "/_ping", None), (200, "OK".into()));
    // Root's alone when the host has no `doca` group (0660 for that group when it has one).
    if !std::fs::read_to_string("/etc/group").unwrap_or_default().lines().any(|l| l.starts_with("doca:")) {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&s.sock).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(s.curl("GET", "/v1.41/no/such/route", None).0, 404);
    assert_eq!(s.curl("GET", "/v1.41/swarm", None).0, 503);
    let before = e.t.fingerprint();
    // Bodies that do not decode, or whose fields have the wrong types: 400, nothing made.
    for body in [&b"{not json"[..], br#"{"Image":"busybox","Cmd":42}"#, br#"{"Image":"busybox","HostConfig":{"Memory":"lots"}}"#, br#"{}"#]
    {
        let (code, text) = s.curl("POST", "/v1.41/containers/create?name=bad", Some(body));
        assert_eq!(code, 400, "{text}");
        assert!(text.starts_with("{\"message\":"), "{text}");
    }
    // Values the engine refuses, with its words.
    let (code, text) =
        s.curl("POST", "/v1.41/containers/create", Some(br#"{"Image":"busybox","HostConfig":{"Binds":["relative:dir:/x:zz"]}}"#));
    assert_eq!(code, 400, "{text}");
    let (code, text) = s.curl("POST", "/v1.41/containers/create", Some(br#"{"Image":"no-such-image"}"#));
    assert_eq!((code, text.contains("No such image: no-such-image")), (404, true), "{text}");
    assert_eq!(s.curl("GET", "/v1.41/containers/nope/json", None).0, 404);
    assert_eq!(s.curl("POST", "/v1.41/volumes/create", Some(br#"{"Name":"../escape"}"#)).0, 400);
    assert_eq!(s.curl("POST", "/v1.41/networks/create", Some(br#"{"Name":"n","IPAM":{"Config":[{"Subnet":"nonsense"}]}}"#)).0, 400);
    assert_eq!(s.curl("GET", "/v1.41/containers/json?filters=%5B1%5D", None).0, 400);
    // Images, exec, events, archives: each family refuses what does not parse, with a message.
    for (method, path, body, want) in [
        ("POST", "/v1.41/images/create?fromImage=UPPER/Case&tag=x", None, 400),
        ("POST", "/v1.41/images/busybox/tag?repo=bad%20name", None, 400),
        ("POST", "/v1.41/images/no-such-image/tag?repo=x", None, 404),
        ("DELETE", "/v1.41/images/no-such-image", None, 404),
        ("POST", "/v1.41/images/load", Some(&b"this is not a tar"[..]), 400),
        ("POST", "/v1.41/build?t=x", Some(&b"not a context"[..]), 400),
        ("POST", "/v1.41/containers/nope/exec", Some(&br#"{"Cmd":["true"]}"#[..]), 404),
        ("GET", "/v1.41/exec/nope/json", None, 404),
        ("GET", "/v1.41/events?filters=%7B%22nonsense%22%3A%5B%22x%22%5D%7D&until=1", None, 400),
        ("GET", "/v1.41/containers/nope/archive?path=/", None, 404),
        ("GET", "/v1.41/images/search?term=x", None, 500),
    ] {
        let (code, text) = s.curl(method, path, body);
        assert_eq!(code, want, "{method} {path}: {text}");
        assert!(text.starts_with("{\"message\":"), "{method} {path}: {text}");
    }
    assert_eq!(before, e.t.fingerprint(), "a refused request changed the store");
    assert!(e.t.ok(&["ps", "-aq"]).is_empty());
}

/// A tar with one hostile entry, as an attacker would send it to the archive and build routes.
fn hostile_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        // Raw names: the builder's own path checks would refuse `..`, an attacker's tar does not.
        let n = name.as_bytes();
        h.as_old_mut().name[..n.len()].copy_from_slice(n);
        if !link.is_empty() {
            let l = link.as_bytes();
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l);
        }
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn hostile_archives_and_build_contexts_touch_nothing_outside() {
    require_root!();
    require_tool!("curl");
    let (e, s) = env();
    let create = format!(r#"{{"Image":"busybox","Cmd":["sleep","300"],"HostConfig":{{"CgroupParent":"{}"}}}}"#, e.cgroup);
    let (code, _) = s.curl("POST", "/v1.41/containers/create?name=target", Some(create.as_bytes()));
    assert_eq!(code, 201);
    assert_eq!(s.curl("POST", "/v1.41/containers/target/start", None).0, 204);
    // A host directory the archive tries to reach: by `..`, by an absolute path, through a
    // symlink it plants first, and by a hard link to a host file.
    let outside = e.t.path("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), "host secret\n").unwrap();
    let o = outside.display().to_string();
    let escape = format!("../../../../../../../../../../..{o}/planted");
    let through = o.clone();
    let secret = format!("{o}/secret");
    let tar = hostile_tar(&[
        (&escape, tar::EntryType::Regular, "", b"x"),
        ("link", tar::EntryType::Symlink, &through, b""),
        ("link/planted", tar::EntryType::Regular, "", b"x"),
        ("hard", tar::EntryType::Link, &secret, b""),
    ]);
    let path = e.t.path("hostile.tar");
    std::fs::write(&path, &tar).unwrap();
    let out = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket"])
        .arg(&s.sock)
        .args(["-X", "PUT", "-T"])
        .arg(&path)
        .arg("http://docker/v1.41/containers/target/archive?path=/tmp")
        .output()
        .unwrap();
    let code = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(code == "400" || code == "500", "hostile archive answered {code}");
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 1, "the archive wrote outside the container");
    assert_eq!(std::fs::read_to_string(outside.join("secret")).unwrap(), "host secret\n");
    // A build context whose Dockerfile is a symlink to a host file: never read.
    let ctx = hostile_tar(&[("Dockerfile", tar::EntryType::Symlink, &secret, b"")]);
    let cpath = e.t.path("ctx.tar");
    std::fs::write(&cpath, &ctx).unwrap();
    let out = Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--unix-socket"])
        .arg(&s.sock)
        .args(["-X", "POST", "-H", "Content-Type: application/x-tar", "--data-binary"])
        .arg(format!("@{}", cpath.display()))
        .arg("http://docker/v1.41/build?t=hostile")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(!text.contains("host secret"), "the build read a host file: {text}");
    assert!(text.ends_with("400"), "{text}");
    assert!(e.t.run(&["inspect", "hostile"]).status.code() == Some(1));
    // Nothing was left in the staging directory either.
    let staging: Vec<_> = std::fs::read_dir(e.t.path("run/tmp")).into_iter().flatten().flatten().collect();
    assert!(staging.is_empty(), "{staging:?}");
}

/// A virtualenv with the Docker SDK for Python from PyPI, made once and kept under target/.
fn sdk_python() -> Option<PathBuf> {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("docker-sdk-venv");
    let python = venv.join("bin/python");
    let ready =
        python.exists() && Command::new(&python).args(["-c", "import docker"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if !ready {
        let made = (venv.join("bin/pip").exists()
            || Command::new("/usr/bin/python3").args(["-m", "venv"]).arg(&venv).status().is_ok_and(|s| s.success()))
            && Command::new(venv.join("bin/pip")).args(["install", "-q", "docker"]).status().is_ok_and(|s| s.success());
        if !made {
            return None;
        }
    }
    Some(python)
}

#[test]
fn the_python_sdk_drives_containers_images_volumes_networks_and_events() {
    require_root!();
    require_tool!("docker-registry");
    let Some(python) = sdk_python() else {
        assert!(std::env::var("CI").map(|v| v != "true").unwrap_or(true), "the Docker SDK for Python could not be installed");
        eprintln!("skipped: the Docker SDK for Python could not be installed");
        return;
    };
    let (e, s) = env();
    let reg = DistRegistry::start(None);
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api-clients/sdk_check.py");
    let o = Command::new(python)
        .arg(script)
        .env("DOCKER_HOST", format!("unix://{}", s.sock.display()))
        .env("IMAGE", "busybox:latest")
        .env("CGROUP", &e.cgroup)
        .env("REGISTRY", reg.host())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "sdk ok\n");
}

#[test]
fn docker_compose_runs_a_three_service_project() {
    require_root!();
    require_tool!("docker-compose");
    let (e, s) = env();
    let project = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api-clients/compose");
    let compose = |args: &[&str]| {
        let o = Command::new("docker-compose")
            .args(["-p", "docatest", "--project-directory"])
            .arg(&project)
            .args(["-f"])
            .arg(project.join("docker-compose.yml"))
            .args(args)
            .env("DOCKER_HOST", format!("unix://{}", s.sock.display()))
            .env("DOCKER_CONFIG", &s.config)
            .env("IMAGE", "busybox:latest")
            .env("CGROUP", &e.cgroup)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    type Outcome = (Option<i32>, String, String);
    struct Down<'a>(&'a dyn Fn(&[&str]) -> Outcome);
    impl Drop for Down<'_> {
        fn drop(&mut self) {
            let _ = (self.0)(&["down", "-v"]);
        }
    }
    let _down = Down(&compose);
    let (code, out, err) = compose(&["up", "-d", "--build"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    let (_, ps, _) = compose(&["ps"]);
    for name in ["docatest_web_1", "docatest_db_1", "docatest_client_1"] {
        assert!(ps.lines().any(|l| l.starts_with(name) && l.contains(" Up")), "{ps}");
    }
    // compose's labels are on the containers, as doca's own CLI sees them.
    assert_eq!(e.t.ok(&["inspect", "-f", "{{index .Config.Labels \"com.docker.compose.service\"}}", "docatest_web_1"]), "web\n");
    let (_, built, _) = compose(&["exec", "-T", "web", "cat", "/built"]);
    assert_eq!(built, "built\n");
    // The client reached web by its service name; logs are compose's, prefixed.
    let mut logs = String::new();
    for _ in 0..100 {
        logs = compose(&["logs", "--no-color", "client"]).1;
        if logs.contains("reached-web") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(logs.contains("client_1  | reached-web"), "{logs}");
    let (code, out, err) = compose(&["run", "--rm", "-T", "client", "sh", "-c", "echo one-off; exit 6"]);
    assert_eq!((code, out.contains("one-off")), (Some(6), true), "{out}\n{err}");
    let (code, out, err) = compose(&["up", "-d", "--scale", "db=2"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(e.t.ok(&["ps", "--format", "{{.Names}}"]).contains("docatest_db_2"));
    let (code, out, err) = compose(&["down", "-v"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert_eq!(e.t.ok(&["ps", "-aq"]), "");
    assert!(!e.t.ok(&["volume", "ls", "-q"]).contains("docatest_dbdata"));
    assert!(!e.t.ok(&["network", "ls", "--format", "{{.Name}}"]).contains("docatest_default"));
}

/// Waits (a long while at most) for a child to exit on its own; its status.
fn exits_by_itself(child: &mut Child) -> Option<std::process::ExitStatus> {
    for _ in 0..600 {
        if let Some(s) = child.try_wait().unwrap() {
            return Some(s);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn socket_activation_serves_the_passed_socket_and_exits_when_idle() {
    require_root!();
    require_tool!("curl");
    let e = ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-apitest");
    let t = &e.t;
    let sock = t.path("activated.sock");
    // What systemd does for doca.socket: the listening socket as fd 3, LISTEN_FDS=1 and
    // LISTEN_PID=the service's pid (known to the shell that execs doca).
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let inode = {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/proc/self/fd/{}", listener.as_raw_fd())).unwrap().ino()
    };
    let mut child = Command::new("sh")
        .args(["-c", r#"exec 3<&0 </dev/null; export LISTEN_PID=$$ LISTEN_FDS=1; exec "$0" serve -H fd:// --timeout 2"#])
        .arg(env!("CARGO_BIN_EXE_doca"))
        .env("DOCA_ROOT", t.root())
        .env("DOCA_RUN_ROOT", t.path("run"))
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(listener)))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let curl = |args: &[&str]| {
        let o = Command::new("curl").args(["-s", "--unix-socket"]).arg(&sock).args(args).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(curl(&["http://docker/_ping"]), "OK");
    // A container started by the activated server: its monitor (and everything else the
    // server starts) must not hold the API's listening socket, which systemd passes
    // without FD_CLOEXEC.
    let create = format!(r#"{{"Image":"busybox","Cmd":["sleep","300"],"HostConfig":{{"CgroupParent":"{}"}}}}"#, e.cgroup);
    let created = curl(&[
        "-X",
        "POST",
        "-H",
        "Content-Type: application/json",
        "-d",
        &create,
        "http://docker/v1.41/containers/create?name=activated",
    ]);
    assert!(created.contains("\"Id\""), "{created}");
    curl(&["-X", "POST", "http://docker/v1.41/containers/activated/start"]);
    assert_eq!(t.ok(&["inspect", "-f", "{{.State.Running}}", "activated"]), "true\n");
    let holders: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|p| p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_dir(format!("/proc/{pid}/fd"))
                .into_iter()
                .flatten()
                .flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == format!("socket:[{inode}]")))
        })
        .collect();
    assert_eq!(holders, [child.id()], "processes holding the API socket");
    curl(&["-X", "DELETE", "http://docker/v1.41/containers/activated?force=1"]);
    // Idle for two seconds after the last connection: the server exits, nothing stays resident.
    let status = exits_by_itself(&mut child).expect("the activated server never exited");
    assert!(status.success(), "{status:?}");
}

#[test]
fn tcp_needs_tls_and_tls_needs_the_clients_certificate() {
    require_root!();
    require_tool!(DOCKER);
    require_tool!("openssl");
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    // Plain TCP is refused unless asked for by name.
    let port = doca_testkit::free_port();
    let err = t.fails(&["serve", "-H", &format!("tcp://127.0.0.1:{port}")], 1);
    assert!(err.contains("plain TCP is refused without TLS"), "{err}");
    let certs = t.path("certs");
    std::fs::create_dir(&certs).unwrap();
    doca_testkit::make_certs(&certs);
    let c = |f: &str| certs.join(f).display().to_string();
    let mut server = t
        .cmd()
        .args([
            "serve",
            "-H",
            &format!("tcp://127.0.0.1:{port}"),
            "--tlsverify",
            "--tlscacert",
            &c("ca.crt"),
            "--tlscert",
            &c("server.crt"),
            "--tlskey",
            &c("server.key"),
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let docker = |args: &[&str]| {
        Command::new(DOCKER)
            .env("DOCKER_CONFIG", t.path("docker-config"))
            .args(["-H", &format!("tcp://127.0.0.1:{port}")])
            .args(args)
            .args(["version", "--format", "{{.Server.APIVersion}}"])
            .output()
            .unwrap()
    };
    let ok = docker(&["--tlsverify", "--tlscacert", &c("ca.crt"), "--tlscert", &c("client.crt"), "--tlskey", &c("client.key")]);
    assert_eq!(String::from_utf8_lossy(&ok.stdout), "1.47\n", "{}", String::from_utf8_lossy(&ok.stderr));
    // No client certificate: the handshake is refused.
    let refused = docker(&["--tlsverify", "--tlscacert", &c("ca.crt")]);
    assert!(!refused.status.success());
    let _ = server.kill();
    let _ = server.wait();
}

/// A websocket client of a few lines: the handshake, then masked frames out, frames in.
fn ws_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x11u8, 0x22, 0x33, 0x44];
    let mut v = vec![0x80 | opcode, 0x80 | u8::try_from(payload.len()).unwrap()];
    v.extend_from_slice(&mask);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    v
}

#[test]
fn attach_over_a_websocket_carries_stdin_and_raw_output() {
    require_root!();
    use std::io::Read;
    let (e, s) = env();
    let create = format!(
        r#"{{"Image":"busybox","Cmd":["sh","-c","read line; echo got:$line; echo err >&2"],"OpenStdin":true,"HostConfig":{{"CgroupParent":"{}"}}}}"#,
        e.cgroup
    );
    let (code, body) = s.curl("POST", "/v1.43/containers/create?name=wsc", Some(create.as_bytes()));
    assert_eq!(code, 201, "{body}");
    assert_eq!(s.curl("POST", "/v1.43/containers/wsc/start", None).0, 204);
    let (mut sock, mut r, head) = s.raw(
        "GET /v1.43/containers/wsc/attach/ws?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // RFC 6455's own example key and answer.
    assert!(head.to_ascii_lowercase().contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="), "{head}");
    sock.write_all(&ws_frame(0x2, b"hello\n")).unwrap();
    // Raw output in binary frames (API 1.43), then a close when the container ends.
    let mut out = Vec::new();
    loop {
        let mut h = [0u8; 2];
        r.read_exact(&mut h).unwrap();
        let mut payload = vec![0u8; usize::from(h[1] & 0x7f)];
        r.read_exact(&mut payload).unwrap();
        match h[0] & 0x0f {
            0x8 => break,
            op => {
                assert_eq!(op, 0x2, "a data frame of API 1.43 is binary");
                out.extend(payload);
            }
        }
    }
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains("got:hello\n") && text.contains("err\n"), "{text}");
    s.ok(&["rm", "-f", "wsc"]);
}

#[test]
fn the_detach_keys_end_an_attach_to_a_terminal_and_the_container_goes_on() {
    require_root!();
    use std::io::Read;
    let (e, s) = env();
    let create =
        format!(r#"{{"Image":"busybox","Cmd":["sh"],"Tty":true,"OpenStdin":true,"HostConfig":{{"CgroupParent":"{}"}}}}"#, e.cgroup);
    assert_eq!(s.curl("POST", "/v1.41/containers/create?name=det", Some(create.as_bytes())).0, 201);
    assert_eq!(s.curl("POST", "/v1.41/containers/det/start", None).0, 204);
    let (mut sock, mut r, head) = s.raw(
        "POST /v1.41/containers/det/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-x,q HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n",
    );
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // Input reaches the shell; then the keys (a partial one first, which is input after all).
    sock.write_all(b"echo mark-$((40+2))\n").unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&out).contains("mark-42") {
        let n = r.read(&mut buf).unwrap();
        assert!(n > 0, "the attach ended early: {}", String::from_utf8_lossy(&out));
        out.extend_from_slice(&buf[..n]);
    }
    sock.write_all(b"\x18").unwrap();
    sock.write_all(b"q").unwrap();
    // The server ends the attach: the stream reaches its end.
    r.read_to_end(&mut out).unwrap();
    assert_eq!(s.ok(&["inspect", "-f", "{{.State.Running}}", "det"]), "true\n");
    s.ok(&["rm", "-f", "det"]);
    // HostConfig.ConsoleSize (API 1.42+): the terminal has its size from the first instant.
    let create = format!(
        r#"{{"Image":"busybox","Cmd":["stty","size"],"Tty":true,"HostConfig":{{"ConsoleSize":[33,99],"CgroupParent":"{}"}}}}"#,
        e.cgroup
    );
    assert_eq!(s.curl("POST", "/v1.43/containers/create?name=sized", Some(create.as_bytes())).0, 201);
    assert_eq!(s.curl("POST", "/v1.43/containers/sized/start", None).0, 204);
    assert_eq!(s.curl("POST", "/v1.43/containers/sized/wait", None).0, 200);
    assert_eq!(s.ok(&["logs", "sized"]), "33 99\r\n");
    assert_eq!(s.ok(&["inspect", "-f", "{{json .HostConfig.ConsoleSize}}", "sized"]), "[33,99]\n");
    s.ok(&["rm", "sized"]);
}
