//! No daemon: many doca processes on one root at once must lose and corrupt nothing.

use doca_testkit::{docker_archive, require_root, ArchiveImage, Layer, TempRoot};
use std::sync::Arc;

#[test]
fn eight_parallel_loops_of_load_tag_rmi_images() {
    require_root!();
    let t = Arc::new(TempRoot::new(env!("CARGO_BIN_EXE_doca")));
    // All workers share a base layer, so deleting one worker's image races with loading another's.
    let base = Layer::new().file("base", &vec![1u8; 1 << 20]).finish();
    const WORKERS: usize = 8;
    const ROUNDS: usize = 6;
    let mut archives = Vec::new();
    for w in 0..WORKERS {
        let own = Layer::new().file(&format!("w{w}"), format!("{w}").as_bytes()).finish();
        let (bytes, ids) = docker_archive(&[ArchiveImage {
            layers: vec![base.clone(), own],
            tags: vec![format!("w{w}:loaded")],
            created: "2024-01-01T00:00:00Z".into(),
        }]);
        let p = t.path(&format!("w{w}.tar"));
        std::fs::write(&p, bytes).unwrap();
        archives.push((p, ids[0].clone()));
    }
    let handles: Vec<_> = archives
        .into_iter()
        .enumerate()
        .map(|(w, (p, id))| {
            let t = t.clone();
            std::thread::spawn(move || {
                for r in 0..ROUNDS {
                    t.ok(&["load", "-q", "-i", p.to_str().unwrap()]);
                    t.ok(&["tag", &format!("w{w}:loaded"), &format!("w{w}:r{r}")]);
                    let listed = t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
                    assert!(
                        listed.lines().any(|l| l == format!("w{w}:r{r}")),
                        "worker {w} round {r}: own tag missing from images:\n{listed}"
                    );
                    t.ok(&["rmi", &format!("w{w}:r{r}")]);
                    if r + 1 < ROUNDS {
                        let out = t.ok(&["rmi", &format!("w{w}:loaded")]);
                        assert!(out.contains(&format!("Deleted: {id}")), "worker {w}: {out}");
                    }
                }
                t.ok(&["tag", &format!("w{w}:loaded"), &format!("w{w}:final")]);
            })
        })
        .collect();
    for h in handles {
        h.join().expect("worker failed");
    }
    let listed = t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    for w in 0..WORKERS {
        for tag in ["loaded", "final"] {
            assert!(listed.lines().any(|l| l == format!("w{w}:{tag}")), "w{w}:{tag} lost:\n{listed}");
        }
    }
    assert_eq!(listed.lines().count(), WORKERS * 2, "{listed}");
    let check = t.ok(&["system", "check"]);
    assert!(check.contains("store is consistent") && !check.contains("dangling"), "{check}");
    // The shared base is on disk once: 8 own layers + 1 base.
    assert_eq!(std::fs::read_dir(t.root().join("snapshots")).unwrap().count(), WORKERS + 1);
}
