//! Rootless doca, for real: an ordinary user (`doca-test`, made with subordinate ids by
//! scripts/setup.sh) runs doca on a store of their own, in the user namespace of their pause
//! process. Each test has its own store, run root, pause process and slirp4netns, all gone at
//! the end. The user is root inside and themselves outside; what the container does with files
//! it can reach gets it no more than the user has; layers built rootless are the layers built
//! as root (on the kernel's overlayfs and on fuse-overlayfs); networks resolve names, publish
//! ports on the host, and never reach the host's loopback; `--userns=keep-id` keeps the user's
//! ids; what needs a cgroup is refused by name.

use doca_testkit::{busybox_tar, require_root};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const USER: &str = "doca-test";
/// A user with no subordinate ids (scripts/setup.sh makes it so): one id mapped.
const SINGLE_USER: &str = "doca-test-single";

/// The test user's name, uid, gid and first subordinate uid.
struct User {
    name: &'static str,
    uid: u32,
    gid: u32,
    sub_uid: Option<u32>,
}

fn user(name: &'static str) -> User {
    let id = |flag: &str| -> u32 {
        let o = Command::new("id").args([flag, name]).output().unwrap();
        assert!(o.status.success(), "no user {name}: scripts/setup.sh makes it");
        String::from_utf8_lossy(&o.stdout).trim().parse().unwrap()
    };
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    let sub_uid = subuid.lines().find_map(|l| l.strip_prefix(&format!("{name}:"))).and_then(|r| r.split(':').next()?.parse().ok());
    User { name, uid: id("-u"), gid: id("-g"), sub_uid }
}

/// A rootless doca of the test's own: the binaries and the busybox fixture where the user
/// reaches them, and the user's XDG directories (store, run root) in `home`.
struct Rootless {
    dir: tempfile::TempDir,
    user: User,
}

impl Rootless {
    fn new() -> Rootless {
        let r = Self::for_user(USER);
        assert!(r.user.sub_uid.is_some(), "{USER} has no line in /etc/subuid: scripts/setup.sh adds one");
        r
    }

    fn for_user(name: &'static str) -> Rootless {
        let user = user(name);
        let dir = tempfile::Builder::new().prefix("doca-rootless-").tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        let here = Path::new(env!("CARGO_BIN_EXE_doca")).parent().unwrap();
        for b in ["doca", "doca-shim", "doca-runc"] {
            std::fs::copy(here.join(b), bin.join(b)).unwrap();
        }
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::copy(busybox_tar(), dir.path().join("busybox.tar")).unwrap();
        std::fs::set_permissions(dir.path().join("busybox.tar"), std::fs::Permissions::from_mode(0o644)).unwrap();
        let home = dir.path().join("home");
        for d in [home.clone(), home.join("run")] {
            std::fs::create_dir(&d).unwrap();
            std::os::unix::fs::chown(&d, Some(user.uid), Some(user.gid)).unwrap();
            std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        Rootless { dir, user }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn store(&self) -> PathBuf {
        self.home().join("data/doca")
    }

    fn run_root(&self) -> PathBuf {
        self.home().join("run/doca")
    }

    /// doca as the user, with a login's environment and nothing of root's.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("setpriv");
        let who = self.user.name;
        c.args([&format!("--reuid={who}"), &format!("--regid={who}"), "--init-groups", "--"])
            .arg(self.dir.path().join("bin/doca"))
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", self.home())
            .env("XDG_DATA_HOME", self.home().join("data"))
            .env("XDG_RUNTIME_DIR", self.home().join("run"))
            .env("HTTPS_PROXY", doca_testkit::OFFLINE_PROXY)
            .env("NO_PROXY", "127.0.0.1,localhost")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "rootless doca {args:?} failed ({:?}):\n{}{}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn ok_owned(&self, args: &[String]) -> String {
        self.ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "rootless doca {args:?}:\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stderr).into_owned()
    }

    fn busybox(&self) {
        self.ok(&["import", "-c", "CMD [\"sh\"]", "busybox.tar", "busybox"]);
    }

    /// A directory of the user's, for bind mounts.
    fn user_dir(&self, name: &str) -> PathBuf {
        let d = self.dir.path().join(name);
        std::fs::create_dir(&d).unwrap();
        std::os::unix::fs::chown(&d, Some(self.user.uid), Some(self.user.gid)).unwrap();
        d
    }

    /// The user's doca configuration (`$XDG_CONFIG_HOME/doca/config.json`, here `~/.config`).
    fn configure(&self, json: &str) {
        let dir = self.home().join(".config/doca");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.json"), json).unwrap();
        for p in [self.home().join(".config"), dir.clone(), dir.join("config.json")] {
            std::os::unix::fs::chown(&p, Some(self.user.uid), Some(self.user.gid)).unwrap();
        }
    }

    /// fuse-overlayfs daemons mounted on this test's store.
    fn fuse_daemons(&self) -> usize {
        let o = Command::new("pgrep").args(["-f", &format!("fuse-overlayfs.*{}", self.store().display())]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).lines().count()
    }

    fn pause_pid(&self) -> Option<i32> {
        std::fs::read_to_string(self.run_root().join("pause.pid")).ok()?.split_whitespace().next()?.parse().ok()
    }
}

impl Drop for Rootless {
    /// Containers and networks first (their processes are the user's), then the pause
    /// process, whose namespaces take every mount and interface with them, and slirp4netns,
    /// which ends with it.
    fn drop(&mut self) {
        let ids = self.run(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            let _ = self.run(&["rm", "-f", "-v", id]);
        }
        if let Some(pid) = self.pause_pid() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            for _ in 0..200 {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        let sock = self.run_root().join("slirp4netns.sock").display().to_string();
        for _ in 0..200 {
            let o = Command::new("pgrep").args(["-f", &sock]).output().unwrap();
            if o.stdout.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
}

/// The host's view of `p`: owner and digest of its content.
fn owner(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).uid()
}

#[test]
fn a_user_is_root_inside_themselves_outside_and_keeps_a_store_of_their_own() {
    require_root!();
    let rl = Rootless::new();
    rl.busybox();
    let u = &rl.user;
    let sub = u.sub_uid.expect("subordinate ids");
    let out = rl.ok(&["run", "--rm", "--network", "none", "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["0"], "{out}");
    assert_eq!(lines[1], ["0", &u.uid.to_string(), "1"], "the user is the container's root: {out}");
    assert_eq!(lines[2], ["1", &sub.to_string(), "65536"], "the other ids are the user's subordinate ones: {out}");
    // Files the container makes land as the user, or as the user's subordinate ids.
    let w = rl.user_dir("w");
    rl.ok(&[
        "run",
        "--rm",
        "-v",
        &format!("{}:/w", w.display()),
        "busybox",
        "sh",
        "-c",
        "echo a > /w/mine; echo b > /w/theirs; chown 1234:1234 /w/theirs",
    ]);
    assert_eq!(owner(&w.join("mine")), u.uid);
    assert_eq!(owner(&w.join("theirs")), sub + 1233);
    // The store and the run root are the user's, private, where XDG says.
    for d in [rl.store(), rl.run_root()] {
        let m = std::fs::metadata(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        assert_eq!((m.uid(), m.mode() & 0o077), (u.uid, 0), "{}", d.display());
    }
    assert!(rl.store().join("doca.db").exists());
    let info = rl.ok(&["info", "--format", "{{json .SecurityOptions}} {{.DockerRootDir}}"]);
    assert!(info.contains("name=rootless") && info.contains(&rl.store().display().to_string()), "{info}");
    // The usual lifecycle: a detached container, exec, logs, cp, commit, stop, rm.
    let id = rl.ok(&["run", "-d", "--name", "life", "busybox", "sh", "-c", "echo started; exec sleep 300"]).trim().to_string();
    assert_eq!(rl.ok(&["exec", "life", "sh", "-c", "echo made > /made; id -u"]), "0\n");
    assert!(rl.ok(&["logs", "life"]).contains("started"));
    let out = rl.user_dir("out");
    rl.ok(&["cp", "life:/made", &out.join("made").display().to_string()]);
    assert_eq!(std::fs::read_to_string(out.join("made")).unwrap(), "made\n");
    assert_eq!(owner(&out.join("made")), u.uid);
    rl.ok(&["commit", "life", "snap"]);
    assert_eq!(rl.ok(&["run", "--rm", "--network", "none", "snap", "cat", "/made"]), "made\n");
    assert!(rl.ok(&["top", "life"]).contains("sleep 300"), "top finds the container's processes without a cgroup");
    rl.ok(&["stop", "-t", "1", "life"]);
    rl.ok(&["rm", &id]);
    // A named volume keeps data, with the container's owners shifted as any file.
    rl.ok(&["run", "--rm", "-v", "keep:/data", "busybox", "sh", "-c", "echo kept > /data/f; chown 5:5 /data/f"]);
    assert_eq!(rl.ok(&["run", "--rm", "-v", "keep:/data", "busybox", "cat", "/data/f"]), "kept\n");
    assert_eq!(owner(&rl.store().join("volumes/keep/_data/f")), sub + 4);
}

/// Builds a Dockerfile whose layers hold owners beyond the user's own id, a setuid file, a
/// symlink, a whiteout and an opaque directory (what a rootless store keeps differently on
/// disk: user.overlay.* xattrs or fuse-overlayfs's, ids shifted) rootless and as root, and
/// asserts that the layers are the same, and that the saved archive has the OCI whiteout and
/// opaque marker.
fn assert_layers_built_rootless_are_roots(rl: &Rootless) {
    rl.busybox();
    let ctx = rl.user_dir("ctx");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\n\
         RUN mkdir -p /opq/sub && echo a > /opq/a && chown 1234:5678 /opq/a && chmod 4755 /opq/a && ln -s /opq/a /link\n\
         RUN rm -rf /opq && mkdir /opq && echo b > /opq/b && rm /bin/true\n",
    )
    .unwrap();
    std::fs::set_permissions(ctx.join("Dockerfile"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let build = ["build", "-q", "--network", "none", "--build-arg", "SOURCE_DATE_EPOCH=1700000000", "-t", "same"];
    let mut args = build.to_vec();
    let ctx_s = ctx.display().to_string();
    args.push(&ctx_s);
    rl.ok(&args);
    let root = doca_testkit::TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    root.busybox("busybox");
    root.ok(&args);
    let layers = |out: String| -> Vec<String> { serde_json::from_str(out.trim()).unwrap() };
    let fmt = ["image", "inspect", "--format", "{{json .RootFS.Layers}}", "same"];
    let (rootless, rootful) = (layers(rl.ok(&fmt)), layers(root.ok(&fmt)));
    assert_eq!(rootless.len(), 3, "{rootless:?}");
    assert_eq!(rootless, rootful, "the layers built rootless differ from root's");
    let out = rl.user_dir("saved");
    let tar = out.join("same.tar");
    rl.ok(&["save", "-o", &tar.display().to_string(), "same"]);
    let listing = Command::new("sh")
        .arg("-c")
        .arg(format!("cd {0} && tar -xf same.tar && for l in blobs/sha256/*; do tar -tf $l 2>/dev/null; done", out.display()))
        .output()
        .unwrap();
    let names = String::from_utf8_lossy(&listing.stdout);
    assert!(names.contains("bin/.wh.true") && names.contains("opq/.wh..wh..opq"), "{names}");
}

#[test]
fn a_layer_built_rootless_is_the_layer_built_as_root() {
    require_root!();
    assert_layers_built_rootless_are_roots(&Rootless::new());
}

/// Where the kernel refuses overlayfs in a user namespace, or where the user configures it
/// (`mount-program`), fuse-overlayfs mounts every rootfs: the layers it writes are root's too
/// (its opaque marker is `user.fuseoverlayfs.opaque`, not the kernel's).
#[test]
fn a_layer_built_on_fuse_overlayfs_is_the_layer_built_as_root() {
    require_root!();
    doca_testkit::require_tool!("fuse-overlayfs");
    let rl = Rootless::new();
    rl.configure(r#"{"mount-program": "/usr/bin/fuse-overlayfs"}"#);
    assert!(rl.ok(&["info"]).contains("Mount Program: /usr/bin/fuse-overlayfs"));
    assert_layers_built_rootless_are_roots(&rl);
    // Containers run on it, and it goes with them.
    rl.ok(&["run", "-d", "--name", "on-fuse", "busybox", "sleep", "300"]);
    let mounts = std::fs::read_to_string(format!("/proc/{}/mountinfo", rl.pause_pid().unwrap())).unwrap();
    assert!(mounts.lines().any(|l| l.contains(" fuse.fuse-overlayfs ")), "{mounts}");
    rl.ok(&["rm", "-f", "on-fuse"]);
    assert_eq!(rl.fuse_daemons(), 0, "fuse-overlayfs outlived its container");
}

/// `--userns=keep-id` (Podman's): the user is themselves inside too, named in the container's
/// passwd; their files bound in keep their owner both ways; the image's root-owned files stay
/// root's inside and in what is committed; root is refused it, and rootless `--userns=auto`.
#[test]
fn keep_id_makes_the_user_themselves_inside_and_keeps_owners_both_ways() {
    require_root!();
    doca_testkit::require_tool!("fuse-overlayfs");
    let rl = Rootless::new();
    rl.busybox();
    let u = &rl.user;
    let sub = u.sub_uid.expect("subordinate ids");
    // HOME is the user's home from the host's passwd, as Podman's entry has it.
    let home = String::from_utf8(Command::new("getent").args(["passwd", USER]).output().unwrap().stdout).unwrap();
    let home = home.trim().split(':').nth(5).unwrap().to_string();
    let out =
        rl.ok(&["run", "--rm", "--userns", "keep-id", "busybox", "sh", "-c", "id -u; id -g; id -un; echo $HOME; stat -c %u /bin/busybox"]);
    assert_eq!(out, format!("{0}\n{1}\n{USER}\n{home}\n0\n", u.uid, u.gid), "{out}");
    let w = rl.user_dir("project");
    std::fs::write(w.join("mine"), "m\n").unwrap();
    std::os::unix::fs::chown(w.join("mine"), Some(u.uid), Some(u.gid)).unwrap();
    let bind = format!("{}:/project", w.display());
    let out = rl.ok(&[
        "run",
        "--rm",
        "--userns",
        "keep-id",
        "-v",
        &bind,
        "busybox",
        "sh",
        "-c",
        "stat -c %u /project/mine; echo n > /project/new",
    ]);
    assert_eq!(out, format!("{}\n", u.uid));
    assert_eq!(owner(&w.join("new")), u.uid, "the user's write landed as another id");
    // The container's root is the first subordinate id, not the user.
    rl.ok(&["run", "--rm", "--userns", "keep-id", "--user", "0", "-v", &bind, "busybox", "touch", "/project/by-root"]);
    assert_eq!(owner(&w.join("by-root")), sub);
    // What a keep-id container writes is stored under its own ids: committed, root's file is
    // root's and the user's is the user's, without the keep-id passwd entry.
    rl.ok(&["run", "--name", "kid", "--userns", "keep-id", "busybox", "sh", "-c", "echo u > /tmp/user-file"]);
    rl.ok(&["run", "--name", "rid", "--userns", "keep-id", "--user", "0", "busybox", "sh", "-c", "echo r > /root-file; rm /bin/ls"]);
    let diff = rl.ok(&["diff", "rid"]);
    assert!(diff.contains("D /bin/ls") && !diff.contains("passwd"), "{diff}");
    rl.ok(&["commit", "kid", "k-snap"]);
    rl.ok(&["commit", "rid", "r-snap"]);
    assert_eq!(rl.ok(&["run", "--rm", "k-snap", "stat", "-c", "%u", "/tmp/user-file"]), format!("{}\n", u.uid));
    assert_eq!(rl.ok(&["run", "--rm", "r-snap", "stat", "-c", "%u", "/root-file"]), "0\n");
    assert!(!rl.ok(&["run", "--rm", "r-snap", "cat", "/etc/passwd"]).contains(USER), "the keep-id entry went into the layer");
    rl.ok(&["rm", "kid", "rid"]);
    // cp and export of a running keep-id container give the container's ids, not those its
    // mapped rootfs shows doca.
    rl.ok(&["run", "-d", "--name", "live", "--userns", "keep-id", "busybox", "sleep", "300"]);
    rl.ok(&["exec", "--user", "0", "live", "sh", "-c", "echo r > /root-made"]);
    rl.ok(&["exec", "live", "sh", "-c", "echo u > /tmp/user-made"]);
    let out = rl.user_dir("live-out");
    rl.ok(&["cp", "-a", "live:/root-made", &out.display().to_string()]);
    assert_eq!(owner(&out.join("root-made")), u.uid, "root's file came out as another id");
    let listing = rl
        .cmd(&["export", "live"])
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|c| Command::new("tar").args(["-tvn", "--numeric-owner"]).stdin(c.stdout.unwrap()).output())
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    let line = |name: &str| listing.lines().find(|l| l.ends_with(name)).unwrap_or_else(|| panic!("{name} not in {listing}")).to_string();
    assert!(line("root-made").contains(" 0/0 "), "{}", line("root-made"));
    assert!(line("tmp/user-made").contains(&format!(" {}/{} ", u.uid, u.gid)), "{}", line("tmp/user-made"));
    assert!(line("bin/busybox").contains(" 0/0 "), "{}", line("bin/busybox"));
    rl.ok(&["cp", &out.join("root-made").display().to_string(), "live:/copied-in"]);
    assert_eq!(rl.ok(&["exec", "live", "stat", "-c", "%u", "/copied-in"]), "0\n", "a file copied in is the container's root's");
    rl.ok(&["rm", "-f", "live"]);
    assert_eq!(rl.fuse_daemons(), 0, "fuse-overlayfs outlived its container");
    let err = rl.fails(&["run", "--rm", "--userns", "auto", "busybox", "true"], 125);
    assert!(err.contains("--userns=auto"), "{err}");
    let root = doca_testkit::TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    root.busybox("busybox");
    let o = root.run(&["run", "--rm", "--userns", "keep-id", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("keep-id is only supported in rootless mode"));
}

/// Pulls and pushes run on the host's network, not the user's namespace: a registry on the
/// host's loopback (which containers never reach) is reached, and an image pushed rootless is
/// pulled back, run, and built on. A push from root's store of the same image finds every
/// blob there: the layers are the same.
#[test]
fn a_registry_on_the_hosts_loopback_takes_pushes_and_gives_pulls() {
    require_root!();
    doca_testkit::require_tool!("docker-registry");
    let reg = doca_testkit::DistRegistry::start(None);
    let rl = Rootless::new();
    rl.busybox();
    let name = format!("{}/rl/busybox:1", reg.host());
    rl.ok(&["tag", "busybox", &name]);
    let pushed = rl.ok(&["push", &name]);
    assert!(pushed.contains("digest: sha256:"), "{pushed}");
    rl.ok(&["rmi", &name, "busybox"]);
    let pulled = rl.ok(&["pull", &name]);
    assert!(pulled.contains(&format!("Status: Downloaded newer image for {name}")), "{pulled}");
    assert_eq!(rl.ok(&["run", "--rm", &name, "echo", "pulled"]), "pulled\n");
    let ctx = rl.user_dir("from-reg");
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {name}\nRUN echo built > /b\n")).unwrap();
    std::fs::set_permissions(ctx.join("Dockerfile"), std::fs::Permissions::from_mode(0o644)).unwrap();
    rl.ok(&["build", "-q", "-t", "on-reg", &ctx.display().to_string()]);
    assert_eq!(rl.ok(&["run", "--rm", "on-reg", "cat", "/b"]), "built\n");
    let root = doca_testkit::TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    root.busybox("busybox");
    root.ok(&["tag", "busybox", &name]);
    let again = root.ok(&["push", &name]);
    assert!(again.contains("Layer already exists"), "root's layer differs from the one pushed rootless: {again}");
}

/// A user with no subordinate ids: doca maps the one id (setgroups denied, as the kernel
/// requires), runs containers as that id, says in `doca info` what it cannot do, and refuses
/// an image with files of another owner by name, the store unchanged.
#[test]
fn a_user_without_subordinate_ids_runs_with_their_one_id() {
    require_root!();
    let rl = Rootless::for_user(SINGLE_USER);
    assert!(rl.user.sub_uid.is_none(), "{SINGLE_USER} has subordinate ids: scripts/setup.sh makes it without");
    rl.busybox();
    let out = rl.ok(&["run", "--rm", "--network", "none", "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map"]);
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines, [vec!["0"], vec!["0", &rl.user.uid.to_string(), "1"]], "{out}");
    let w = rl.user_dir("w");
    rl.ok(&["run", "--rm", "--network", "none", "-v", &format!("{}:/w", w.display()), "busybox", "sh", "-c", "echo a > /w/mine"]);
    assert_eq!(owner(&w.join("mine")), rl.user.uid);
    // No supplementary groups where setgroups(2) is denied: asking for one is refused.
    let err = rl.fails(&["run", "--rm", "--network", "none", "--group-add", "5", "busybox", "true"], 125);
    assert!(err.contains("--group-add 5") && err.contains("/etc/subuid"), "{err}");
    // docker's warnings are on stderr.
    let info = String::from_utf8_lossy(&rl.run(&["info"]).stderr).into_owned();
    assert!(info.contains("only the user's own id is mapped") && info.contains("/etc/subuid"), "{info}");
    assert_load_of_owner_refused(&rl, 1000);
}

/// Loading an image with a file owned by `id`, which the user's namespace does not map, is
/// refused naming the id and /etc/subuid, and the store is left as it was.
fn assert_load_of_owner_refused(rl: &Rootless, id: u32) {
    let mut layer = doca_testkit::Layer::new();
    layer.file_with("far", b"x", 0o644, id.into(), id.into());
    let archive = rl.dir.path().join("far.tar");
    std::fs::write(&archive, doca_testkit::one_layer_archive(layer.finish(), "far:latest")).unwrap();
    std::fs::set_permissions(&archive, std::fs::Permissions::from_mode(0o644)).unwrap();
    let before = doca_testkit::fingerprint(&rl.store());
    let err = rl.fails(&["load", "-i", "far.tar"], 125);
    assert!(err.contains(&id.to_string()) && err.contains("/etc/subuid"), "{err}");
    assert_eq!(doca_testkit::fingerprint(&rl.store()), before, "a refused load changed the store");
}

#[test]
fn owners_beyond_the_users_ids_are_refused_by_name_and_the_store_is_unchanged() {
    require_root!();
    let rl = Rootless::new();
    rl.busybox();
    assert_load_of_owner_refused(&rl, 70_000);
}

#[test]
fn what_the_container_does_to_files_of_the_host_gets_it_no_more_than_the_user_has() {
    require_root!();
    let rl = Rootless::new();
    rl.busybox();
    // A directory and a file of root's (the user can read them, not change them), bound
    // read-write: the container's root is the user, not root.
    let d = rl.dir.path().join("roots");
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(d.join("victim"), "root's\n").unwrap();
    std::fs::set_permissions(d.join("victim"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let script = "echo owned >> /r/victim; chmod 666 /r/victim; chown 0:0 /r/victim; rm -f /r/victim; touch /r/planted; \
                  mknod /r/disk b 8 0; ln /r/victim /r/hard; cat /r/victim";
    let out = rl.run(&["run", "--rm", "-v", &format!("{}:/r", d.display()), "busybox", "sh", "-c", script]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "root's\n", "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_to_string(d.join("victim")).unwrap(), "root's\n");
    let m = std::fs::metadata(d.join("victim")).unwrap();
    assert_eq!((m.uid(), m.mode() & 0o7777, m.nlink()), (0, 0o644, 1));
    let names: Vec<String> = std::fs::read_dir(&d).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["victim"], "the container made files in root's directory");
    // The runtime binary the container could reach through /proc/self/exe is the user's
    // copy, sealed: writing it fails and it is unchanged.
    let runc = rl.dir.path().join("bin/doca-runc");
    let before = doca_testkit::sha256_hex(&std::fs::read(&runc).unwrap());
    let _ = rl.run(&["run", "--rm", "busybox", "sh", "-c", "for p in /proc/[0-9]*; do echo x > $p/exe; done 2>/dev/null; true"]);
    assert_eq!(doca_testkit::sha256_hex(&std::fs::read(&runc).unwrap()), before);
}

/// Waits for an HTTP server behind the host's `127.0.0.1:port` to say hello.
fn assert_answers_on_host(port: u16) {
    let mut got = String::new();
    for _ in 0..100 {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
            let _ = s.read_to_string(&mut got);
            if got.contains("hello") {
                return;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the published port {port} did not answer on the host: {got:?}");
}

#[test]
fn networks_resolve_names_publish_ports_and_never_reach_the_hosts_loopback() {
    require_root!();
    let rl = Rootless::new();
    rl.busybox();
    // The first command of a store that makes the default bridge makes it in the user's
    // namespace, whatever the command (`network ls` here, from the host's network).
    let listed = rl.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert_eq!(listed.lines().collect::<Vec<_>>(), ["bridge", "host", "none"], "{listed}");
    rl.ok(&["network", "create", "--subnet", "10.231.7.0/24", "app"]);
    let port = doca_testkit::free_port();
    let serve = "mkdir /www && echo hello > /www/index.html && exec httpd -f -p 80 -h /www";
    rl.ok(&["run", "-d", "--name", "web", "--network", "app", "-p", &format!("{port}:80"), "busybox", "sh", "-c", serve]);
    // By name from another container on the network (the embedded DNS, as root's).
    let fetch = "for i in $(seq 50); do wget -q -O- http://web/ 2>/dev/null && exit 0; sleep 0.1; done; exit 1";
    assert_eq!(rl.ok(&["run", "--rm", "--network", "app", "busybox", "sh", "-c", fetch]), "hello\n");
    // From the host, through the published port.
    assert_answers_on_host(port);
    assert!(rl.ok(&["port", "web"]).contains(&format!("80/tcp -> 0.0.0.0:{port}")));
    // A host port left to doca (`-p 80`) is one free on the host, chosen there.
    rl.ok(&["run", "-d", "--name", "web2", "--network", "app", "-p", "80", "busybox", "sh", "-c", serve]);
    let shown = rl.ok(&["port", "web2", "80/tcp"]);
    let random: u16 = shown.lines().next().and_then(|l| l.rsplit(':').next()).and_then(|p| p.trim().parse().ok()).unwrap();
    assert_answers_on_host(random);
    // The host's loopback is not the containers' (slirp4netns --disable-host-loopback): a
    // listener there is never reached, by the gateway's address or any other way out.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let lport = listener.local_addr().unwrap().port();
    let probe = format!("for a in 10.0.2.2 10.0.2.100 10.0.2.3 127.0.0.1; do nc -w 1 $a {lport} </dev/null; done; true");
    rl.ok(&["run", "--rm", "--network", "app", "busybox", "sh", "-c", &probe]);
    rl.ok(&["run", "--rm", "--network", "host", "busybox", "sh", "-c", &probe]);
    assert!(listener.accept().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock), "a container reached the host's loopback");
    // Ports below the unprivileged start are refused, naming the sysctl.
    let err = rl.fails(&["run", "-d", "--name", "low", "-p", "80:80", "busybox", "sleep", "30"], 125);
    assert!(err.contains("net.ipv4.ip_unprivileged_port_start"), "{err}");
    // A port a host program holds is refused with docker's words (the namespace's own check
    // cannot see the host's sockets: the helper's bind does).
    let taken = std::net::TcpListener::bind(("0.0.0.0", 0)).unwrap();
    let taken_port = taken.local_addr().unwrap().port().to_string();
    let err = rl.fails(&["run", "-d", "--name", "clash", "-p", &format!("{taken_port}:80"), "busybox", "sleep", "30"], 125);
    assert!(err.contains("address already in use") && err.contains(&taken_port), "{err}");
    // Gone with the container.
    rl.ok(&["rm", "-f", "web"]);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "the port outlived its container");
    // compose, on the same user's engine.
    let proj = rl.user_dir("proj");
    std::fs::write(
        proj.join("compose.yaml"),
        format!("services:\n  web:\n    image: busybox\n    command: [\"sh\", \"-c\", \"{serve}\"]\n  client:\n    image: busybox\n    depends_on: [web]\n    command: [\"sh\", \"-c\", \"{fetch}\"]\n"),
    )
    .unwrap();
    std::fs::set_permissions(proj.join("compose.yaml"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let file = format!("{}/compose.yaml", proj.display());
    let compose =
        |args: &[&'static str]| -> Vec<String> { ["compose", "-f", &file, "-p", "rl"].iter().chain(args).map(|s| s.to_string()).collect() };
    rl.ok_owned(&(compose(&["up", "-d"])));
    // The client fetches the web service by name and exits 0 with what it got.
    assert_eq!(rl.ok_owned(&(compose(&["wait", "client"]))).trim(), "0");
    assert!(rl.ok_owned(&(compose(&["logs", "--no-log-prefix", "client"]))).contains("hello"));
    rl.ok_owned(&(compose(&["down", "-t", "0"])));
}

#[test]
fn limits_and_pause_without_a_delegated_cgroup_are_refused_by_name() {
    require_root!();
    let rl = Rootless::new();
    rl.busybox();
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        eprintln!("skipped: this host has cgroup v2, where a user may have a delegated cgroup");
        return;
    }
    for flag in [["--memory", "64m"], ["--cpus", "1"], ["--pids-limit", "10"]] {
        let err = rl.fails(&["run", "--rm", flag[0], flag[1], "busybox", "true"], 125);
        assert!(err.contains(flag[0]) && err.contains("cgroup v1"), "{err}");
    }
    assert_eq!(rl.ok(&["ps", "-aq"]), "", "a refused run left a container");
    rl.ok(&["run", "-d", "--name", "busy", "busybox", "sleep", "300"]);
    let err = rl.fails(&["pause", "busy"], 1);
    assert!(err.contains("cannot pause container busy: rootless"), "{err}");
    let info = rl.run(&["info"]);
    assert!(String::from_utf8_lossy(&info.stderr).contains("WARNING: rootless"), "{}", String::from_utf8_lossy(&info.stderr));
}
