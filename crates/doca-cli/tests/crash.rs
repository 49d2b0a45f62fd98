//! Kill -9 at random moments of load, rmi and prune: the store stays consistent (nothing an
//! image references is missing or corrupt), `system check --repair` reclaims what the dead
//! process left, and the next load works.

use doca_testkit::{docker_archive, require_root, ArchiveImage, Layer, TempRoot};
use std::process::Stdio;
use std::time::{Duration, Instant};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
}

fn consistent(t: &TempRoot, what: &str) {
    let o = t.run(&["system", "check"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && out.contains("store is consistent"), "after {what}:\n{out}\n{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn killed_load_rmi_prune_leave_a_consistent_store() {
    require_root!();
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    let seed = std::env::var("DOCA_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1);
    eprintln!("crash test seed: {seed} (DOCA_CRASH_SEED={seed} reproduces the kill times)");
    let mut rng = Rng(seed);
    // Several layers of many files, so that a kill lands inside ingest, unpack, commit or release.
    let layers: Vec<Vec<u8>> = (0..4)
        .map(|l| {
            let mut b = Layer::new();
            for f in 0..400 {
                b.file(&format!("l{l}/d{}/f{f}", f % 20), &vec![(l * 7 + f) as u8; 2048 + f * 13]);
            }
            b.file(&format!("l{l}/big"), &vec![l as u8 + 1; 3 << 20]);
            b.finish()
        })
        .collect();
    let (bytes, _) = docker_archive(&[
        ArchiveImage { layers: layers[..2].to_vec(), tags: vec!["c:a".into()], created: "2024-01-01T00:00:00Z".into() },
        ArchiveImage { layers: layers.clone(), tags: vec!["c:b".into()], created: "2024-01-02T00:00:00Z".into() },
    ]);
    let arch = t.path("crash.tar");
    std::fs::write(&arch, bytes).unwrap();
    let arch = arch.to_str().unwrap().to_string();

    let load: Vec<String> = vec!["load".into(), "-q".into(), "-i".into(), arch.clone()];
    let rmi: Vec<String> = vec!["rmi".into(), "c:a".into(), "c:b".into()];
    let prune: Vec<String> = vec!["image".into(), "prune".into(), "-a".into(), "-f".into()];
    // How long each operation takes here bounds its kill times (the shortest of three runs).
    let timed = |op: &[String]| {
        let start = Instant::now();
        let st = t.cmd().args(op).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap();
        assert!(st.success(), "{op:?}");
        start.elapsed().as_micros() as u64
    };
    let mut took = [u64::MAX; 3];
    for _ in 0..3 {
        took[0] = took[0].min(timed(&load));
        took[1] = took[1].min(timed(&rmi));
        timed(&load);
        took[2] = took[2].min(timed(&prune));
    }

    let mut killed = 0;
    for i in 0..36 {
        let k = i % 3;
        if k > 0 {
            // rmi and prune need something to remove.
            t.run(&["load", "-q", "-i", &arch]);
        }
        let op = [&load, &rmi, &prune][k];
        let delay = Duration::from_micros(rng.next() % took[k].max(500));
        let mut child = t.cmd().args(op).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        consistent(&t, &format!("kill of {op:?} after {delay:?}"));
        if i % 4 == 3 {
            let r = t.ok(&["system", "check", "--repair"]);
            assert!(r.contains("store is consistent"), "{r}");
            let again = t.ok(&["system", "check"]);
            assert!(!again.contains("dangling"), "repair left dangling content:\n{again}");
        }
    }
    eprintln!("{killed} of 36 operations were killed mid-way");
    assert!(killed >= 6, "too few operations were killed mid-way ({killed}); the test is not testing anything");
    // After all that, the images load and list as before.
    t.ok(&["system", "check", "--repair"]);
    t.ok(&["load", "-q", "-i", &arch]);
    let listed = t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(listed.contains("c:a") && listed.contains("c:b"), "{listed}");
    consistent(&t, "final load");
    let check = t.ok(&["system", "check"]);
    assert!(!check.contains("problem"), "{check}");
}

/// A store whose doca.db was emptied (or lost) while its content is still there is refused by
/// every command, `system check --repair` included, and its content stays (before, an empty
/// database was made, `check` called every blob dangling, and `--repair` would delete them).
#[test]
fn an_emptied_database_is_refused_and_no_content_is_deleted() {
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    t.busybox("busybox:latest");
    let blobs = || std::fs::read_dir(t.root().join("blobs/sha256")).unwrap().count();
    let before = blobs();
    assert!(before > 0);
    for f in ["doca.db-wal", "doca.db-shm"] {
        let _ = std::fs::remove_file(t.root().join(f));
    }
    std::fs::write(t.root().join("doca.db"), b"").unwrap();
    for args in [vec!["images"], vec!["system", "check"], vec!["system", "check", "--repair"], vec!["system", "prune", "-a", "-f"]] {
        let o = t.run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains("missing or empty"), "{args:?}: {err}");
    }
    assert_eq!(blobs(), before, "content was deleted");
    std::fs::remove_file(t.root().join("doca.db")).unwrap();
    assert!(String::from_utf8_lossy(&t.run(&["images"]).stderr).contains("missing or empty"));
    assert_eq!(blobs(), before);
}
