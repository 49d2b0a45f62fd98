//! `doca compose` against real containers, as root: a project with a built service, a named
//! volume and a dependency that must be healthy first; `up` again changes nothing, an edit
//! recreates only its service, scale up and down, and `down -v` leaves nothing.

use doca_testkit::{require_root, ContainerEnv};
use std::path::Path;

struct Project {
    e: ContainerEnv,
    dir: std::path::PathBuf,
}

impl Project {
    fn new(compose: &str) -> Project {
        let e = ContainerEnv::new(env!("CARGO_BIN_EXE_doca"), "doca-compose-test");
        let dir = e.t.path("shop");
        std::fs::create_dir_all(dir.join("web")).unwrap();
        std::fs::write(dir.join("compose.yaml"), compose).unwrap();
        std::fs::write(dir.join("web/Dockerfile"), "FROM busybox\nRUN mkdir /www && echo hello-from-web > /www/index.html\n").unwrap();
        Project { e, dir }
    }

    fn compose(&self, args: &[&str]) -> std::process::Output {
        self.e
            .t
            .cmd()
            .arg("compose")
            .args(args)
            .current_dir(&self.dir)
            .env("CGROUP", &self.e.cgroup)
            .env("FROM_SHELL", "yes")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> (String, String) {
        let o = self.compose(args);
        let (out, err) = (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned());
        assert!(o.status.success(), "compose {args:?}: {out}\n{err}");
        (out, err)
    }

    fn id(&self, name: &str) -> String {
        self.e.t.ok(&["inspect", "-f", "{{.Id}}", name]).trim().to_string()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.compose(&["down", "-v", "-t", "0"]);
    }
}

const SHOP: &str = r#"
name: shop
services:
  web:
    build: ./web
    command: ["httpd", "-f", "-p", "80", "-h", "/www"]
    cgroup_parent: ${CGROUP}
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "-", "http://127.0.0.1/"]
      interval: 1s
  db:
    image: busybox
    command: sh -c 'echo db-ready; exec sleep 300'
    cgroup_parent: ${CGROUP}
    volumes: ["dbdata:/data"]
    environment: [ROLE=db, FROM_SHELL, NOT_IN_SHELL]
  client:
    image: busybox
    cgroup_parent: ${CGROUP}
    depends_on:
      web: {condition: service_healthy}
      db: {condition: service_started}
    command: ["sh", "-c", "wget -q -O - http://web/ && exec sleep 300"]
volumes:
  dbdata: {}
"#;

#[test]
fn up_builds_orders_by_health_recreates_only_what_changed_and_down_leaves_nothing() {
    require_root!();
    let p = Project::new(SHOP);
    let (_, err) = p.ok(&["up", "-d"]);
    for line in
        [" Network shop_default  Created", " Volume shop_dbdata  Created", " Image shop-web  Built", " Container shop-client-1  Started"]
    {
        assert!(err.contains(line), "{err}");
    }
    // The client started once web was healthy, and reached it by its service name.
    assert_eq!(p.e.t.ok(&["logs", "shop-client-1"]), "hello-from-web\n");
    let (ps, _) = p.ok(&["ps"]);
    assert!(ps.starts_with("NAME "), "{ps}");
    for name in ["shop-web-1", "shop-db-1", "shop-client-1"] {
        assert!(ps.lines().any(|l| l.starts_with(name) && l.contains("Up")), "{ps}");
    }
    assert!(ps.contains("(healthy)"), "{ps}");
    // Environment: listed values, the shell's value for a bare name, nothing for an unset one.
    let env = p.e.t.ok(&["exec", "shop-db-1", "env"]);
    assert!(env.contains("ROLE=db") && env.contains("FROM_SHELL=yes") && !env.contains("NOT_IN_SHELL"), "{env}");
    // compose's labels, as docker compose reads them.
    assert_eq!(p.e.t.ok(&["inspect", "-f", "{{index .Config.Labels \"com.docker.compose.service\"}}", "shop-db-1"]), "db\n");
    assert!(p.e.t.ok(&["volume", "inspect", "-f", "{{.Labels}}", "shop_dbdata"]).contains("com.docker.compose.project:shop"));
    // Again, unchanged: nothing recreated.
    let before: Vec<String> = ["shop-web-1", "shop-db-1", "shop-client-1"].iter().map(|n| p.id(n)).collect();
    let (_, err) = p.ok(&["up", "-d"]);
    assert_eq!(err.matches("Running").count(), 3, "{err}");
    assert_eq!(before, ["shop-web-1", "shop-db-1", "shop-client-1"].iter().map(|n| p.id(n)).collect::<Vec<_>>());
    // An edit of db: db alone is recreated.
    std::fs::write(p.dir.join("compose.yaml"), SHOP.replace("echo db-ready;", "echo db-ready-v2;")).unwrap();
    let (_, err) = p.ok(&["up", "-d"]);
    assert!(err.contains("Container shop-db-1  Recreate"), "{err}");
    assert_ne!(p.id("shop-db-1"), before[1]);
    assert_eq!(p.id("shop-web-1"), before[0]);
    assert_eq!(p.e.t.ok(&["logs", "shop-db-1"]), "db-ready-v2\n");
    // logs (prefixed), exec (exit codes), stop, start, rm -s -f.
    let (logs, _) = p.ok(&["logs", "--no-color", "db", "client"]);
    assert!(logs.contains("db-1      | db-ready-v2\n") && logs.contains("client-1  | hello-from-web\n"), "{logs}");
    assert_eq!(p.ok(&["exec", "-T", "db", "sh", "-c", "echo $ROLE"]).0, "db\n");
    assert_eq!(p.compose(&["exec", "-T", "db", "sh", "-c", "exit 4"]).status.code(), Some(4));
    p.ok(&["stop", "-t", "1", "db"]);
    assert!(p.ok(&["ps", "-a"]).0.lines().any(|l| l.starts_with("shop-db-1") && l.contains("Exited")));
    p.ok(&["start", "db"]);
    assert_eq!(p.e.t.ok(&["inspect", "-f", "{{.State.Running}}", "shop-db-1"]), "true\n");
    // run: a one-off (its dependencies up), attached, with its exit code; --rm leaves nothing.
    let o = p.compose(&["run", "--rm", "-T", "client", "sh", "-c", "wget -q -O - http://web/; exit 5"]);
    assert_eq!((o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned()), (Some(5), "hello-from-web\n".into()));
    assert!(!p.e.t.ok(&["ps", "-a", "--format", "{{.Names}}"]).contains("-run-"));
    // Scale up, then down.
    p.ok(&["up", "-d", "--scale", "db=2"]);
    assert!(p.e.t.ok(&["ps", "--format", "{{.Names}}"]).contains("shop-db-2"));
    p.ok(&["up", "-d"]);
    assert!(!p.e.t.ok(&["ps", "-a", "--format", "{{.Names}}"]).contains("shop-db-2"));
    // down -v: containers, network and volume gone.
    p.ok(&["down", "-v", "-t", "0"]);
    assert_eq!(p.e.t.ok(&["ps", "-aq"]), "");
    assert!(!p.e.t.ok(&["network", "ls", "--format", "{{.Name}}"]).contains("shop_default"));
    assert!(!p.e.t.ok(&["volume", "ls", "-q"]).contains("shop_dbdata"));
}

#[test]
fn config_names_the_service_the_key_and_the_file_of_what_is_wrong() {
    require_root!();
    let p = Project::new(SHOP);
    let (services, _) = p.ok(&["config", "--services"]);
    assert_eq!(services, "client\ndb\nweb\n");
    // `config SERVICE`: that service and what it depends on.
    assert_eq!(p.ok(&["config", "--services", "db"]).0, "db\n");
    assert!(p.ok(&["config", "client"]).0.contains("  client:\n"));
    let (yaml, _) = p.ok(&["config"]);
    assert!(yaml.starts_with("name: shop\n") && yaml.contains(&format!("cgroup_parent: {}", p.e.cgroup)), "{yaml}");
    let bad = |text: &str| {
        std::fs::write(p.dir.join("compose.yaml"), text).unwrap();
        let o = p.compose(&["config"]);
        assert_eq!(o.status.code(), Some(1));
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    assert!(bad("services:\n  web:\n    image: x\n    prots: []\n").contains("services.web: additional property prots is not allowed"));
    assert!(bad("services:\n  web:\n    image: x\n    environment: ['P=${NEEDED:?set NEEDED}']\n")
        .contains("required variable NEEDED is missing a value: set NEEDED"));
    let cycle = {
        std::fs::write(
            p.dir.join("compose.yaml"),
            "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n",
        )
        .unwrap();
        let o = p.compose(&["up", "-d"]);
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    assert!(cycle.contains("dependency cycle detected"), "{cycle}");
    assert!(Path::new(&p.dir).exists());
    // Nothing was made by the refused up.
    assert_eq!(p.e.t.ok(&["network", "ls", "--filter", "label=com.docker.compose.project=shop", "-q"]), "");
}

#[test]
fn profiles_ls_pause_kill_and_the_one_offs_name() {
    require_root!();
    let p = Project::new(
        "services:\n  app:\n    image: busybox\n    command: sleep 300\n    cgroup_parent: ${CGROUP}\n  debug:\n    image: busybox\n    command: sleep 300\n    cgroup_parent: ${CGROUP}\n    profiles: [debug]\n",
    );
    // create: made, not started.
    p.ok(&["create"]);
    assert_eq!(p.ok(&["ps", "-a", "--format", "{{.Service}} {{.State}}"]).0, "app created\n");
    p.ok(&["up", "-d"]);
    assert_eq!(p.ok(&["ps", "--format", "{{.Service}}"]).0, "app\n");
    p.ok(&["--profile", "debug", "up", "-d"]);
    assert_eq!(p.ok(&["ps", "--format", "{{.Service}}"]).0, "app\ndebug\n");
    assert!(p.ok(&["ls"]).0.lines().any(|l| l.starts_with("shop ") && l.contains("running(2)")));
    p.ok(&["pause", "app"]);
    assert_eq!(p.e.t.ok(&["inspect", "-f", "{{.State.Status}}", "shop-app-1"]), "paused\n");
    p.ok(&["unpause", "app"]);
    p.ok(&["--profile", "debug", "kill"]);
    // kill signals and returns, as docker compose's does: the exits are recorded as they come
    // (under a full parallel run, after `ls` had already looked).
    let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut ls = p.ok(&["ls", "-a"]).0;
    while !ls.contains("exited(2)") && std::time::Instant::now() < end {
        std::thread::sleep(std::time::Duration::from_millis(50));
        ls = p.ok(&["ls", "-a"]).0;
    }
    assert!(ls.contains("exited(2)"), "{ls}");
    p.ok(&["--profile", "debug", "down"]);
    assert_eq!(p.e.t.ok(&["ps", "-aq"]), "");
}

#[test]
fn port_wait_and_extends() {
    require_root!();
    let p = Project::new(
        "x-base: &base\n  image: busybox\n  cgroup_parent: ${CGROUP}\nservices:\n  base:\n    <<: *base\n    command: sh -c 'exit 3'\n  web:\n    extends: base\n    command: [httpd, -f, -p, '8080']\n    ports: ['127.0.0.1::8080']\n",
    );
    p.ok(&["up", "-d"]);
    let (addr, _) = p.ok(&["port", "web", "8080"]);
    assert!(addr.starts_with("127.0.0.1:") && addr.ends_with('\n'), "{addr}");
    assert_eq!(p.e.t.ok(&["inspect", "-f", "{{.Config.Image}}", "shop-web-1"]), "busybox\n");
    let o = p.compose(&["wait", "base"]);
    assert_eq!((o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned()), (Some(3), "3\n".into()));
}

#[test]
fn secrets_and_configs_land_with_their_modes_and_owners() {
    require_root!();
    let p = Project::new(
        "services:\n  app:\n    image: busybox\n    cgroup_parent: ${CGROUP}\n    command: sleep 300\n    secrets:\n      - db_password\n      - {source: api_key, target: key.txt, uid: '1000', gid: '1000', mode: 0400}\n    configs:\n      - {source: app_conf, target: /etc/app.conf}\nsecrets:\n  db_password: {file: ./password.txt}\n  api_key: {environment: FROM_SHELL}\nconfigs:\n  app_conf: {content: \"debug=true\"}\n",
    );
    std::fs::write(p.dir.join("password.txt"), "s3cret\n").unwrap();
    p.ok(&["up", "-d"]);
    let t = &p.e.t;
    assert_eq!(t.ok(&["exec", "shop-app-1", "cat", "/run/secrets/db_password"]), "s3cret\n");
    assert_eq!(t.ok(&["exec", "shop-app-1", "stat", "-c", "%a %u %g", "/run/secrets/key.txt"]), "400 1000 1000\n");
    assert_eq!(t.ok(&["exec", "shop-app-1", "cat", "/run/secrets/key.txt"]), "yes");
    assert_eq!(t.ok(&["exec", "shop-app-1", "cat", "/etc/app.conf"]), "debug=true");
    // Read-only inside.
    assert_eq!(t.run(&["exec", "shop-app-1", "sh", "-c", "echo x > /run/secrets/db_password"]).status.code(), Some(1));
    p.ok(&["down", "-t", "0"]);
}

#[test]
fn volumes_from_logging_and_devices() {
    require_root!();
    let p = Project::new(
        "services:\n  data:\n    image: busybox\n    cgroup_parent: ${CGROUP}\n    command: sh -c 'echo shared > /shared/f; exec sleep 300'\n    volumes: ['/shared']\n  reader:\n    image: busybox\n    cgroup_parent: ${CGROUP}\n    volumes_from: ['data:ro']\n    devices: ['/dev/null:/dev/mynull']\n    command: sh -c 'sleep 1; cat /shared/f; echo x > /dev/mynull && echo dev-ok; exec sleep 300'\n    logging:\n      driver: json-file\n      options: {max-size: 1m, max-file: '2'}\n",
    );
    p.ok(&["up", "-d"]);
    let mut logs = String::new();
    for _ in 0..100 {
        logs = p.e.t.ok(&["logs", "shop-reader-1"]);
        if logs.contains("dev-ok") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(logs, "shared\ndev-ok\n");
    assert_eq!(p.e.t.ok(&["inspect", "-f", "{{.HostConfig.LogConfig.Config}}", "shop-reader-1"]), "map[max-file:2 max-size:1048576]\n");
    assert!(p.e.t.ok(&["inspect", "-f", "{{.HostConfig.VolumesFrom}}", "shop-reader-1"]).contains("shop-data-1:ro"));
    p.ok(&["down", "-v", "-t", "0"]);
}

/// A link's alias resolves, to the linked service's container, from the linking container only
/// (doca had refused links with an alias); naming a service enables its profile.
#[test]
fn link_aliases_resolve_for_the_linking_container_only_and_naming_a_service_enables_its_profile() {
    require_root!();
    let p = Project::new(
        "services:\n  db:\n    image: busybox\n    command: sleep 300\n    cgroup_parent: ${CGROUP}\n  app:\n    image: busybox\n    command: sleep 300\n    cgroup_parent: ${CGROUP}\n    links: ['db:database']\n  other:\n    image: busybox\n    command: sleep 300\n    cgroup_parent: ${CGROUP}\n  tool:\n    image: busybox\n    command: sleep 300\n    cgroup_parent: ${CGROUP}\n    profiles: [tools]\n",
    );
    p.ok(&["up", "-d"]);
    let db_ip = p.e.t.ok(&["inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", "shop-db-1"]);
    let lookup = |svc: &str| p.compose(&["exec", "-T", svc, "nslookup", "database"]);
    let o = lookup("app");
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(o.status.success() && out.contains(db_ip.trim()), "{out}");
    assert!(!lookup("other").status.success(), "the alias is app's own");
    assert_eq!(p.e.t.ok(&["inspect", "-f", "{{.HostConfig.Links}}", "shop-app-1"]), "[/shop-db-1:/shop-app-1/database]\n");
    // `config` shows the dependency the link implies.
    let (yaml, _) = p.ok(&["config"]);
    assert!(
        yaml.contains("  app:\n    cgroup_parent:")
            && yaml.contains(
                "    depends_on:\n      db:\n        condition: service_started\n        restart: true\n        required: true\n"
            ),
        "{yaml}"
    );
    // tool is in a profile nobody enabled: not started by `up`, started when named.
    assert!(!p.ok(&["ps", "--format", "{{.Service}}"]).0.contains("tool"));
    p.ok(&["up", "-d", "tool"]);
    assert!(p.ok(&["ps", "--format", "{{.Service}}"]).0.contains("tool"));
    p.ok(&["--profile", "tools", "down", "-t", "0"]);
}

/// `cp` in and out of a service's container, `--all` into every replica; `events` streams the
/// project's container events without compose's labels, as lines or `--json`.
#[test]
fn cp_and_events() {
    require_root!();
    let p = Project::new("services:\n  app:\n    image: busybox\n    command: sleep 300\n    cgroup_parent: ${CGROUP}\n    scale: 2\n");
    p.ok(&["up", "-d"]);
    let mut events =
        p.e.t.cmd().args(["compose", "events", "--json"]).current_dir(&p.dir).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::fs::write(p.dir.join("in.txt"), "copied-in\n").unwrap();
    p.ok(&["cp", "in.txt", "app:/tmp/in.txt"]);
    assert_eq!(p.e.t.ok(&["exec", "shop-app-1", "cat", "/tmp/in.txt"]), "copied-in\n");
    assert!(!p.e.t.run(&["exec", "shop-app-2", "cat", "/tmp/in.txt"]).status.success(), "only the first replica");
    p.ok(&["cp", "--all", "in.txt", "app:/tmp/all.txt"]);
    assert_eq!(p.e.t.ok(&["exec", "shop-app-2", "cat", "/tmp/all.txt"]), "copied-in\n");
    p.ok(&["exec", "-T", "--index", "2", "app", "sh", "-c", "echo from-two > /tmp/out.txt"]);
    p.ok(&["cp", "--index", "2", "app:/tmp/out.txt", "out.txt"]);
    assert_eq!(std::fs::read_to_string(p.dir.join("out.txt")).unwrap(), "from-two\n");
    assert!(String::from_utf8_lossy(&p.compose(&["cp", "nope:/x", "y"]).stderr).contains("no such service: nope"));
    // Read as it streams, until both replicas' deaths are in (the stream never ends by itself).
    let stdout = events.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    p.ok(&["stop", "-t", "0"]);
    let mut lines: Vec<serde_json::Value> = Vec::new();
    while lines.iter().filter(|v| v["action"] == "die").count() < 2 {
        let l = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("die events");
        lines.push(serde_json::from_str(&l).unwrap());
    }
    events.kill().unwrap();
    let _ = events.wait();
    let out: Vec<String> = lines.iter().map(|v| v.to_string()).collect();
    assert!(lines.iter().all(|v| v["type"] == "container" && v["service"] == "app"), "{out:?}");
    assert!(lines.iter().all(|v| v["attributes"]["name"].as_str().is_some_and(|n| n.starts_with("shop-app-"))), "{out:?}");
    assert!(!out.concat().contains("com.docker.compose."), "{out:?}");
}

/// `build --build-arg` over the file's args (two services built at once), `up --pull never`
/// with an image nobody has, `ps --status` and a service name, `down --rmi local` (the images
/// compose named, not the ones the file names).
#[test]
fn build_args_pull_never_ps_status_and_down_rmi() {
    require_root!();
    let p = Project::new(
        "services:\n  one:\n    build: {context: ./web, dockerfile_inline: \"FROM busybox\\nARG GREETING=file\\nRUN echo $$GREETING > /greeting\\n\", args: {GREETING: from-file}}\n    command: sleep 300\n    cgroup_parent: ${CGROUP}\n  two:\n    build: ./web\n    command: sh -c 'exit 3'\n    cgroup_parent: ${CGROUP}\n",
    );
    let (_, err) = p.ok(&["build", "--build-arg", "GREETING=from-flag"]);
    assert!(err.contains("Image shop-one  Built") && err.contains("Image shop-two  Built"), "{err}");
    p.ok(&["up", "-d"]);
    assert_eq!(p.e.t.ok(&["exec", "shop-one-1", "cat", "/greeting"]), "from-flag\n");
    let _ = p.e.t.run(&["wait", "shop-two-1"]);
    assert_eq!(p.ok(&["ps", "--status", "exited", "--format", "{{.Service}}"]).0, "two\n");
    assert_eq!(p.ok(&["ps", "-a", "one", "--format", "{{.Service}}"]).0, "one\n");
    let o = p.compose(&["ps", "nope"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("no such service: nope"));
    // A service whose image is nowhere, with --pull never: refused by name, nothing made for it.
    std::fs::write(p.dir.join("compose.yaml"), "services:\n  ghost:\n    image: nowhere/ghost:1\n    cgroup_parent: ${CGROUP}\n").unwrap();
    let o = p.compose(&["up", "-d", "--pull", "never"]);
    assert!(!o.status.success() && String::from_utf8_lossy(&o.stderr).contains("nowhere/ghost:1"), "{o:?}");
    assert!(!p.e.t.ok(&["ps", "-a", "--format", "{{.Names}}"]).contains("ghost"));
    // down --rmi local: the built images go, the busybox they came from stays.
    std::fs::write(p.dir.join("compose.yaml"), "services:\n  one:\n    build: ./web\n  two:\n    build: ./web\n").unwrap();
    let (_, err) = p.ok(&["down", "--rmi", "local", "-t", "0", "--remove-orphans"]);
    assert!(err.contains("Image shop-one  Removed") && err.contains("Image shop-two  Removed"), "{err}");
    let images = p.e.t.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!images.contains("shop-") && images.contains("busybox"), "{images}");
}
