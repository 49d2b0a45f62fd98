//! `run`/`create` flags → the engine's create request, with docker's parsing (sizes as
//! go-units RAMInBytes, env and label files, security options) and its messages.

use crate::cli::{ResourceArgs, RunArgs};
use crate::exit::Verb;
use crate::Failure;
use doca_engine::containers::{CreateContainer, NetworkMode, Resources, RestartPolicy};
use std::collections::BTreeMap;
use std::path::Path;

fn usage(msg: impl Into<String>) -> Failure {
    Failure::not_run(msg)
}

pub use doca_engine::containers::parse_size as ram_in_bytes;

/// `-e`/`--env-file` entries: "K=V" kept, a bare "K" takes the caller's value when it has one
/// (docker's opts.ValidateEnv), comments and blank lines in files skipped.
fn env_entry(raw: &str, out: &mut Vec<String>) {
    if raw.contains('=') {
        out.push(raw.to_string());
    } else if let Ok(v) = std::env::var(raw) {
        out.push(format!("{raw}={v}"));
    }
}

fn read_lines(path: &Path, what: &str) -> Result<Vec<String>, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| usage(format!("open {}: {}", path.display(), crate::commands::io_reason(&e))))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_start();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if l.starts_with('=') {
            return Err(usage(format!("{what} file {} line {}: variable name is empty", path.display(), i + 1)));
        }
        out.push(l.to_string());
    }
    Ok(out)
}

pub fn env_list(env: &[String], files: &[std::path::PathBuf]) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    for f in files {
        for l in read_lines(f, "env")? {
            env_entry(&l, &mut out);
        }
    }
    for e in env {
        if e.starts_with('=') {
            return Err(usage(format!("invalid environment variable: {e}")));
        }
        env_entry(e, &mut out);
    }
    Ok(out)
}

fn labels(a: &RunArgs) -> Result<BTreeMap<String, String>, Failure> {
    let mut all: Vec<String> = Vec::new();
    for f in &a.label_file {
        all.extend(read_lines(f, "label")?);
    }
    all.extend(a.label.iter().cloned());
    super::key_values(&all, "label", Verb::Run)
}

/// `--security-opt`: a seccomp profile is read here, from the caller's file, and given to the
/// engine as its content (as docker's CLI sends it to dockerd).
fn security(opts: &[String], req: &mut CreateContainer) -> Result<(), Failure> {
    for o in opts {
        let opt = match o.split_once(['=', ':']) {
            Some(("seccomp", v)) if v != "unconfined" && !v.is_empty() => {
                let text = std::fs::read_to_string(v)
                    .map_err(|e| usage(format!("opening seccomp profile ({v}) failed: {}", crate::commands::io_reason(&e))))?;
                format!("seccomp={text}")
            }
            _ => o.clone(),
        };
        req.security_opt(&opt).map_err(|e| usage(e.to_string()))?;
    }
    Ok(())
}

/// `--ipc`, `--pid`, `--uts`: "host" shares the host's namespace; private is the default.
fn host_mode(flag: &str, v: Option<&str>, private: &[&str]) -> Result<bool, Failure> {
    match v {
        None | Some("") => Ok(false),
        Some("host") => Ok(true),
        Some(m) if private.contains(&m) => Ok(false),
        Some(m) => Err(usage(format!("invalid --{flag}: {m}: doca supports host and private for now"))),
    }
}

/// Which streams a foreground `run` attaches: `-a` as given, else stdout and stderr (and stdin
/// with `-i`).
pub fn attach_streams(a: &RunArgs) -> Result<(bool, bool, bool), Failure> {
    if a.attach.is_empty() {
        return Ok((a.interactive, true, true));
    }
    let (mut i, mut o, mut e) = (false, false, false);
    for s in &a.attach {
        match s.to_ascii_lowercase().as_str() {
            "stdin" => i = true,
            "stdout" => o = true,
            "stderr" => e = true,
            _ => {
                return Err(usage(format!(
                    "invalid argument \"{s}\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR"
                )))
            }
        }
    }
    Ok((i, o, e))
}

/// `-v` and `--mount` (`--tmpfs` stays the spec's own tmpfs list).
fn mounts(a: &RunArgs) -> Result<Vec<doca_engine::containers::MountSpec>, Failure> {
    use doca_engine::containers::{parse_mount_flag, parse_volume_flag};
    let mut out = Vec::new();
    for v in &a.volume {
        out.push(parse_volume_flag(v).map_err(|e| usage(e.to_string()))?);
    }
    for m in &a.mount {
        out.push(parse_mount_flag(m).map_err(|e| usage(e.to_string()))?);
    }
    Ok(out)
}

/// `--health-*` and `--no-healthcheck`, checked as docker checks them.
fn healthcheck(a: &RunArgs) -> Result<Option<doca_engine::containers::HealthSpec>, Failure> {
    let any = a.health_cmd.is_some()
        || a.health_interval.is_some()
        || a.health_timeout.is_some()
        || a.health_start_period.is_some()
        || a.health_retries.is_some();
    if a.no_healthcheck {
        if any {
            return Err(usage("--no-healthcheck conflicts with --health-* options"));
        }
        return Ok(Some(doca_engine::containers::HealthSpec { test: Some(vec!["NONE".into()]), ..Default::default() }));
    }
    if !any {
        return Ok(None);
    }
    let dur = |flag: &str, v: &Option<String>| -> Result<i64, Failure> {
        match v {
            None => Ok(0),
            Some(s) => doca_engine::containers::parse_go_duration(s)
                .map(|d| d.as_nanos() as i64)
                .ok_or_else(|| usage(format!("invalid argument \"{s}\" for \"--{flag}\" flag: time: invalid duration \"{s}\""))),
        }
    };
    Ok(Some(doca_engine::containers::HealthSpec {
        test: a.health_cmd.as_ref().map(|c| vec!["CMD-SHELL".into(), c.clone()]),
        interval_ns: dur("health-interval", &a.health_interval)?,
        timeout_ns: dur("health-timeout", &a.health_timeout)?,
        start_period_ns: dur("health-start-period", &a.health_start_period)?,
        retries: a.health_retries.unwrap_or(0),
    }))
}

/// `verb`: what the engine's refusal exits with (`run` 125; `create` 1, as docker's CLI exits
/// for what its daemon refuses).
pub fn create_request(a: &RunArgs, verb: Verb) -> Result<CreateContainer, Failure> {
    let image = a.image_and_command[0].clone();
    if image.starts_with('-') {
        return Err(usage(format!("unknown flag: {image}")));
    }
    if a.detach && !a.attach.is_empty() {
        return Err(usage("Conflicting options: -a and -d"));
    }
    if let Some(p) = &a.platform {
        let host = format!("linux/{}", if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH });
        if p != &host && p != "linux" {
            return Err(usage(format!("image platform {p} does not match this host ({host}), and doca does not emulate others")));
        }
    }
    match a.pull.as_str() {
        "missing" | "never" | "always" => {}
        p => return Err(usage(format!("invalid pull option: '{p}': must be one of \"always\", \"missing\" or \"never\""))),
    }
    let network = NetworkMode::parse(a.network.as_deref().unwrap_or("bridge"));
    let mut publish = Vec::new();
    for p in &a.publish {
        publish
            .extend(doca_engine::parse_publish(p).map_err(|e| usage(format!("invalid argument \"{p}\" for \"-p, --publish\" flag: {e}")))?);
    }
    let expose = a.expose.iter().map(|p| doca_engine::Port::parse(p)).collect::<Result<Vec<_>, _>>().map_err(|e| usage(e.to_string()))?;
    let ip = match a.ip.as_deref() {
        Some(i) => Some(i.parse::<std::net::Ipv4Addr>().map_err(|_| usage(format!("invalid IPv4 address: {i}")))?),
        None => None,
    };
    let mut log_max_size = None;
    let mut log_max_files = None;
    for o in &a.log_opt {
        match o.split_once('=') {
            Some(("max-size", v)) => log_max_size = Some(ram_in_bytes(v).map_err(usage)?.max(0) as u64),
            Some(("max-file", v)) => log_max_files = Some(v.parse().map_err(|_| usage(format!("invalid value for max-file: {v}")))?),
            _ => return Err(usage(format!("unknown log opt '{}' for json-file log driver", o.split('=').next().unwrap_or(o)))),
        }
    }
    let mut ulimits = Vec::new();
    for u in &a.ulimit {
        let bad = || usage(format!("invalid argument \"{u}\" for \"--ulimit\" flag: invalid ulimit argument: {u}"));
        let (name, vals) = u.split_once('=').ok_or_else(bad)?;
        let (soft, hard) = vals.split_once(':').unwrap_or((vals, vals));
        ulimits.push((name.to_string(), soft.parse().map_err(|_| bad())?, hard.parse().map_err(|_| bad())?));
    }
    let resources = Resources { oom_kill_disable: a.oom_kill_disable, ulimits, ..resources(&a.resources, Verb::Run)? };
    let mut tmpfs = BTreeMap::new();
    for t in &a.tmpfs {
        let (path, opts) = t.split_once(':').unwrap_or((t, ""));
        tmpfs.insert(path.to_string(), opts.to_string());
    }
    let mut sysctls = BTreeMap::new();
    for s in &a.sysctl {
        let (k, v) =
            doca_engine::containers::parse_sysctl(s).map_err(|e| usage(format!("invalid argument \"{s}\" for \"--sysctl\" flag: {e}")))?;
        sysctls.insert(k, v);
    }
    let (attach_stdin, attach_stdout, attach_stderr) = if a.detach { (false, false, false) } else { attach_streams(a)? };
    let mut req = CreateContainer {
        image,
        name: a.name.clone(),
        cmd: a.image_and_command[1..].to_vec(),
        entrypoint: a.entrypoint.as_ref().map(|e| if e.is_empty() { Vec::new() } else { vec![e.clone()] }),
        env: env_list(&a.env, &a.env_file)?,
        working_dir: a.workdir.clone(),
        user: a.user.clone(),
        group_add: a.group_add.clone(),
        hostname: a.hostname.clone(),
        domainname: a.domainname.clone(),
        tty: a.tty,
        open_stdin: a.interactive,
        // docker sets StdinOnce when a foreground run attaches stdin: the container's stdin
        // closes with the user's.
        stdin_once: a.interactive && attach_stdin,
        attach_stdin,
        attach_stdout,
        attach_stderr,
        network,
        ip,
        network_aliases: a.network_alias.clone(),
        links: a.link.clone(),
        userns: a.userns.clone().unwrap_or_default(),
        mac_address: a.mac_address.clone(),
        dns: a.dns.clone(),
        dns_search: a.dns_search.clone(),
        dns_options: a.dns_option.clone(),
        extra_hosts: a.add_host.clone(),
        publish,
        publish_all: a.publish_all,
        expose,
        privileged: a.privileged,
        read_only: a.read_only,
        cap_add: a.cap_add.clone(),
        cap_drop: a.cap_drop.clone(),
        labels: labels(a)?,
        restart: RestartPolicy::parse(&a.restart).map_err(|e| usage(e.to_string()))?,
        auto_remove: a.rm,
        runtime: a.runtime.clone().unwrap_or_default(),
        log_max_size,
        log_max_files,
        log_driver: a.log_driver.clone(),
        stop_signal: a.stop_signal.clone(),
        stop_timeout: a.stop_timeout,
        cgroup_parent: a.cgroup_parent.clone(),
        resources,
        tmpfs,
        sysctls,
        devices: a.device.clone(),
        shm_size: a
            .shm_size
            .as_ref()
            .map(|s| ram_in_bytes(s).map_err(|e| usage(format!("invalid argument \"{s}\" for \"--shm-size\" flag: {e}"))))
            .transpose()?,
        oom_score_adj: a.oom_score_adj.unwrap_or(0),
        init: a.init,
        ipc_host: host_mode("ipc", a.ipc.as_deref(), &["private", "shareable", "none"])?,
        pid_host: host_mode("pid", a.pid.as_deref(), &["private"])?,
        uts_host: host_mode("uts", a.uts.as_deref(), &["private"])?,
        healthcheck: healthcheck(a)?,
        mounts: mounts(a)?,
        volumes_from: a.volumes_from.clone(),
        ..Default::default()
    };
    security(&a.security_opt, &mut req)?;
    // The engine's rules (its create checks them again), before any pull: dockerd refuses a
    // bad request before it looks for the image.
    doca_engine::containers::check_create(&req).map_err(|e| Failure::new(crate::exit::code(e.kind(), verb), e.to_string()))?;
    if req.network == NetworkMode::Host && (!req.publish.is_empty() || req.publish_all) {
        eprintln!("WARNING: Published ports are discarded when using host network mode");
    }
    Ok(req)
}

/// `-m`, `--cpus`, ... as docker parses them; a bad value is an invalid argument of `verb` (125 for
/// run/create, 1 for update, as docker's CLI).
pub fn resources(a: &ResourceArgs, verb: Verb) -> Result<Resources, Failure> {
    let code = crate::exit::code(doca_engine::ErrorKind::InvalidArgument, verb);
    let size = |flag: &str, v: &Option<String>| -> Result<i64, Failure> {
        match v.as_deref() {
            None => Ok(0),
            Some("-1") => Ok(-1),
            Some(s) => ram_in_bytes(s).map_err(|e| Failure::new(code, format!("invalid argument \"{s}\" for \"{flag}\" flag: {e}"))),
        }
    };
    let nano_cpus = match &a.cpus {
        None => 0,
        Some(c) => {
            let f: f64 = c.parse().map_err(|_| {
                Failure::new(code, format!("invalid argument \"{c}\" for \"--cpus\" flag: failed to parse {c} as a rational number"))
            })?;
            (f * 1e9).round() as i64
        }
    };
    Ok(Resources {
        memory: size("--memory", &a.memory)?,
        memory_swap: size("--memory-swap", &a.memory_swap)?,
        memory_reservation: size("--memory-reservation", &a.memory_reservation)?,
        nano_cpus,
        cpu_shares: a.cpu_shares.unwrap_or(0),
        cpu_quota: a.cpu_quota.unwrap_or(0),
        cpu_period: a.cpu_period.unwrap_or(0),
        cpuset_cpus: a.cpuset_cpus.clone().unwrap_or_default(),
        cpuset_mems: a.cpuset_mems.clone().unwrap_or_default(),
        pids_limit: a.pids_limit.unwrap_or(0),
        ..Default::default()
    })
}

/// docker's detach keys: "ctrl-p,ctrl-q" (the default), letters, "ctrl-@" ... "ctrl-_".
pub fn detach_keys(spec: Option<&str>) -> Result<Vec<u8>, Failure> {
    doca_engine::containers::DetachKeys::parse(spec).map(|k| k.keys().to_vec()).map_err(|e| usage(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_entries_take_the_callers_value_for_bare_names() {
        let mut out = Vec::new();
        env_entry("A=1", &mut out);
        env_entry("PATH", &mut out);
        env_entry("DOCA_SURELY_UNSET_VAR", &mut out);
        assert_eq!(out.len(), 2);
        assert!(out[1].starts_with("PATH=/"));
    }
}
