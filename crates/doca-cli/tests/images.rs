//! Image commands against a real store, as root: output and semantics as docker's.

use doca_testkit::{docker_archive, require_root, ArchiveImage, Layer, TempRoot};

fn root() -> TempRoot {
    TempRoot::new(env!("CARGO_BIN_EXE_doca"))
}

#[test]
fn import_then_list_inspect_history() {
    require_root!();
    let t = root();
    let id = t.busybox("busybox:latest");
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    let out = t.ok(&["images"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]);
    assert!(lines[1].starts_with("busybox      latest    ") && lines[1].contains(&id[7..19]), "{out}");
    assert_eq!(t.ok(&["images", "-q"]).trim(), &id[7..19]);
    assert_eq!(t.ok(&["images", "-q", "--no-trunc"]).trim(), id);
    assert_eq!(t.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]), "busybox:latest\n");
    assert_eq!(t.ok(&["image", "ls", "--format", "table {{.Repository}}\\t{{.Tag}}"]), "REPOSITORY   TAG\nbusybox      latest\n");
    let j: serde_json::Value = serde_json::from_str(t.ok(&["images", "--format", "{{json .}}"]).trim()).unwrap();
    assert_eq!(j["Repository"], "busybox");
    assert_eq!(j["Digest"], "<none>");

    let ins: serde_json::Value = serde_json::from_str(&t.ok(&["image", "inspect", "busybox"])).unwrap();
    let i = &ins[0];
    assert_eq!(i["Id"], id.as_str());
    assert_eq!(i["RepoTags"], serde_json::json!(["busybox:latest"]));
    assert_eq!(i["Config"]["Cmd"], serde_json::json!(["sh"]));
    assert_eq!(i["Os"], "linux");
    assert_eq!(i["RootFS"]["Type"], "layers");
    assert_eq!(i["RootFS"]["Layers"].as_array().unwrap().len(), 1);
    assert!(i["Size"].as_i64().unwrap() > 500_000);
    assert_eq!(i["Comment"], "Imported from -");
    assert_eq!(t.ok(&["inspect", "--format", "{{.Os}}/{{.Architecture}} {{index .Config.Cmd 0}}", "busybox"]), "linux/amd64 sh\n");

    let h = t.ok(&["history", "busybox"]);
    assert!(h.starts_with("IMAGE          CREATED"), "{h}");
    assert!(h.contains("Imported from -"), "{h}");
    assert_eq!(t.ok(&["history", "-q", "busybox"]).trim(), &id[7..19]);
}

#[test]
fn import_applies_changes_and_rejects_bad_ones() {
    require_root!();
    let t = root();
    let bb = doca_testkit::busybox_tar().to_str().unwrap();
    t.ok(&[
        "import",
        "-c",
        "ENV A=1 B=\"two words\"",
        "-c",
        "WORKDIR /srv",
        "-c",
        "EXPOSE 80",
        "-c",
        "VOLUME /data",
        "-c",
        "USER nobody",
        "-c",
        "LABEL k=v",
        "-c",
        "ENTRYPOINT [\"/bin/sh\"]",
        "-m",
        "hello",
        bb,
        "chg:1",
    ]);
    let c: serde_json::Value = serde_json::from_str(&t.ok(&["inspect", "--format", "{{json .Config}}", "chg:1"])).unwrap();
    assert_eq!(c["Env"], serde_json::json!(["A=1", "B=two words"]));
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(c["ExposedPorts"], serde_json::json!({"80/tcp": {}}));
    assert_eq!(c["Volumes"], serde_json::json!({"/data": {}}));
    assert_eq!(c["User"], "nobody");
    assert_eq!(c["Labels"], serde_json::json!({"k": "v"}));
    assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/sh"]));
    assert_eq!(t.ok(&["inspect", "--format", "{{.Comment}}", "chg:1"]), "hello\n");
    t.busybox("nolabel:1");
    let with = |f: &str| t.ok(&["images", "--filter", f, "--format", "{{.Repository}}"]);
    assert_eq!(with("label=k"), "chg\n");
    assert_eq!(with("label=k=v"), "chg\n");
    assert_eq!(with("label=k=other"), "");
    assert_eq!(with("label=nope"), "");

    let before = t.fingerprint();
    let err = t.fails(&["import", "-c", "RUN true", bb, "bad:1"], 125);
    assert!(err.contains("run is not a valid change command"), "{err}");
    assert_eq!(before, t.fingerprint(), "a refused import changed the store");
    // stdin
    let out = t.cmd().args(["import", "-", "fromstdin:1"]).stdin(std::fs::File::open(bb).unwrap()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    t.ok(&["inspect", "fromstdin:1"]);
}

#[test]
fn import_reads_compressed_tarballs() {
    require_root!();
    let t = root();
    let bb = doca_testkit::busybox_tar();
    let plain = t.busybox("plain:1");
    for (tool, ext) in [("gzip", "gz"), ("zstd", "zst"), ("xz", "xz")] {
        doca_testkit::require_tool!(tool);
        let out = t.path(&format!("bb.tar.{ext}"));
        let st = std::process::Command::new(tool).arg("-c").arg(bb).stdout(std::fs::File::create(&out).unwrap()).status().unwrap();
        assert!(st.success());
        t.ok(&["import", "-c", "CMD [\"sh\"]", out.to_str().unwrap(), &format!("{ext}:1")]);
        // Same content, so the same layer (DiffID) as the plain import.
        let layers = |r: &str| t.ok(&["inspect", "--format", "{{json .RootFS.Layers}}", r]);
        assert_eq!(layers(&format!("{ext}:1")), layers("plain:1"), "{tool}");
    }
    let _ = plain;
}

#[test]
fn tag_and_rmi_follow_docker() {
    require_root!();
    let t = root();
    let id = t.busybox("busybox");
    let short = &id[7..19];
    t.ok(&["tag", "busybox", "busybox:two"]);
    t.ok(&["tag", short, "other/repo:x"]);
    // A tag of several: untag only.
    assert_eq!(t.ok(&["rmi", "busybox:two"]), "Untagged: busybox:two\n");
    // By id with tags in several repositories: refused without -f, with docker's message.
    let err = t.fails(&["rmi", short], 1);
    assert!(
        err.contains(&format!("conflict: unable to delete {short} (must be forced) - image is referenced in multiple repositories")),
        "{err}"
    );
    assert_eq!(t.ok(&["rmi", "other/repo:x"]), "Untagged: other/repo:x\n");
    // Last tag: untag and delete, with the layer.
    let out = t.ok(&["rmi", "busybox"]);
    assert!(out.starts_with(&format!("Untagged: busybox:latest\nDeleted: {id}\nDeleted: sha256:")), "{out}");
    assert_eq!(t.ok(&["images", "-q"]), "");
    let blobs = std::fs::read_dir(t.root().join("blobs/sha256")).unwrap().count();
    let snaps = std::fs::read_dir(t.root().join("snapshots")).unwrap().count();
    assert_eq!((blobs, snaps), (0, 0), "rmi left content behind");

    let id = t.busybox("a:1");
    t.ok(&["tag", "a:1", "b:1"]);
    let out = t.ok(&["rmi", "-f", &id[7..19]]);
    assert!(out.contains("Untagged: a:1") && out.contains("Untagged: b:1") && out.contains(&format!("Deleted: {id}")), "{out}");
}

#[test]
fn bad_names_get_dockers_messages() {
    require_root!();
    let t = root();
    t.busybox("busybox");
    let err = t.fails(&["tag", "busybox", "UPPER:bad"], 1);
    assert!(err.contains(r#"Error parsing reference: "UPPER:bad" is not a valid repository/tag: invalid reference format: repository name (library/UPPER) must be lowercase"#), "{err}");
    let err = t.fails(&["tag", "nosuch", "x:1"], 1);
    assert!(err.contains("No such image: nosuch"), "{err}");
    let err = t.fails(&["rmi", "nosuch"], 1);
    assert!(err.contains("No such image: nosuch"), "{err}");
    let err = t.fails(&["image", "inspect", "nosuch"], 1);
    assert!(err.contains("Error: No such image: nosuch"), "{err}");
    let err = t.fails(&["images", "--filter", "bogus=1"], 1);
    assert!(err.contains("invalid filter 'bogus'"), "{err}");
    let err = t.fails(&["images", "--bogus"], 125);
    assert!(err.contains("--bogus"), "{err}");
    // Ambiguous short ids: import two different images until their ids share a first digit.
    let mut ids = vec![t.ok(&["images", "-q", "--no-trunc"]).trim().to_string()];
    for i in 0..40 {
        let layer = Layer::new().file("f", format!("{i}").as_bytes()).finish();
        let p = t.path("l.tar");
        std::fs::write(&p, layer).unwrap();
        ids.push(t.ok(&["import", p.to_str().unwrap()]).trim().to_string());
        let firsts: Vec<char> = ids.iter().map(|i| i.chars().nth(7).unwrap()).collect();
        if let Some(c) = firsts.iter().find(|c| firsts.iter().filter(|d| d == c).count() > 1) {
            let err = t.fails(&["image", "inspect", &c.to_string()], 1);
            assert!(err.contains(&format!("multiple IDs found with provided prefix: {c}")), "{err}");
            return;
        }
    }
    panic!("no two of 41 image ids shared a first hex digit");
}

#[test]
fn filters_digests_and_dangling() {
    require_root!();
    let t = root();
    let l1 = Layer::new().file("a", b"1").finish();
    let l2 = Layer::new().file("b", b"2").finish();
    let (arch, _) = docker_archive(&[
        ArchiveImage { layers: vec![l1.clone()], tags: vec!["old:1".into()], created: "2020-01-01T00:00:00Z".into() },
        ArchiveImage { layers: vec![l1, l2], tags: vec!["new:1".into(), "new:2".into()], created: "2024-01-01T00:00:00Z".into() },
    ]);
    let p = t.path("a.tar");
    std::fs::write(&p, arch).unwrap();
    let out = t.ok(&["load", "-i", p.to_str().unwrap()]);
    assert_eq!(out, "Loaded image: old:1\nLoaded image: new:1\nLoaded image: new:2\n");
    let names = |args: &[&str]| {
        let mut a = vec!["images", "--format", "{{.Repository}}:{{.Tag}}"];
        a.extend_from_slice(args);
        t.ok(&a).lines().map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(names(&[]), ["new:1", "new:2", "old:1"]);
    assert_eq!(names(&["--filter", "reference=new:2"]), ["new:2"]);
    assert_eq!(names(&["--filter", "reference=n*"]), ["new:1", "new:2"]);
    assert_eq!(names(&["new"]), ["new:1", "new:2"]);
    assert_eq!(names(&["--filter", "before=new:1"]), ["old:1"]);
    assert_eq!(names(&["--filter", "since=old:1"]), ["new:1", "new:2"]);
    assert_eq!(names(&["--filter", "dangling=true"]), Vec::<String>::new());
    // Moving old:1's only tag makes it dangling: <none>:<none>, and prune removes it.
    let out = t.ok(&["tag", "new:1", "old:1"]);
    assert_eq!(out, "");
    assert_eq!(names(&["--filter", "dangling=true"]), ["<none>:<none>"]);
    let out = t.ok(&["image", "prune", "-f"]);
    assert!(out.starts_with("Deleted Images:\ndeleted: sha256:"), "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(names(&["--filter", "dangling=true"]), Vec::<String>::new());
    let out = t.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: new:1") && out.contains("deleted: sha256:"), "{out}");
    assert_eq!(t.ok(&["images", "-q"]), "");
    assert!(t.ok(&["image", "prune", "-f"]).ends_with("Total reclaimed space: 0B\n"));
}

#[test]
fn system_df_counts_what_is_on_disk() {
    require_root!();
    let t = root();
    let empty = t.ok(&["system", "df"]);
    assert!(
        empty.starts_with("TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\nImages          0         0         0B        0B\n"),
        "{empty}"
    );
    t.busybox("busybox");
    let out = t.ok(&["system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Size}}"]);
    let first = out.lines().next().unwrap();
    assert!(first.starts_with("Images 1 ") && first.ends_with("MB"), "{out}");
}

#[test]
fn load_reads_stdin_and_compressed_archives() {
    require_root!();
    doca_testkit::require_tool!("zstd");
    let t = root();
    let id = t.busybox("busybox:latest");
    let arch = t.path("s.tar");
    t.ok(&["save", "-o", arch.to_str().unwrap(), "busybox"]);
    // save to a redirected stdout gives the same bytes as -o
    let out = t.cmd().args(["save", "busybox"]).stdout(std::fs::File::create(t.path("stdout.tar")).unwrap()).status().unwrap();
    assert!(out.success());
    assert_eq!(std::fs::read(&arch).unwrap(), std::fs::read(t.path("stdout.tar")).unwrap(), "save is not deterministic");
    for (tool, ext) in [("gzip", "gz"), ("zstd", "zst")] {
        let c = t.path(&format!("s.tar.{ext}"));
        let st = std::process::Command::new(tool).arg("-c").arg(&arch).stdout(std::fs::File::create(&c).unwrap()).status().unwrap();
        assert!(st.success());
        let fresh = root();
        let o = fresh.cmd().arg("load").stdin(std::fs::File::open(&c).unwrap()).output().unwrap();
        assert!(o.status.success(), "{tool}: {}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(String::from_utf8_lossy(&o.stdout), "Loaded image: busybox:latest\n");
        assert_eq!(fresh.ok(&["images", "-q", "--no-trunc"]).trim(), id, "{tool}");
    }
}

#[test]
fn system_check_finds_corrupt_and_missing_content() {
    require_root!();
    let t = root();
    let id = t.busybox("busybox");
    assert!(t.ok(&["system", "check"]).contains("store is consistent"));
    // A flipped byte in the referenced config blob is a problem (exit 1), not garbage.
    let cfg = t.root().join("blobs/sha256").join(&id[7..]);
    let mut bytes = std::fs::read(&cfg).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&cfg, &bytes).unwrap();
    let o = t.run(&["system", "check"]);
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("problem: blob {id}: content hashes to")), "{out}");
    // --repair does not delete what an image references: it is reported, not papered over.
    assert_eq!(t.run(&["system", "check", "--repair"]).status.code(), Some(1));
    assert!(cfg.exists());
    bytes[0] ^= 1;
    std::fs::write(&cfg, &bytes).unwrap();
    // A missing snapshot is a problem too.
    let snap = t.ok(&["inspect", "--format", "{{.GraphDriver.Data.LowerDir}}", "busybox"]);
    std::fs::rename(snap.trim(), t.path("moved-away")).unwrap();
    let o = t.run(&["system", "check"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("snapshot sha256:"), "{}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn image_prune_asks_first() {
    require_root!();
    use std::io::Write;
    let t = root();
    t.busybox("a:1");
    t.ok(&["tag", "a:1", "b:1"]);
    let prune = |answer: &str| {
        let mut c = t
            .cmd()
            .args(["image", "prune", "-a"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(answer.as_bytes()).unwrap();
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success());
        String::from_utf8(o.stdout).unwrap()
    };
    let out = prune("n\n");
    assert!(out.starts_with("WARNING! This will remove all images without at least one container associated to them.\nAre you sure you want to continue? [y/N] "), "{out}");
    assert_eq!(t.ok(&["images", "-q"]).lines().count(), 2, "answering no removed images");
    let out = prune("y\n");
    assert!(out.contains("untagged: a:1") && out.contains("untagged: b:1") && out.contains("deleted: sha256:"), "{out}");
    assert_eq!(t.ok(&["images", "-q"]), "");
}

#[test]
fn store_fingerprints_see_metadata_still_in_the_wal() {
    require_root!();
    let t = root();
    t.busybox("busybox");
    let before = t.fingerprint();
    // A tag changes only the database, whose last writes may sit in its WAL.
    t.ok(&["tag", "busybox", "other:1"]);
    assert_ne!(before, t.fingerprint(), "a metadata-only change must show in the fingerprint");
    t.ok(&["rmi", "other:1"]);
    assert_eq!(before, t.fingerprint(), "and its undoing must give the same fingerprint");
}

/// Every sparse format GNU tar writes (its own 'S' entries, and PAX 0.0, 0.1 and 1.0 with
/// `--format=posix`) imports as the file it was: same bytes, holes kept. Before, the PAX
/// formats became a file named `GNUSparseFile.N/...` with the map as content.
#[test]
fn sparse_files_in_every_gnu_tar_format_import_as_they_were() {
    require_root!();
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    let src = t.path("tree");
    std::fs::create_dir_all(src.join("dir")).unwrap();
    let sparse = src.join("dir/sparse");
    {
        use std::os::unix::fs::FileExt;
        let f = std::fs::File::create(&sparse).unwrap();
        f.set_len(9 << 20).unwrap();
        f.write_all_at(b"in the middle", 3 << 20).unwrap();
        f.write_all_at(&[7u8; 10000], 6 << 20).unwrap();
        f.write_all_at(b"the end", (9 << 20) - 7).unwrap();
    }
    let want = std::fs::read(&sparse).unwrap();
    for (n, flags) in [
        ("gnu", vec!["--format=gnu"]),
        ("pax00", vec!["--format=posix", "--sparse-version=0.0"]),
        ("pax01", vec!["--format=posix", "--sparse-version=0.1"]),
        ("pax10", vec!["--format=posix", "--sparse-version=1.0"]),
    ] {
        let tar = t.path(&format!("{n}.tar"));
        let st = std::process::Command::new("tar")
            .arg("--sparse")
            .args(&flags)
            .arg("-C")
            .arg(&src)
            .arg("-cf")
            .arg(&tar)
            .arg("dir")
            .status()
            .unwrap();
        assert!(st.success());
        t.ok(&["import", tar.to_str().unwrap(), &format!("sparse:{n}")]);
        let c = t.ok(&["create", &format!("sparse:{n}"), "x"]).trim().to_string();
        let out = t.path(&format!("out-{n}"));
        t.ok(&["cp", &format!("{c}:/dir/sparse"), out.to_str().unwrap()]);
        let got = std::fs::read(&out).unwrap();
        assert!(got == want, "{n}: {} bytes, want {}", got.len(), want.len());
        t.ok(&["rm", &c]);
    }
}

/// A full disk is the host's failure, not the archive's: `load` and `import` say which write
/// failed ("write ...: no space left on device", docker's words), exit 1, and leave a
/// consistent store (before: "read: No space left on device", exit 125, blaming the archive).
#[test]
fn a_full_disk_is_reported_as_a_failed_write() {
    require_root!();
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    let small = t.path("small");
    std::fs::create_dir_all(&small).unwrap();
    let st = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=1500k", "tmpfs"]).arg(&small).status().unwrap();
    assert!(st.success());
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _guard = Unmount(small.clone());
    let saved = t.path("busybox-save.tar");
    t.busybox("bb:1");
    t.ok(&["save", "-o", saved.to_str().unwrap(), "bb:1"]);
    // The same doca, on a store in the small filesystem (the later env wins).
    let run =
        |args: &[&str]| t.cmd().env("DOCA_ROOT", small.join("root")).env("DOCA_RUN_ROOT", small.join("run")).args(args).output().unwrap();
    for args in [vec!["load", "-i", saved.to_str().unwrap()], vec!["import", doca_testkit::busybox_tar().to_str().unwrap(), "x:1"]] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr).to_lowercase();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("write ") && err.contains("no space left on device") && !err.contains("read:"), "{args:?}: {err}");
        let check = run(&["system", "check"]);
        assert!(String::from_utf8_lossy(&check.stdout).contains("store is consistent"), "{args:?}");
    }
}

/// A refused command line reads as docker's CLI writes it, with its exit codes (issue 17,
/// item 15): a missing argument and an unknown command exit 1, a bad flag or value 125.
#[test]
fn command_line_errors_read_as_dockers() {
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    let err = t.fails(&["run"], 1);
    assert!(
        err.starts_with(
            "\"doca run\" requires at least 1 argument.\nSee 'doca run --help'.\n\nUsage:  doca run [OPTIONS] IMAGE [COMMAND] [ARG...]\n"
        ),
        "{err}"
    );
    assert_eq!(t.fails(&["nosuchcmd"], 1).trim(), "doca: 'nosuchcmd' is not a doca command.\nSee 'doca --help'");
    assert_eq!(t.fails(&["ps", "--x"], 125).trim(), "unknown flag: --x\nSee 'doca ps --help'.");
    assert_eq!(t.fails(&["network", "create"], 1).lines().next(), Some("\"doca network create\" requires at least 1 argument."));
    assert_eq!(t.fails(&["logs", "--tail"], 125).trim(), "flag needs an argument: --tail\nSee 'doca logs --help'.");
    assert!(t.fails(&["ps", "-n", "abc"], 125).starts_with("invalid argument \"abc\" for \"--last\" flag: "));
}

/// `image inspect` has the fields docker 20.10's CLI (API 1.41) reads: Container,
/// ContainerConfig and VirtualSize (issue 17, item 21).
#[test]
fn image_inspect_has_the_api_1_41_fields() {
    require_root!();
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    t.busybox("busybox:latest");
    let v: serde_json::Value = serde_json::from_str(&t.ok(&["image", "inspect", "busybox"])).unwrap();
    let i = &v[0];
    assert_eq!(i["VirtualSize"], i["Size"]);
    assert_eq!(i["Container"], "");
    assert_eq!(i["ContainerConfig"]["Hostname"], "");
    assert!(i["ContainerConfig"]["Cmd"].is_null());
    let keys: Vec<&str> = i.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "Id",
            "RepoTags",
            "RepoDigests",
            "Parent",
            "Comment",
            "Created",
            "Container",
            "ContainerConfig",
            "DockerVersion",
            "Author",
            "Config",
            "Architecture",
            "Os",
            "Size",
            "VirtualSize",
            "GraphDriver",
            "RootFS",
            "Metadata"
        ],
        "moby's field order"
    );
}
