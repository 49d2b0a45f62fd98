//! Untrusted archives: each hostile case is refused with exit 125, a message naming the
//! archive and the entry, and a store left byte-for-byte as it was.

use doca_testkit::{one_layer_archive, require_root, Layer, TempRoot};

fn root() -> TempRoot {
    TempRoot::new(env!("CARGO_BIN_EXE_doca"))
}

/// Loads `bytes` into a store that already holds an image, expects refusal, and checks that
/// the store did not change. Returns stderr.
fn refused(bytes: &[u8], extra_env: &[(&str, &str)]) -> String {
    let t = root();
    t.busybox("busybox");
    let before = t.fingerprint();
    let p = t.path("hostile.tar");
    std::fs::write(&p, bytes).unwrap();
    let out = t
        .cmd()
        .args(["load", "-i", p.to_str().unwrap()])
        .envs(extra_env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(125), "stderr: {err}");
    assert!(err.contains(p.to_str().unwrap()), "error does not name the archive: {err}");
    assert_eq!(before, t.fingerprint(), "the store changed after a refused load: {err}");
    assert!(t.ok(&["system", "check"]).contains("store is consistent"));
    err
}

fn layer_refused(layer: Vec<u8>, entry: &str, why: &str) {
    let err = refused(&one_layer_archive(layer, "evil:1"), &[]);
    assert!(err.contains(&format!("entry {entry:?}")), "error does not name entry {entry}: {err}");
    assert!(err.contains(why), "error does not say {why:?}: {err}");
}

#[test]
fn dotdot_entry() {
    require_root!();
    layer_refused(Layer::new().file("../escape", b"x").finish(), "../escape", "'..'");
}

#[test]
fn absolute_entry() {
    require_root!();
    layer_refused(Layer::new().file("/etc/evil", b"x").finish(), "/etc/evil", "absolute path");
}

/// A symlink's target is data: `etc/localtime -> ../../../usr/share/zoneinfo/UTC` (more `..`
/// than depth, legal and common) loads as docker loads it, and resolves inside the root when a
/// container follows it. Writing through such a link is what is refused (next test), and the
/// host stays untouched.
#[test]
fn symlinks_climbing_above_the_root_load_and_resolve_inside_it() {
    require_root!();
    let env = doca_testkit::ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-hostile");
    let t = &env.t;
    let links = Layer::new()
        .dir("etc", 0o755)
        .symlink("etc/localtime", "../../../usr/share/zoneinfo/UTC")
        .symlink("a-link", "../../../../etc")
        .finish();
    let base = std::fs::read(doca_testkit::busybox_tar()).unwrap();
    let img =
        doca_testkit::ArchiveImage { layers: vec![base, links], tags: vec!["links:1".into()], created: "2024-01-01T00:00:00Z".into() };
    let p = t.path("links.tar");
    std::fs::write(&p, doca_testkit::docker_archive(&[img]).0).unwrap();
    t.ok(&["load", "-i", p.to_str().unwrap()]);
    let ok =
        t.ok(&env.args("run", &["--rm", "--network", "none", "links:1", "sh", "-c", "readlink /etc/localtime; ls /a-link/ | head -3"]));
    assert!(ok.starts_with("../../../usr/share/zoneinfo/UTC\n"), "{ok}");
    // /a-link resolves to the container's own /etc (busybox's has passwd and group).
    assert!(ok.contains("passwd") || ok.contains("group"), "{ok}");
    // A container's own such link does not block its commit.
    let c =
        t.ok(&env.args("create", &["--network", "none", "busybox", "ln", "-s", "../../../../usr/share/zoneinfo/UTC", "/etc/localtime"]));
    t.ok(&["start", "-a", c.trim()]);
    t.ok(&["commit", c.trim(), "committed:1"]);
    let marker = format!("doca-hostile-{}", std::process::id());
    let through = Layer::new().symlink("a", "../../../../tmp").file(&format!("a/{marker}"), b"pwned").finish();
    layer_refused(through, &format!("a/{marker}"), "symlink or not a directory");
    assert!(!std::path::Path::new("/tmp").join(&marker).exists(), "the write went through the symlink");
}

#[test]
fn hardlink_pointing_outside() {
    require_root!();
    layer_refused(Layer::new().hardlink("passwd", "../../../etc/passwd").finish(), "passwd", "hardlink target points outside the root");
}

#[test]
fn hardlink_to_absolute_host_path() {
    require_root!();
    layer_refused(Layer::new().hardlink("shadow", "/etc/shadow").finish(), "shadow", "hardlink target points outside the root");
}

#[test]
fn file_written_through_a_symlink() {
    require_root!();
    // `dir -> /tmp` (allowed: absolute targets resolve in the container), then `dir/x`: writing
    // it would follow the link on the host. It must be refused, and /tmp must not get x.
    let marker = format!("doca-hostile-{}", std::process::id());
    let layer = Layer::new().symlink("dir", "/tmp").file(&format!("dir/{marker}"), b"pwned").finish();
    layer_refused(layer, &format!("dir/{marker}"), "symlink or not a directory");
    assert!(!std::path::Path::new("/tmp").join(&marker).exists(), "the write went through the symlink");
}

#[test]
fn manifest_names_a_missing_blob() {
    require_root!();
    let mut b = tar::Builder::new(Vec::new());
    let m = br#"[{"Config":"abc.json","RepoTags":["x:1"],"Layers":["l/layer.tar"]}]"#;
    let mut h = tar::Header::new_gnu();
    h.set_size(m.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "manifest.json", &m[..]).unwrap();
    let err = refused(&b.into_inner().unwrap(), &[]);
    assert!(err.contains("\"abc.json\", which is not in the archive"), "{err}");
}

#[test]
fn blob_whose_digest_does_not_match_its_name() {
    require_root!();
    let mut b = tar::Builder::new(Vec::new());
    let name = format!("blobs/sha256/{}", "0".repeat(64));
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, &name, &b"hello"[..]).unwrap();
    let err = refused(&b.into_inner().unwrap(), &[]);
    assert!(err.contains(&format!("entry {name:?}")) && err.contains("digest mismatch"), "{err}");
}

#[test]
fn layer_whose_content_does_not_match_the_config() {
    require_root!();
    let mut arch = one_layer_archive(Layer::new().file("a", b"1").finish(), "x:1");
    // Flip the file's content byte inside the archive: the layer's DiffID no longer matches.
    let pos = arch.windows(3).position(|w| w == b"\x001\x00").map(|p| p + 1).expect("content byte");
    arch[pos] = b'2';
    let err = refused(&arch, &[]);
    assert!(err.contains("content does not match the image config"), "{err}");
}

#[test]
fn truncated_gzip_stream() {
    require_root!();
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&one_layer_archive(Layer::new().file("a", &vec![7u8; 200_000]).finish(), "x:1")).unwrap();
    let full = gz.finish().unwrap();
    let err = refused(&full[..full.len() / 2], &[]);
    let e = err.to_lowercase();
    assert!(e.contains("incomplete") || e.contains("eof") || e.contains("read tar"), "{err}");
}

#[test]
fn tar_bomb_over_the_size_limit() {
    require_root!();
    // A layer of 10 MB of zeros compresses to ~10 KB; the limit is set to 1 MB.
    use std::io::Write;
    let layer = Layer::new().file("zeros", &vec![0u8; 10 << 20]).finish();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&layer).unwrap();
    let err = refused(&one_layer_archive(gz.finish().unwrap(), "bomb:1"), &[("DOCA_MAX_LAYER_SIZE", "1000000")]);
    assert!(err.contains("limit of 1000000 bytes"), "{err}");
}

#[test]
fn not_an_archive_at_all() {
    require_root!();
    let err = refused(b"this is not a tar file, just text that goes on for a while......................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................................", &[]);
    assert!(err.contains("read tar") || err.contains("not an image archive"), "{err}");
}

#[test]
fn import_of_a_hostile_tarball_changes_nothing() {
    require_root!();
    let t = root();
    t.busybox("busybox");
    let before = t.fingerprint();
    let p = t.path("evil.tar");
    std::fs::write(&p, Layer::new().file("ok", b"1").file("../../x", b"2").finish()).unwrap();
    let err = t.fails(&["import", p.to_str().unwrap(), "evil:1"], 125);
    assert!(err.contains(p.to_str().unwrap()) && err.contains("entry \"../../x\""), "{err}");
    assert_eq!(before, t.fingerprint());
}

/// Layers over 64 KiB are unpacked while the archive streams in, before doca knows which layer
/// they are: hostile entries found there must fail the load just the same, and leave nothing.
#[test]
fn hostile_layer_unpacked_while_streaming() {
    require_root!();
    let filler = vec![3u8; 256 << 10];
    layer_refused(Layer::new().file("big", &filler).file("../escape", b"x").finish(), "../escape", "'..'");
    let marker = format!("doca-hostile-big-{}", std::process::id());
    let layer = Layer::new().file("big", &filler).symlink("dir", "/tmp").file(&format!("dir/{marker}"), b"pwned").finish();
    layer_refused(layer, &format!("dir/{marker}"), "symlink or not a directory");
    assert!(!std::path::Path::new("/tmp").join(&marker).exists(), "the write went through the symlink");
}

/// A large tar bomb (more than the limit, and big enough to be unpacked while streaming).
#[test]
fn large_tar_bomb_unpacked_while_streaming() {
    require_root!();
    let layer = Layer::new().file("zeros", &vec![0u8; 3 << 20]).finish();
    let err = refused(&one_layer_archive(layer, "bomb:1"), &[("DOCA_MAX_LAYER_SIZE", "1000000")]);
    assert!(err.contains("limit of 1000000 bytes"), "{err}");
}
