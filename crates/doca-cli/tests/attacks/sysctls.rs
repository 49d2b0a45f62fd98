//! `--sysctl` sets only the container's own namespaces' settings: a global key, or a network
//! key with `--network host`, is refused with docker's message, creates nothing, and the
//! host's value stays. (doca-runtime's tests perform the same attack on the runtime directly.)

use super::common::Env;

fn read(key: &str) -> String {
    std::fs::read_to_string(format!("/proc/sys/{}", key.replace('.', "/"))).unwrap()
}

#[test]
fn global_sysctls_are_refused_and_the_host_is_untouched() {
    doca_testkit::require_root!();
    let e = Env::new();
    let core = read("kernel.core_pattern");
    let probes = read("net.ipv4.tcp_keepalive_probes");
    let other = (probes.trim().parse::<u32>().unwrap() % 100 + 1).to_string();
    let before = e.t.ok(&["ps", "-aq"]);
    for (flag, extra) in [
        ("kernel.core_pattern=|/tmp/doca-attack-helper".to_string(), None),
        ("vm.drop_caches=3".to_string(), None),
        ("kernel.hostname=pwned".to_string(), None),
        (format!("net.ipv4.tcp_keepalive_probes={other}"), Some("host")),
    ] {
        let mut args = vec!["--rm", "--sysctl", &flag];
        if let Some(n) = extra {
            args.extend(["--network", n]);
        }
        args.extend(["busybox", "true"]);
        let err = e.t.fails(&e.args("run", &args), 125);
        assert!(err.contains("is not whitelisted") || err.contains("host network namespace"), "{flag}: {err}");
    }
    assert_eq!(e.t.ok(&["ps", "-aq"]), before, "a refused request left a container");
    let (now_core, now_probes) = (read("kernel.core_pattern"), read("net.ipv4.tcp_keepalive_probes"));
    let _ = std::fs::write("/proc/sys/kernel/core_pattern", &core);
    let _ = std::fs::write("/proc/sys/net/ipv4/tcp_keepalive_probes", &probes);
    assert_eq!((now_core, now_probes.clone()), (core, probes.clone()), "a container changed the host's kernel settings");
    // In a network namespace of its own, the container's value is its own.
    let out = e.run_ok(&[
        "--rm",
        "--sysctl",
        &format!("net.ipv4.tcp_keepalive_probes={other}"),
        "busybox",
        "cat",
        "/proc/sys/net/ipv4/tcp_keepalive_probes",
    ]);
    assert_eq!(out, other);
    assert_eq!(read("net.ipv4.tcp_keepalive_probes"), probes);
}
