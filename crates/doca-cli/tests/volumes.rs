//! Volumes as users use them, as root: data that outlives containers, copy-up, anonymous
//! volumes and their removal, bind mounts, docker's messages.

use doca_testkit::{require_root, ContainerEnv};

struct Env(ContainerEnv);

impl std::ops::Deref for Env {
    type Target = ContainerEnv;
    fn deref(&self) -> &ContainerEnv {
        &self.0
    }
}

impl Env {
    fn new() -> Env {
        Env(ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-vtest"))
    }

    fn run(&self, args: &[&str]) -> String {
        self.t.ok(&self.args("run", args))
    }

    fn run_fails(&self, args: &[&str]) -> String {
        self.t.fails(&self.args("run", args), 125)
    }
}

#[test]
fn named_volumes_keep_data_and_copy_up_the_image() {
    require_root!();
    let e = Env::new();
    e.run(&["--rm", "-v", "data:/var/www", "busybox", "sh", "-c", "echo kept > /var/www/file"]);
    assert_eq!(
        e.run(&["--rm", "-v", "data:/var/www:ro", "busybox", "sh", "-c", "cat /var/www/file; touch /var/www/x 2>/dev/null || echo ro"]),
        "kept\nro\n"
    );
    assert_eq!(e.t.ok(&["volume", "ls", "--format", "{{.Driver}} {{.Name}}"]), "local data\n");
    let i: serde_json::Value = serde_json::from_str(&e.t.ok(&["volume", "inspect", "data"])).unwrap();
    assert_eq!(i[0]["Name"], "data");
    assert_eq!(i[0]["Scope"], "local");
    assert!(i[0]["Mountpoint"].as_str().unwrap().ends_with("/volumes/data/_data"));
    // A named volume's labels and options are docker's empty maps, not null (issue 17, item 21).
    assert_eq!((&i[0]["Labels"], &i[0]["Options"]), (&serde_json::json!({}), &serde_json::json!({})));
    // An empty volume over /etc gets the image's /etc, owners and modes kept; nocopy skips it.
    assert_eq!(e.run(&["--rm", "-v", "etc:/etc", "busybox", "sh", "-c", "cat /etc/group | head -1; stat -c %a /etc"]), "root:x:0:\n755\n");
    // (The files the runtime mounts over, /etc/hosts and the like, get their mount points in
    // it, as with docker and runc.)
    assert_eq!(e.run(&["--rm", "-v", "empty:/etc:nocopy", "busybox", "ls", "/etc"]), "hostname\nhosts\nresolv.conf\n");
    // In use: refused, as docker words it.
    let id = e.run(&["-d", "-v", "data:/d", "busybox", "sleep", "300"]).trim().to_string();
    let err = e.t.fails(&["volume", "rm", "data"], 1);
    assert!(err.contains(&format!("remove data: volume is in use - [{id}]")), "{err}");
    e.t.ok(&["rm", "-f", &id]);
    e.t.ok(&["volume", "rm", "data", "etc", "empty"]);
    assert!(e.t.fails(&["volume", "inspect", "data"], 1).contains("get data: no such volume"));
    let err = e.t.fails(&["volume", "create", "bad/name"], 1);
    assert!(err.contains("includes invalid characters for a local volume name"), "{err}");
}

#[test]
fn anonymous_volumes_go_with_rm_v_and_run_rm_never_named_ones() {
    require_root!();
    let e = Env::new();
    e.t.ok(&["import", "-c", "VOLUME /data", "-c", "CMD [\"sh\"]", doca_testkit::busybox_tar().to_str().unwrap(), "withvol"]);
    e.run(&["--name", "first", "-v", "named:/n", "withvol", "sh", "-c", "echo x > /data/f; echo y > /n/f"]);
    let vols = e.t.ok(&["volume", "ls", "-q"]);
    assert_eq!(vols.lines().count(), 2, "the image's VOLUME got an anonymous volume: {vols}");
    let i: serde_json::Value = serde_json::from_str(&e.t.ok(&["inspect", "first"])).unwrap();
    let mounts = i[0]["Mounts"].as_array().unwrap();
    assert!(mounts.iter().any(|m| m["Destination"] == "/data" && m["Type"] == "volume"), "{mounts:?}");
    // --volumes-from: the same volumes, read-only when asked; its rm -v leaves them.
    assert_eq!(
        e.run(&[
            "--name",
            "reader",
            "--volumes-from",
            "first:ro",
            "busybox",
            "sh",
            "-c",
            "cat /data/f /n/f; touch /n/z 2>/dev/null || echo ro"
        ]),
        "x\ny\nro\n"
    );
    e.t.ok(&["rm", "-v", "reader"]);
    assert_eq!(e.t.ok(&["volume", "ls", "-q"]).lines().count(), 2, "the reader's rm -v left the first container's volumes");
    e.t.ok(&["rm", "-v", "first"]);
    assert_eq!(e.t.ok(&["volume", "ls", "-q"]), "named\n", "rm -v took the anonymous volume and left the named one");
    e.run(&["--rm", "-v", "/scratch", "busybox", "true"]);
    assert_eq!(e.t.ok(&["volume", "ls", "-q"]), "named\n", "run --rm took its anonymous volume");
    e.run(&["--name", "second", "-v", "/keep", "busybox", "true"]);
    e.t.ok(&["rm", "second"]);
    assert_eq!(e.t.ok(&["volume", "ls", "-q", "--filter", "dangling=true"]).lines().count(), 2);
    let out = e.t.ok(&["volume", "prune", "-f"]);
    assert!(out.starts_with("Deleted Volumes:\n"), "{out}");
    assert_eq!(e.t.ok(&["volume", "ls", "-q"]), "named\n", "prune without -a takes anonymous volumes only");
    e.t.ok(&["volume", "prune", "-a", "-f"]);
    assert_eq!(e.t.ok(&["volume", "ls", "-q"]), "");
}

#[test]
fn bind_mounts_and_bad_mount_specs() {
    require_root!();
    let e = Env::new();
    let host = e.t.path("host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("h"), "from host").unwrap();
    let spec = format!("{}:/h", host.display());
    assert_eq!(e.run(&["--rm", "-v", &spec, "busybox", "sh", "-c", "cat /h/h; echo back > /h/c"]), "from host");
    assert_eq!(std::fs::read_to_string(host.join("c")).unwrap(), "back\n");
    // HostConfig.Binds lists the -v binds as given (docker's), not --mount or anonymous ones.
    let c = e
        .t
        .ok(&e.args("create", &["-v", &spec, "-v", "named-b:/n:ro", "-v", "/anon", "--mount", "type=tmpfs,target=/t", "busybox", "true"]));
    let binds = e.t.ok(&["inspect", "-f", "{{json .HostConfig.Binds}}", c.trim()]);
    assert_eq!(binds.trim(), format!("[\"{spec}\",\"named-b:/n:ro\"]"));
    let none = e.t.ok(&e.args("create", &["busybox", "true"]));
    assert_eq!(e.t.ok(&["inspect", "-f", "{{json .HostConfig.Binds}}", none.trim()]).trim(), "null");
    e.t.ok(&["rm", "-v", c.trim(), none.trim()]);
    e.t.ok(&["volume", "rm", "named-b"]);
    // -v makes a missing source; --mount refuses it, as docker.
    let missing = e.t.path("made");
    e.run(&["--rm", "-v", &format!("{}:/m", missing.display()), "busybox", "true"]);
    assert!(missing.is_dir());
    let err = e.run_fails(&["--rm", "--mount", &format!("type=bind,source={},target=/m", e.t.path("nope").display()), "busybox", "true"]);
    assert!(err.contains("bind source path does not exist"), "{err}");
    assert_eq!(
        e.run(&[
            "--rm",
            "--mount",
            "type=tmpfs,target=/scratch,tmpfs-size=1m",
            "busybox",
            "sh",
            "-c",
            "df -k /scratch | tail -1 | awk '{print $2}'"
        ]),
        "1024\n"
    );
    for (args, want) in [
        (vec!["-v", "vol:relative"], "must be absolute"),
        (vec!["-v", "vol:/"], "can't be '/'"),
        (vec!["-v", "vol:/proc"], "cannot be mounted over"),
        (vec!["-v", "bad$:/x"], "invalid characters"),
        (vec!["--mount", "type=volume,target=/x,colour=red"], "unexpected key 'colour'"),
        (vec!["-v", "va:/x", "-v", "vb:/x"], "Duplicate mount point: /x"),
    ] {
        let mut a = args.clone();
        a.extend(["busybox", "true"]);
        let err = e.run_fails(&a);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert_eq!(e.t.ok(&["ps", "-aq"]), "");
    assert_eq!(e.t.ok(&["volume", "ls", "-q"]), "", "a refused run makes no volume");
}

fn mounted(path: &str) -> bool {
    std::fs::read_to_string("/proc/self/mountinfo").unwrap().lines().any(|l| l.split(' ').nth(4) == Some(path))
}

#[test]
fn local_driver_options_mount_while_used_and_never_delete_the_device() {
    require_root!();
    let e = Env::new();
    // A tmpfs volume: one tmpfs shared by the containers using it at once, gone with the last.
    e.t.ok(&["volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=2m,mode=1777", "scratch"]);
    let i: serde_json::Value = serde_json::from_str(&e.t.ok(&["volume", "inspect", "scratch"])).unwrap();
    assert_eq!(i[0]["Options"]["type"], "tmpfs");
    let data = i[0]["Mountpoint"].as_str().unwrap().to_string();
    assert!(!mounted(&data), "not mounted before a container uses it");
    let a = e.run(&["-d", "-v", "scratch:/s", "busybox", "sh", "-c", "echo shared > /s/f; sleep 300"]).trim().to_string();
    assert!(mounted(&data));
    let out = e.run(&["--rm", "-v", "scratch:/s", "busybox", "sh", "-c", "sleep 0.3; cat /s/f; df -k /s | tail -1 | awk '{print $2}'"]);
    assert_eq!(out, "shared\n2048\n");
    assert!(mounted(&data), "the first container still uses it");
    e.t.ok(&["rm", "-f", &a]);
    assert!(!mounted(&data), "unmounted when its last user went");
    assert_eq!(e.run(&["--rm", "-v", "scratch:/s", "busybox", "ls", "/s"]), "", "a fresh tmpfs, as docker's");

    // A bind volume over a host directory: removing the volume never touches the directory.
    let host = e.t.path("keep");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("precious"), "data").unwrap();
    let dev = format!("device={}", host.display());
    e.t.ok(&["volume", "create", "-o", "type=none", "-o", &dev, "-o", "o=bind,ro", "hostdir"]);
    assert_eq!(
        e.run(&["--rm", "-v", "hostdir:/h", "busybox", "sh", "-c", "cat /h/precious; touch /h/x 2>/dev/null || echo ro"]),
        "dataro\n"
    );
    e.t.ok(&["volume", "rm", "hostdir", "scratch"]);
    assert_eq!(std::fs::read_to_string(host.join("precious")).unwrap(), "data");

    // --mount volume-opt= makes the volume with those options on first use.
    let out = e.run(&[
        "--rm",
        "--mount",
        "type=volume,src=viaopt,dst=/v,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-opt=o=size=1m",
        "busybox",
        "sh",
        "-c",
        "df -k /v | tail -1 | awk '{print $2}'",
    ]);
    assert_eq!(out, "1024\n");
    let i: serde_json::Value = serde_json::from_str(&e.t.ok(&["volume", "inspect", "viaopt"])).unwrap();
    assert_eq!(i[0]["Options"]["o"], "size=1m");

    // Docker's refusals, and nothing made.
    for (opts, want) in [
        (vec!["-o", "colour=red"], "invalid option: \"colour\""),
        (vec!["-o", "type=tmpfs"], "missing required option: \"device\""),
        (vec!["-o", "size=1G"], "no quota support"),
    ] {
        let mut a = vec!["volume", "create"];
        a.extend(opts.iter());
        a.push("refused");
        let err = e.t.fails(&a, 1);
        assert!(err.contains(want), "{opts:?}: {err}");
    }
    // A device that cannot be mounted fails the start, names the volume, and mounts nothing.
    e.t.ok(&["volume", "create", "-o", "type=ext4", "-o", "device=/nonexistent-doca-device", "broken"]);
    let err = e.t.fails(&e.args("run", &["--rm", "-v", "broken:/b", "busybox", "true"]), 125);
    assert!(err.contains("error while mounting volume 'broken'"), "{err}");
    assert_eq!(e.t.ok(&["volume", "ls", "-q"]), "broken\nviaopt\n");
}

#[test]
fn bind_sources_through_symlinks_into_the_store_are_refused() {
    require_root!();
    let e = Env::new();
    let link = e.t.path("sneaky");
    std::os::unix::fs::symlink(e.t.root(), &link).unwrap();
    let before = e.t.fingerprint();
    for spec in [format!("{}:/store", link.display()), format!("{}/containers/new:/x", link.display())] {
        let err = e.run_fails(&["--rm", "-v", &spec, "busybox", "true"]);
        assert!(err.contains("inside doca's store"), "{spec}: {err}");
    }
    let after = e.t.fingerprint();
    let changed: Vec<_> = after.iter().filter(|l| !before.contains(l)).chain(before.iter().filter(|l| !after.contains(l))).collect();
    assert!(changed.is_empty(), "a refused bind changed the store: {changed:?}");
    // A volume's data stays reachable by path, as with docker.
    e.t.ok(&["volume", "create", "vol"]);
    let spec = format!("{}/volumes/vol/_data:/v", link.display());
    e.run(&["--rm", "-v", &spec, "busybox", "true"]);
}

/// `volume prune --filter label=` follows docker 23 (anonymous volumes only) and `-a` gives
/// docker 20.10's prune of every unused volume the filter selects (issue 17, item 13).
#[test]
fn volume_prune_with_a_label_filter_takes_named_volumes_only_with_a() {
    require_root!();
    let e = Env::new();
    e.t.ok(&["volume", "create", "--label", "tier=cache", "cached"]);
    e.t.ok(&["volume", "create", "--label", "tier=data", "kept"]);
    assert_eq!(e.t.ok(&["volume", "prune", "-f", "--filter", "label=tier=cache"]), "Total reclaimed space: 0B\n");
    assert_eq!(e.t.ok(&["volume", "ls", "-q"]), "cached\nkept\n");
    let out = e.t.ok(&["volume", "prune", "-a", "-f", "--filter", "label=tier=cache"]);
    assert!(out.starts_with("Deleted Volumes:\ncached\n"), "{out}");
    assert_eq!(e.t.ok(&["volume", "ls", "-q"]), "kept\n");
}
