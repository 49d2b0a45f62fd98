//! `doca build` as users use it, as root: Dockerfiles into images that run as written, a cache
//! that is reused exactly when the inputs are the same, reproducible digests, multi-stage
//! builds, and errors that name the line and leave nothing behind.

use doca_testkit::{require_root, ContainerEnv};
use std::path::PathBuf;

struct Env {
    e: ContainerEnv,
    ctx: PathBuf,
}

impl Env {
    fn new() -> Env {
        let e = ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-btest");
        let ctx = e.t.path("ctx");
        std::fs::create_dir_all(&ctx).unwrap();
        Env { e, ctx }
    }

    fn write(&self, rel: &str, text: &str) {
        let p = self.ctx.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    /// `doca build --cgroup-parent ... --network none ARGS CTX`; stdout.
    fn build(&self, args: &[&str]) -> String {
        let ctx = self.ctx.to_str().unwrap();
        let mut v = vec!["build", "--cgroup-parent", self.e.cgroup.as_str(), "--network", "none"];
        v.extend_from_slice(args);
        v.push(ctx);
        self.e.t.ok(&v)
    }

    fn build_fails(&self, args: &[&str]) -> String {
        let ctx = self.ctx.to_str().unwrap();
        let mut v = vec!["build", "--cgroup-parent", self.e.cgroup.as_str(), "--network", "none"];
        v.extend_from_slice(args);
        v.push(ctx);
        self.e.t.fails(&v, 1)
    }

    fn run(&self, args: &[&str]) -> String {
        let mut v = vec!["--rm", "--network", "none"];
        v.extend_from_slice(args);
        self.e.t.ok(&self.e.args("run", &v))
    }

    /// No container, mount or build directory is left.
    fn assert_clean(&self) {
        assert_eq!(self.e.t.ok(&["ps", "-aq"]), "", "containers left");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(self.e.t.root().to_str().unwrap()), "mounts left");
        let tmp = self.e.t.root().join("tmp");
        let left: Vec<_> = std::fs::read_dir(&tmp)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|d| d.file_name().to_string_lossy().starts_with("build-"))
            .collect();
        assert!(left.is_empty(), "build directories left: {left:?}");
    }
}

fn steps_cached(out: &str) -> usize {
    out.matches("---> Using cache").count()
}

#[test]
fn the_seeds_dockerfile_builds_an_image_whose_config_run_honours() {
    require_root!();
    let e = Env::new();
    e.write("my.cnf", "[mysqld]\nport=3306\n");
    e.write(
        "Dockerfile",
        "FROM busybox\n\
         RUN mkdir -p /var/lib/mysql /etc/mysql/conf.d \\\n    && echo installed > /installed\n\
         ENV MYSQL_ROOT_PASSWORD=secret MYSQL_DATABASE=pipeline\n\
         VOLUME /var/lib/mysql\n\
         COPY my.cnf /etc/mysql/conf.d/\n\
         EXPOSE 3306\n\
         CMD [\"sh\", \"-c\", \"echo $MYSQL_DATABASE; cat /installed /etc/mysql/conf.d/my.cnf; mount | grep -c /var/lib/mysql\"]\n",
    );
    let out = e.build(&["-t", "seed/mysql:1"]);
    assert!(out.contains("Step 7/7 : CMD"), "{out}");
    assert!(out.contains("Successfully tagged seed/mysql:1"), "{out}");
    let cfg: serde_json::Value = serde_json::from_str(&e.e.t.ok(&["inspect", "--format", "{{json .Config}}", "seed/mysql:1"])).unwrap();
    // The base (busybox imported without ENV) has no PATH: the built image gets docker's
    // default first, as docker's builders write it (issue 17, item 10).
    assert_eq!(
        cfg["Env"],
        serde_json::json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "MYSQL_ROOT_PASSWORD=secret",
            "MYSQL_DATABASE=pipeline"
        ])
    );
    assert_eq!(cfg["Volumes"], serde_json::json!({"/var/lib/mysql": {}}));
    assert_eq!(cfg["ExposedPorts"], serde_json::json!({"3306/tcp": {}}));
    assert_eq!(cfg["Cmd"][0], "sh");
    // The image runs as the Dockerfile says: its env, its files, a volume at its VOLUME.
    assert_eq!(e.run(&["seed/mysql:1"]), "pipeline\ninstalled\n[mysqld]\nport=3306\n1\n");
    // Intermediate images only with -a.
    let all = e.e.t.ok(&["images", "-aq"]).lines().count();
    let top = e.e.t.ok(&["images", "-q"]).lines().count();
    assert!(all > top, "images -a {all}, images {top}");
    e.assert_clean();
}

#[test]
fn the_cache_is_reused_exactly_when_the_inputs_are_the_same() {
    require_root!();
    let e = Env::new();
    e.write("a.txt", "a\n");
    e.write("b.txt", "b\n");
    e.write("notes.log", "ignored\n");
    e.write(".dockerignore", "*.log\n");
    e.write(
        "Dockerfile",
        "FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt > /from-a\nCOPY b.txt /b.txt\nRUN cat /b.txt > /from-b\nCOPY . /ctx/\n",
    );
    let first = e.build(&["-q"]);
    assert_eq!(first.trim().len(), 71, "{first}");
    // Touching files without changing them: every step cached, the same image.
    let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
    for f in ["a.txt", "b.txt", "Dockerfile"] {
        std::fs::File::options().write(true).open(e.ctx.join(f)).unwrap().set_modified(later).unwrap();
    }
    let out = e.build(&[]);
    assert_eq!(steps_cached(&out), 5, "{out}");
    assert!(out.contains(&format!("Successfully built {}", &first.trim()[7..19])), "{out}");
    // A .dockerignore'd file changes nothing.
    e.write("notes.log", "changed\n");
    assert_eq!(steps_cached(&e.build(&[])), 5);
    // One byte of b.txt: the steps before it cached, it and everything after run again.
    e.write("b.txt", "B\n");
    let out = e.build(&["-t", "cache:1"]);
    assert_eq!(steps_cached(&out), 2, "{out}");
    assert_eq!(e.run(&["cache:1", "cat", "/from-a", "/from-b", "/ctx/b.txt"]), "a\nB\nB\n");
    assert_eq!(e.run(&["cache:1", "ls", "/ctx"]), "Dockerfile\na.txt\nb.txt\n", ".dockerignore and its patterns");
    // --no-cache runs everything.
    assert_eq!(steps_cached(&e.build(&["--no-cache"])), 0);
    // builder prune empties the cache.
    let pruned = e.e.t.ok(&["builder", "prune", "-f"]);
    assert!(pruned.contains("Total reclaimed space"), "{pruned}");
    assert_eq!(steps_cached(&e.build(&[])), 0);
    e.assert_clean();
}

#[test]
fn builds_are_reproducible_across_stores_times_and_mtimes() {
    require_root!();
    let e = Env::new();
    let other = Env::new();
    // Both stores need the same base image (an import is dated): moved with save/load.
    let base = e.e.t.path("base.tar");
    e.e.t.ok(&["save", "-o", base.to_str().unwrap(), "busybox"]);
    other.e.t.ok(&["rmi", "busybox"]);
    other.e.t.ok(&["load", "-q", "-i", base.to_str().unwrap()]);
    for env in [&e, &other] {
        env.write("app/main.sh", "echo hi\n");
        env.write(
            "Dockerfile",
            "FROM busybox\nWORKDIR /app\nCOPY app/ .\nRUN chmod +x main.sh && date > /dev/null && mkdir /made\nCMD [\"./main.sh\"]\n",
        );
    }
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    std::fs::File::options().write(true).open(other.ctx.join("app/main.sh")).unwrap().set_modified(old).unwrap();
    let build = |env: &Env| {
        let ctx = env.ctx.to_str().unwrap();
        let mut c = env.e.t.cmd();
        c.args(["build", "-q", "--cgroup-parent", env.e.cgroup.as_str(), "--network", "none", ctx]).env("SOURCE_DATE_EPOCH", "1700000000");
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let a = build(&e);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = build(&other);
    assert_eq!(a, b, "same Dockerfile, context and epoch: same image");
    let manifest = |env: &Env, id: &str| {
        let out = env.e.t.path("img.tar");
        env.e.t.ok(&["save", "-o", out.to_str().unwrap(), id.trim()]);
        std::process::Command::new("tar").args(["-xOf", out.to_str().unwrap(), "index.json"]).output().unwrap().stdout
    };
    assert_eq!(manifest(&e, &a), manifest(&other, &b), "same manifest digest");
    let created = e.e.t.ok(&["inspect", "--format", "{{.Created}}", a.trim()]);
    assert!(created.starts_with("2023-11-14T22:13:20"), "{created}");
    e.assert_clean();
}

#[test]
fn multi_stage_builds_copy_from_stages_and_build_only_what_the_target_needs() {
    require_root!();
    let e = Env::new();
    e.write(
        "Dockerfile",
        "ARG GREETING=hello\n\
         FROM busybox AS builder\nARG GREETING\nRUN echo \"$GREETING from builder\" > /out.txt\n\
         FROM busybox AS unused\nRUN echo should-not-run\n\
         FROM scratch AS files\nCOPY --from=builder /out.txt /copied.txt\n\
         FROM busybox\nCOPY --from=files /copied.txt /final.txt\nCOPY --chmod=700 --chown=1:2 <<EOF /script.sh\necho script\nEOF\nCMD [\"cat\", \"/final.txt\"]\n",
    );
    let out = e.build(&["-t", "multi:1", "--build-arg", "GREETING=hi", "--build-arg", "UNUSED=1"]);
    assert!(!out.contains("should-not-run"), "the unused stage ran:\n{out}");
    assert_eq!(e.run(&["multi:1"]), "hi from builder\n");
    assert_eq!(e.run(&["multi:1", "stat", "-c", "%a %u %g", "/script.sh"]), "700 1 2\n");
    assert_eq!(e.run(&["multi:1", "sh", "/script.sh"]), "script\n");
    // --target: that stage, and only what it needs.
    let out = e.build(&["-t", "multi:builder", "--target", "builder"]);
    assert!(out.contains("Step 3/3"), "{out}");
    assert_eq!(e.run(&["multi:builder", "cat", "/out.txt"]), "hello from builder\n");
    let err = e.build_fails(&["--target", "nope"]);
    assert!(err.contains("target stage \"nope\" could not be found"), "{err}");
    e.assert_clean();
}

#[test]
fn add_extracts_local_archives_and_keeps_the_rest_as_files() {
    require_root!();
    let e = Env::new();
    let mut layer = doca_testkit::Layer::new();
    layer.dir("pkg", 0o755).file("pkg/readme", b"from the archive\n");
    let tar = layer.finish();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    std::fs::write(e.ctx.join("pkg.tar.gz"), gz.finish().unwrap()).unwrap();
    e.write("plain.txt", "plain\n");
    e.write("Dockerfile", "FROM busybox\nADD pkg.tar.gz /opt/\nADD plain.txt /opt/\nCOPY pkg.tar.gz /raw/\n");
    e.build(&["-t", "add:1"]);
    assert_eq!(e.run(&["add:1", "sh", "-c", "cat /opt/pkg/readme /opt/plain.txt; ls /raw"]), "from the archive\nplain\npkg.tar.gz\n");
    e.assert_clean();
}

#[test]
fn errors_name_the_line_exit_1_and_leave_nothing_behind() {
    require_root!();
    let e = Env::new();
    let before = e.e.t.ok(&["images", "-aq"]);
    e.write("Dockerfile", "FROM busybox\n\nRUNN true\n");
    let err = e.build_fails(&["-t", "bad:1"]);
    assert!(err.contains("Dockerfile:3: unknown instruction: RUNN"), "{err}");
    e.write("Dockerfile", "FROM busybox\nFROM a b\n");
    assert!(e.build_fails(&[]).contains("Dockerfile:2: FROM requires either one or three arguments"));
    e.write("Dockerfile", "FROM busybox\nCOPY missing.txt /x\n");
    let err = e.build_fails(&[]);
    assert!(err.contains("Dockerfile:2:") && err.contains("missing.txt"), "{err}");
    e.write("Dockerfile", "FROM busybox\nCOPY ../outside /x\n");
    assert!(e.build_fails(&[]).contains("outside the build context"));
    e.write("Dockerfile", "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\n");
    let err = e.build_fails(&["--target", "a"]);
    assert!(err.contains("Dockerfile:2:") && err.contains("circular"), "{err}");
    // A failing RUN: its exit code and its last lines, the build stops, nothing is tagged.
    e.write("Dockerfile", "FROM busybox\nRUN echo first-line; echo the-reason >&2; exit 3\nRUN echo never\n");
    let err = e.build_fails(&["-t", "bad:1"]);
    assert!(err.contains("Dockerfile:2:") && err.contains("returned a non-zero code: 3") && err.contains("the-reason"), "{err}");
    assert!(e.e.t.fails(&["inspect", "bad:1"], 1).contains("No such"));
    assert_eq!(e.e.t.ok(&["images", "-aq"]), before, "no image made");
    e.assert_clean();
}

#[test]
fn an_interrupted_build_leaves_no_container_mount_or_temp_directory() {
    require_root!();
    let e = Env::new();
    e.write("Dockerfile", "FROM busybox\nRUN echo started; sleep 60\n");
    let ctx = e.ctx.to_str().unwrap();
    let mut child =
        e.e.t
            .cmd()
            .args(["build", "--cgroup-parent", e.e.cgroup.as_str(), "--network", "none", ctx])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
    // Wait for the RUN step to be running.
    let mut out = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&seen).contains("started") {
        let n = std::io::Read::read(&mut out, &mut buf).unwrap();
        assert!(n > 0, "build ended early: {}", String::from_utf8_lossy(&seen));
        seen.extend_from_slice(&buf[..n]);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while e.e.t.ok(&["ps", "-q"]).lines().count() != 1 {
        assert!(std::time::Instant::now() < deadline, "the step's container never showed as running");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    e.assert_clean();
}

#[test]
fn run_steps_see_user_workdir_and_mounts_and_dockerfiles_come_from_anywhere() {
    require_root!();
    let e = Env::new();
    e.write("src/input.txt", "from the context\n");
    e.write(
        "build.Dockerfile",
        "FROM busybox\n\
         WORKDIR /w/sub\n\
         RUN pwd > /pwd\n\
         RUN --mount=type=bind,source=src,target=/mnt cat /mnt/input.txt > /bound\n\
         RUN --mount=type=cache,target=/cache sh -c 'echo run >> /cache/log; wc -l < /cache/log > /cache-count'\n\
         USER 1000:1000\n\
         RUN id -u > /tmp/uid\n",
    );
    // Dockerfile.dockerignore beside the Dockerfile wins over .dockerignore.
    e.write(".dockerignore", "src\n");
    e.write("build.Dockerfile.dockerignore", "nothing-to-ignore\n");
    let iid = e.e.t.path("iid");
    let file = e.ctx.join("build.Dockerfile");
    e.build(&["-f", file.to_str().unwrap(), "--iidfile", iid.to_str().unwrap(), "-t", "steps:1"]);
    let id = std::fs::read_to_string(&iid).unwrap();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    assert_eq!(e.run(&["steps:1", "cat", "/pwd", "/bound", "/cache-count", "/tmp/uid"]), "/w/sub\nfrom the context\n1\n1000\n");
    // The mount targets are not in the image; the cache directory outlives the build.
    assert_eq!(e.run(&["steps:1", "sh", "-c", "ls -d /mnt /cache 2>&1 | grep -c 'No such'"]), "2\n");
    e.build(&["-f", file.to_str().unwrap(), "--no-cache", "-t", "steps:2"]);
    assert_eq!(e.run(&["steps:2", "cat", "/cache-count"]), "2\n");
    // What a bind mount shows is part of the step's key: an edit there runs it again.
    e.write("src/input.txt", "edited\n");
    e.build(&["-f", file.to_str().unwrap(), "-t", "steps:3"]);
    assert_eq!(e.run(&["steps:3", "cat", "/bound"]), "edited\n");
    // A Dockerfile on stdin, with and without a context.
    let ctx = e.ctx.to_str().unwrap();
    for args in [vec!["build", "-q", "--network", "none", "-f", "-", ctx], vec!["build", "-q", "--network", "none", "-"]] {
        let mut c = e.e.t.cmd();
        c.args(&args).arg("--cgroup-parent").arg(&e.e.cgroup);
        let mut child = c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"FROM busybox\nLABEL from=stdin\n").unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let id = String::from_utf8(out.stdout).unwrap();
        assert_eq!(e.e.t.ok(&["inspect", "--format", "{{.Config.Labels.from}}", id.trim()]), "stdin\n");
    }
    e.assert_clean();
}

#[test]
fn copy_and_workdir_leave_existing_directories_as_they_are() {
    require_root!();
    let e = Env::new();
    e.write("dir/f", "f\n");
    e.write(
        "Dockerfile",
        "FROM busybox\nRUN chmod 1777 /tmp && chown 5:6 /etc && mkdir /real && ln -s /real /link\nCOPY dir/ /tmp/\nCOPY dir/f /etc/\nWORKDIR /tmp/w\nWORKDIR /link/sub\nCOPY dir/f /link/\n",
    );
    e.build(&["-t", "dirs:1"]);
    assert_eq!(e.run(&["dirs:1", "stat", "-c", "%a %u:%g", "/tmp", "/etc", "/tmp/w"]), "1777 0:0\n755 5:6\n755 0:0\n");
    // Paths through a link land where it points; the link stays a link.
    assert_eq!(e.run(&["dirs:1", "sh", "-c", "readlink /link; ls /real"]), "/real\nf\nsub\n");
    e.assert_clean();
}

#[test]
fn independent_stages_build_at_the_same_time() {
    require_root!();
    let e = Env::new();
    // Each stage waits for the other to have started (through a shared cache mount): built
    // one after the other, the first would give up after 20 s and fail the build.
    let wait = |me: &str, other: &str| {
        format!(
            "RUN --mount=type=cache,id=rendezvous,target=/sync sh -c 'touch /sync/{me}; i=0; while [ ! -e /sync/{other} ]; do i=$((i+1)); [ $i -lt 200 ] || exit 9; sleep 0.1; done; echo {me} > /{me}'\n"
        )
    };
    e.write(
        "Dockerfile",
        &format!(
            "FROM busybox AS a\n{}FROM busybox AS b\n{}FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\nCMD [\"cat\", \"/a\", \"/b\"]\n",
            wait("a", "b"),
            wait("b", "a")
        ),
    );
    let out = e.build(&["-t", "par:1"]);
    // Each stage's lines stay together, in stage order.
    let a = out.find("Step 1/8 : FROM busybox AS a").unwrap();
    let b = out.find("Step 3/8 : FROM busybox AS b").unwrap();
    assert!(a < b && !out[a..b].contains("Step 3/8"), "{out}");
    assert_eq!(e.run(&["par:1"]), "a\nb\n");
    e.assert_clean();
}

#[test]
fn add_downloads_urls_with_mode_0600_and_the_servers_date() {
    require_root!();
    use std::io::{BufRead, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = std::sync::Arc::new(std::sync::Mutex::new(b"version 1\n".to_vec()));
    let body = served.clone();
    std::thread::spawn(move || {
        for mut c in listener.incoming().flatten() {
            let mut r = std::io::BufReader::new(c.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let b = body.lock().unwrap().clone();
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nLast-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\nConnection: close\r\n\r\n",
                b.len()
            );
            let _ = c.write_all(&b);
        }
    });
    let e = Env::new();
    e.write(
        "Dockerfile",
        &format!(
            "FROM busybox\nADD http://127.0.0.1:{port}/files/notes.txt /opt/\nADD http://127.0.0.1:{port}/files/notes.txt /opt/renamed\n"
        ),
    );
    e.build(&["-t", "url:1"]);
    assert_eq!(
        e.run(&["url:1", "stat", "-c", "%a %Y %n", "/opt/notes.txt", "/opt/renamed"]),
        "600 1700000000 /opt/notes.txt\n600 1700000000 /opt/renamed\n"
    );
    assert_eq!(e.run(&["url:1", "cat", "/opt/notes.txt"]), "version 1\n");
    // Downloaded again each build; the same content is a cache hit, new content is not.
    assert_eq!(steps_cached(&e.build(&[])), 2);
    *served.lock().unwrap() = b"version 2\n".to_vec();
    let out = e.build(&["-t", "url:2"]);
    assert_eq!(steps_cached(&out), 0, "{out}");
    assert_eq!(e.run(&["url:2", "cat", "/opt/renamed"]), "version 2\n");
    e.write("Dockerfile", &format!("FROM busybox\nCOPY http://127.0.0.1:{port}/files/notes.txt /opt/\n"));
    assert!(e.build_fails(&[]).contains("source can't be a URL for COPY"));
    e.assert_clean();
}

/// `system prune` removes, in docker's order and words, what nothing uses: stopped containers,
/// unused networks, with --volumes unused anonymous volumes, dangling images, the build cache;
/// running containers, the networks and images they use, tagged images and named volumes stay.
#[test]
fn system_prune_removes_what_nothing_uses_and_keeps_the_rest() {
    require_root!();
    let e = Env::new();
    let t = &e.e.t;
    // Two steps: the first one's image is an intermediate that only the build cache holds.
    e.write("Dockerfile", "FROM busybox\nRUN echo built > /f\nRUN echo again >> /f\n");
    e.build(&["-t", "built:1"]);
    t.ok(&e.e.args("run", &["--name", "stopped", "--network", "none", "busybox", "true"]));
    let dangling = t.ok(&["commit", "stopped"]).trim().to_string();
    let holder = t.ok(&e.e.args("create", &["--name", "holder", "--network", "none", "-v", "/data", "busybox"])).trim().to_string();
    let anon = t.ok(&["volume", "ls", "-q"]).trim().to_string();
    t.ok(&["volume", "create", "named"]);
    t.ok(&["network", "create", "unused-net"]);
    t.ok(&["network", "create", "used-net"]);
    t.ok(&e.e.args("run", &["-d", "--name", "running", "--network", "used-net", "built:1", "sleep", "1000"]));
    let stopped = t.ok(&["inspect", "--format", "{{.Id}}", "stopped"]).trim().to_string();

    // A filter nothing matches removes nothing.
    assert_eq!(t.ok(&["system", "prune", "-f", "--volumes", "--filter", "label=nobody"]), "Total reclaimed space: 0B\n");
    let out = t.ok(&["system", "prune", "-f", "--volumes"]);
    let blocks: Vec<&str> = out.split("\n\n").collect();
    assert_eq!(blocks.len(), 6, "{out}");
    let mut containers: Vec<&str> = blocks[0].lines().collect();
    containers[1..].sort_unstable();
    let mut want = vec!["Deleted Containers:", stopped.as_str(), holder.as_str()];
    want[1..].sort_unstable();
    assert_eq!(containers, want, "{out}");
    assert_eq!(blocks[1], "Deleted Networks:\nunused-net", "{out}");
    assert_eq!(blocks[2], format!("Deleted Volumes:\n{anon}"), "{out}");
    // (docker lists the layers an image takes with it too)
    assert!(blocks[3].starts_with(&format!("Deleted Images:\ndeleted: {dangling}\n")), "{out}");
    assert!(blocks[4].starts_with("Deleted build cache objects:\n") && blocks[4].lines().count() >= 2, "{out}");
    assert!(blocks[5].starts_with("Total reclaimed space: "), "{out}");

    assert_eq!(t.ok(&["ps", "-a", "--format", "{{.Names}}"]), "running\n");
    let nets = t.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(nets.contains("used-net") && !nets.contains("unused-net"), "{nets}");
    assert_eq!(t.ok(&["volume", "ls", "-q"]), "named\n");
    let images = t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(images.lines().collect::<std::collections::BTreeSet<_>>(), ["built:1", "busybox:latest"].into_iter().collect(), "{images}");
    // The cache went: the same build runs its step again.
    assert_eq!(t.ok(&["system", "prune", "-f", "--volumes"]), "Total reclaimed space: 0B\n", "nothing is left to remove");
    assert_eq!(steps_cached(&e.build(&["-t", "built:1"])), 0);
    t.ok(&["rm", "-f", "running"]);
    t.ok(&["network", "rm", "used-net"]);
}

/// A hostile image's /etc/passwd that is a FIFO (an open that never returns; a device node
/// would be opened on the host, outside any device cgroup): `COPY --chown=NAME` resolves the
/// name through doca-fs, which refuses it by type, and the build ends with docker's message.
#[test]
fn chown_lookup_never_opens_a_fifo_in_the_image() {
    require_root!();
    let b = Env::new();
    b.write("f", "x");
    b.write("Dockerfile", "FROM busybox\nRUN rm /etc/passwd && mkfifo /etc/passwd\nCOPY --chown=nobody f /f\n");
    let ctx = b.ctx.to_str().unwrap().to_string();
    let mut child =
        b.e.t
            .cmd()
            .args(["build", "--cgroup-parent", b.e.cgroup.as_str(), "--network", "none", &ctx])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
    let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > end {
            let _ = child.kill();
            panic!("the build hung on the image's FIFO");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("unable to find user nobody"), "{err}");
}
