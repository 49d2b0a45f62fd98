//! The engine is the door every front end goes through: a container request built in Rust, as
//! an Engine API handler will build it, gives the same container as the CLI's flags, and a
//! request the engine refuses is refused with the CLI's words and leaves nothing behind.

use doca_engine::containers::mounts::parse_volume_flag;
use doca_engine::containers::{CreateContainer, NetworkMode, RestartPolicy};
use doca_engine::{Engine, EngineConfig};
use doca_testkit::{require_root, TempRoot};
use serde_json::Value;

/// An engine in this test process, as an API server is one: its helpers (doca-shim,
/// doca-runc) are found in PATH, where the built ones are put.
fn engine(t: &TempRoot) -> Engine {
    static PATH: std::sync::Once = std::sync::Once::new();
    PATH.call_once(|| {
        let dir = std::path::Path::new(env!("CARGO_BIN_EXE_doca")).parent().unwrap().to_path_buf();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let joined = std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&path))).unwrap();
        std::env::set_var("PATH", joined);
    });
    Engine::open(EngineConfig { root: t.root(), run_root: t.path("run") }).expect("open the engine")
}

/// `doca inspect` of `name`, without what differs between two containers made alike.
fn comparable(t: &TempRoot, name: &str) -> Value {
    let mut v: Value = serde_json::from_str(&t.ok(&["inspect", name])).unwrap();
    let mut c = v[0].take();
    let o = c.as_object_mut().unwrap();
    for k in ["Id", "Name", "Created", "ResolvConfPath", "HostnamePath", "HostsPath", "LogPath", "GraphDriver"] {
        o.remove(k);
    }
    c["Config"]["Hostname"] = Value::Null;
    c
}

#[test]
fn a_request_built_in_code_makes_the_containers_the_cli_makes() {
    require_root!();
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    t.busybox("busybox:latest");
    t.ok(&[
        "create",
        "--name",
        "cli",
        "-e",
        "A=1",
        "-l",
        "k=v",
        "--network",
        "none",
        "-v",
        "door-vol:/data",
        "--restart",
        "on-failure:2",
        "-w",
        "/work",
        "busybox",
        "sleep",
        "1",
    ]);
    let mut labels = std::collections::BTreeMap::new();
    labels.insert("k".to_string(), "v".to_string());
    let req = CreateContainer {
        image: "busybox".into(),
        name: Some("api".into()),
        cmd: vec!["sleep".into(), "1".into()],
        env: vec!["A=1".into()],
        labels,
        network: NetworkMode::None,
        mounts: vec![parse_volume_flag("door-vol:/data").unwrap()],
        restart: RestartPolicy::OnFailure { max_retries: 2 },
        working_dir: Some("/work".into()),
        // What docker's create attaches when no -a is given.
        attach_stdout: true,
        attach_stderr: true,
        ..Default::default()
    };
    engine(&t).create_container(&req).expect("the engine creates what the CLI creates");
    assert_eq!(comparable(&t, "api"), comparable(&t, "cli"));
}

#[test]
fn a_request_the_engine_refuses_is_refused_alike_and_makes_nothing() {
    require_root!();
    let t = TempRoot::new(env!("CARGO_BIN_EXE_doca"));
    t.busybox("busybox:latest");
    // Refused by dockerd, so `create` exits 1 as docker's CLI does (run would exit 125).
    let cli = t.fails(&["create", "--network", "container:other", "-p", "8080:80", "busybox", "true"], 1);
    let req = CreateContainer {
        image: "busybox".into(),
        network: NetworkMode::Container("other".into()),
        publish: doca_engine::parse_publish("8080:80").unwrap(),
        ..Default::default()
    };
    let api = engine(&t).create_container(&req).unwrap_err();
    assert_eq!(api.kind(), doca_engine::ErrorKind::InvalidArgument);
    assert_eq!(cli.trim(), format!("Error: {api}"));
    assert_eq!(t.ok(&["ps", "-aq"]), "", "a refused request left a container");
}

/// docker's StatsJSON comes from the engine, typed, for the API to stream: two samples of a
/// running container make one with precpu_stats.
#[test]
fn stats_come_out_in_dockers_shape() {
    require_root!();
    // In a cgroup parent of its own, removed with the environment.
    let env = doca_testkit::ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-door");
    let t = &env.t;
    let id = t.ok(&env.args("run", &["-d", "--network", "none", "--name", "statty", "busybox", "sleep", "30"])).trim().to_string();
    let mut e = engine(t);
    let (_, first) = e.container_stats("statty").unwrap();
    let (c, second) = e.container_stats("statty").unwrap();
    let v = serde_json::to_value(second.to_docker(&c, Some(&first))).unwrap();
    assert_eq!((v["id"].as_str(), v["name"].as_str()), (Some(id.as_str()), Some("/statty")));
    assert!(v["pids_stats"]["current"].as_u64() >= Some(1), "{v}");
    assert!(v["memory_stats"]["usage"].as_u64() > Some(0) && v["memory_stats"]["limit"].as_u64() > Some(0), "{v}");
    assert!(v["cpu_stats"]["system_cpu_usage"].as_u64() >= v["precpu_stats"]["system_cpu_usage"].as_u64(), "{v}");
    assert_eq!(v["precpu_stats"]["cpu_usage"]["total_usage"].as_u64(), Some(first.cpu_total));
    assert_eq!(v["preread"].as_str(), Some(first.read.as_str()));
    assert!(v["cpu_stats"]["online_cpus"].as_u64() >= Some(1));
    t.ok(&["rm", "-f", "statty"]);
}
