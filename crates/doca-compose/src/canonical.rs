//! `doca compose config`: the project as `docker compose config` prints it. Every short syntax
//! in its long form, the defaults filled in, paths absolute, resources named, `env_file`s read
//! into `environment`, and the dependencies `links`, `volumes_from` and `network_mode:
//! service:` imply added to `depends_on`: compose-go's transform (`transform/canonical.go`),
//! defaults (`transform/defaults.go`) and normalize (`loader/normalize.go`) passes. Keys come in
//! the order of compose-go's types, which is the order its YAML encoder prints them; a zero
//! value is left out where the type says `omitempty`.

use crate::model::{key_values, split_words, text, ModelError};
use crate::service::{duration_ns, host_path, nano_cpus, size};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::Path;

/// What the canonical form needs besides the merged tree.
pub struct ConfigRequest<'a> {
    pub name: &'a str,
    pub dir: &'a Path,
    /// The project's environment (the shell over `.env`): `environment: [KEY]` takes its value
    /// from here, and so do `env_file`s' own references.
    pub env: &'a BTreeMap<String, String>,
    /// The services the active profiles enable, by name.
    pub services: &'a [String],
}

fn err(path: &str, message: impl Into<String>) -> ModelError {
    ModelError { path: path.to_string(), message: message.into() }
}

/// compose-go's `ServiceConfig` fields in declaration order (`types/types.go`).
const SERVICE: &[&str] = &[
    "profiles",
    "annotations",
    "attach",
    "build",
    "develop",
    "blkio_config",
    "cap_add",
    "cap_drop",
    "cgroup_parent",
    "cgroup",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "cpus",
    "cpuset",
    "cpu_shares",
    "command",
    "configs",
    "container_name",
    "credential_spec",
    "depends_on",
    "deploy",
    "device_cgroup_rules",
    "devices",
    "dns",
    "dns_opt",
    "dns_search",
    "dockerfile",
    "domainname",
    "entrypoint",
    "provider",
    "environment",
    "env_file",
    "expose",
    "extends",
    "external_links",
    "extra_hosts",
    "group_add",
    "gpus",
    "hostname",
    "healthcheck",
    "image",
    "init",
    "ipc",
    "isolation",
    "labels",
    "label_file",
    "links",
    "logging",
    "log_driver",
    "log_opt",
    "mem_limit",
    "mem_reservation",
    "memswap_limit",
    "mem_swappiness",
    "mac_address",
    "models",
    "net",
    "network_mode",
    "networks",
    "oom_kill_disable",
    "oom_score_adj",
    "pid",
    "pids_limit",
    "platform",
    "ports",
    "privileged",
    "pull_policy",
    "read_only",
    "restart",
    "runtime",
    "scale",
    "secrets",
    "security_opt",
    "shm_size",
    "stdin_open",
    "stop_grace_period",
    "stop_signal",
    "storage_opt",
    "sysctls",
    "tmpfs",
    "tty",
    "ulimits",
    "use_api_socket",
    "user",
    "userns_mode",
    "uts",
    "volume_driver",
    "volumes",
    "volumes_from",
    "working_dir",
    "pre_start",
    "post_start",
    "pre_stop",
];
/// The service fields that are pointers in compose-go: kept when false, zero or empty.
const SERVICE_POINTERS: &[&str] =
    &["attach", "init", "scale", "command", "entrypoint", "build", "deploy", "healthcheck", "stop_grace_period"];
const BUILD: &[&str] = &[
    "context",
    "dockerfile",
    "dockerfile_inline",
    "entitlements",
    "args",
    "provenance",
    "sbom",
    "ssh",
    "labels",
    "cache_from",
    "cache_to",
    "no_cache",
    "no_cache_filter",
    "additional_contexts",
    "pull",
    "extra_hosts",
    "isolation",
    "network",
    "target",
    "secrets",
    "shm_size",
    "tags",
    "ulimits",
    "platforms",
    "privileged",
];
const PORT: &[&str] = &["name", "mode", "host_ip", "target", "published", "protocol", "app_protocol"];
const MOUNT: &[&str] = &["type", "source", "target", "read_only", "consistency", "bind", "volume", "tmpfs", "image"];
const MOUNT_POINTERS: &[&str] = &["bind", "volume", "tmpfs", "image"];
const BIND: &[&str] = &["selinux", "propagation", "create_host_path", "recursive"];
const VOLUME_OPTS: &[&str] = &["labels", "nocopy", "subpath"];
const TMPFS: &[&str] = &["size", "mode"];
const DEPENDENCY: &[&str] = &["condition", "restart", "required"];
const HEALTHCHECK: &[&str] = &["test", "timeout", "interval", "retries", "start_period", "start_interval", "disable"];
const HEALTHCHECK_POINTERS: &[&str] = &["timeout", "interval", "retries", "start_period", "start_interval"];
const DEPLOY: &[&str] =
    &["mode", "replicas", "labels", "update_config", "rollback_config", "resources", "restart_policy", "placement", "endpoint_mode"];
const RESOURCES: &[&str] = &["limits", "reservations"];
const RESOURCE: &[&str] = &["cpus", "memory", "pids", "devices", "generic_resources"];
const RESTART_POLICY: &[&str] = &["condition", "delay", "max_attempts", "window"];
const UPDATE: &[&str] = &["parallelism", "delay", "failure_action", "monitor", "max_failure_ratio", "order"];
const LOGGING: &[&str] = &["driver", "options"];
const SERVICE_NETWORK: &[&str] = &[
    "aliases",
    "driver_opts",
    "gw_priority",
    "interface_name",
    "ipv4_address",
    "ipv6_address",
    "link_local_ips",
    "mac_address",
    "priority",
];
const FILE_REF: &[&str] = &["source", "target", "uid", "gid", "mode"];
const DEVICE: &[&str] = &["source", "target", "permissions"];
const NETWORK: &[&str] =
    &["name", "driver", "driver_opts", "ipam", "external", "internal", "attachable", "labels", "enable_ipv4", "enable_ipv6"];
const IPAM: &[&str] = &["driver", "config", "options"];
const IPAM_POOL: &[&str] = &["subnet", "gateway", "ip_range", "aux_addresses"];
const VOLUME: &[&str] = &["name", "driver", "driver_opts", "external", "labels"];
const FILE_OBJECT: &[&str] = &["name", "file", "environment", "content", "external", "labels", "driver", "driver_opts", "template_driver"];

/// Go's zero value, which `omitempty` leaves out.
fn is_zero(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
    }
}

/// A struct as compose-go's encoder prints it: `order`'s keys first, in that order, without
/// zero values (except `pointers`, left out only when null); then the `x-` extensions, sorted.
fn ordered(mut m: Map<String, Value>, order: &[&str], pointers: &[&str]) -> Value {
    let mut out = Map::new();
    for k in order {
        if let Some(v) = m.remove(*k) {
            if if pointers.contains(k) { !v.is_null() } else { !is_zero(&v) } {
                out.insert((*k).to_string(), v);
            }
        }
    }
    let mut rest: Vec<(String, Value)> = m.into_iter().collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    out.extend(rest);
    Value::Object(out)
}

/// A Go map as its encoder prints it: keys sorted.
fn sorted(m: Map<String, Value>) -> Value {
    let mut v: Vec<(String, Value)> = m.into_iter().collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(v.into_iter().collect())
}

/// A mapping (`labels`, `sysctls`, `driver_opts`, ...) from its list or map form, values as
/// text, keys sorted.
fn mapping(v: &Value, path: &str) -> Result<Value, ModelError> {
    Ok(Value::Object(key_values(v, path)?.into_iter().map(|(k, v)| (k, Value::String(v.unwrap_or_default()))).collect()))
}

/// A string or a list of strings, as a list.
fn string_list(v: &Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.iter().map(|x| Value::String(text(x))).collect()),
        Value::Null => Value::Null,
        other => json!([text(other)]),
    }
}

/// A size as compose-go's `UnitBytes` prints it: the number of bytes, as a string.
fn bytes(v: &Value, path: &str) -> Result<Value, ModelError> {
    Ok(Value::String(size(v, path)?.to_string()))
}

/// A duration as Go's `time.Duration.String` prints it (`1m30s`, `500ms`, `1h0m0s`).
pub fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let u = ns.unsigned_abs();
    let frac = |v: u64, digits: u32| {
        let unit = 10u64.pow(digits);
        let f = format!("{:0width$}", v % unit, width = digits as usize);
        let f = f.trim_end_matches('0');
        if f.is_empty() {
            format!("{}", v / unit)
        } else {
            format!("{}.{f}", v / unit)
        }
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}\u{b5}s", frac(u, 3));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 6));
    }
    let secs = frac(u % 60_000_000_000, 9);
    let mins = u / 60_000_000_000;
    match (mins / 60, mins % 60) {
        (0, 0) => format!("{sign}{secs}s"),
        (0, m) => format!("{sign}{m}m{secs}s"),
        (h, m) => format!("{sign}{h}h{m}m{secs}s"),
    }
}

fn duration(v: &Value, path: &str) -> Result<Value, ModelError> {
    Ok(Value::String(go_duration(duration_ns(Some(&text(v)), path)?)))
}

/// A number of CPUs as compose-go's float prints it (`0.5`, `2`).
fn cpus(v: &Value, path: &str) -> Result<Value, ModelError> {
    let n = nano_cpus(v, path)?;
    Ok(if n % 1_000_000_000 == 0 { json!(n / 1_000_000_000) } else { json!(n as f64 / 1e9) })
}

/// Short port syntax (`127.0.0.1:8080-8081:80-81/udp`) as compose-go's long entries: one per
/// container port, in the order of their `port/proto` keys as strings (nat.ParsePortSpecs).
fn ports(v: &Value, path: &str) -> Result<Value, ModelError> {
    let Value::Array(items) = v else { return Err(err(path, "must be a list")) };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = format!("{path}[{i}]");
        match item {
            Value::Object(m) => {
                let mut m = m.clone();
                m.entry("mode").or_insert_with(|| json!("ingress"));
                m.entry("protocol").or_insert_with(|| json!("tcp"));
                if let Some(t) = m.get("target").map(text) {
                    m.insert("target".into(), json!(t.parse::<u32>().map_err(|_| err(&p, format!("invalid target port {t:?}")))?));
                }
                if let Some(pb) = m.get("published").map(text) {
                    m.insert("published".into(), Value::String(pb));
                }
                out.push(ordered(m, PORT, &[]));
            }
            Value::String(_) | Value::Number(_) => {
                let spec = text(item);
                let mut bindings = doca_engine::parse_publish(&spec).map_err(|e| err(&p, format!("invalid port {spec:?}: {e}")))?;
                bindings.sort_by_key(|b| b.container.to_string());
                for b in bindings {
                    let published = match (b.host_port_start, b.host_port_end) {
                        (0, _) => String::new(),
                        (a, z) if a == z => a.to_string(),
                        (a, z) => format!("{a}-{z}"),
                    };
                    let mut m = Map::new();
                    m.insert("mode".into(), json!("ingress"));
                    m.insert("host_ip".into(), json!(b.host_ip.map(|ip| ip.to_string()).unwrap_or_default()));
                    m.insert("target".into(), json!(b.container.port));
                    m.insert("published".into(), json!(published));
                    m.insert("protocol".into(), json!(b.container.proto.name()));
                    out.push(ordered(m, PORT, &[]));
                }
            }
            _ => return Err(err(&p, "must be a string, a number or a mapping")),
        }
    }
    Ok(Value::Array(out))
}

/// A source compose takes for a host path (format.ParseVolume's isFilePath).
fn is_file_path(s: &str) -> bool {
    s.starts_with(['.', '/', '~'])
}

/// Lexically cleaned, as Go's `path.Clean` (compose cleans mount targets).
pub(crate) fn clean(p: &str) -> String {
    if p.is_empty() {
        return String::new();
    }
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if p.starts_with('/') => {}
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (p.starts_with('/'), joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// One service volume in the long syntax (format.ParseVolume for the short one).
fn mount(req: &ConfigRequest, v: &Value, path: &str) -> Result<Value, ModelError> {
    let mut m = match v {
        Value::Object(m) => m.clone(),
        Value::String(spec) => {
            let parts: Vec<&str> = spec.split(':').collect();
            if parts.iter().any(|p| p.is_empty()) {
                return Err(err(path, format!("invalid spec: {spec}: empty section between colons")));
            }
            let mut m = Map::new();
            let (source, target, opts) = match parts.as_slice() {
                [t] => ("", *t, ""),
                [s, t] => (*s, *t, ""),
                [s, t, o] => (*s, *t, *o),
                _ => return Err(err(path, format!("invalid spec: {spec}: too many colons"))),
            };
            let mut bind = Map::new();
            let mut volume = Map::new();
            for o in opts.split(',').filter(|o| !o.is_empty()) {
                match o {
                    "ro" => {
                        m.insert("read_only".into(), json!(true));
                    }
                    "rw" => {
                        m.insert("read_only".into(), json!(false));
                    }
                    "nocopy" => {
                        volume.insert("nocopy".into(), json!(true));
                    }
                    "z" | "Z" => {
                        bind.insert("selinux".into(), json!(o));
                    }
                    "rprivate" | "private" | "rshared" | "shared" | "rslave" | "slave" => {
                        bind.insert("propagation".into(), json!(o));
                    }
                    _ => {}
                }
            }
            if is_file_path(source) {
                m.insert("type".into(), json!("bind"));
                bind.insert("create_host_path".into(), json!(true));
                m.insert("bind".into(), Value::Object(bind));
            } else {
                m.insert("type".into(), json!("volume"));
                m.insert("volume".into(), Value::Object(volume));
            }
            m.insert("source".into(), json!(source));
            m.insert("target".into(), json!(target));
            m
        }
        _ => return Err(err(path, "must be a string or a mapping")),
    };
    if let Some(t) = m.get("target").and_then(Value::as_str) {
        let t = clean(t);
        m.insert("target".into(), json!(t));
    }
    let kind = m.get("type").and_then(Value::as_str).unwrap_or("").to_string();
    if kind == "bind" {
        if let Some(s) = m.get("source").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            let s = host_path(req.dir, s);
            m.insert("source".into(), json!(s));
        }
        // `create_host_path` defaults to true, and compose-go's OptOut leaves true out.
        let mut bind = m.get("bind").and_then(Value::as_object).cloned().unwrap_or_default();
        if bind.get("create_host_path").and_then(Value::as_bool) == Some(true) {
            bind.remove("create_host_path");
        }
        m.insert("bind".into(), ordered(bind, BIND, &["create_host_path"]));
    }
    if let Some(Value::Object(vo)) = m.get("volume").cloned() {
        m.insert("volume".into(), ordered(vo, VOLUME_OPTS, &[]));
    }
    if let Some(Value::Object(t)) = m.get("tmpfs").cloned() {
        let mut t = t;
        if let Some(s) = t.get("size").cloned() {
            t.insert("size".into(), bytes(&s, &format!("{path}.tmpfs.size"))?);
        }
        m.insert("tmpfs".into(), ordered(t, TMPFS, &[]));
    }
    Ok(ordered(m, MOUNT, MOUNT_POINTERS))
}

/// `depends_on` as a mapping, each entry with its condition and `required`.
fn depends_on(v: &Value, path: &str) -> Result<Map<String, Value>, ModelError> {
    let mut out = Map::new();
    match v {
        Value::Null => {}
        Value::Array(a) => {
            for n in a {
                let n = n.as_str().ok_or_else(|| err(path, "must name services"))?;
                out.insert(n.to_string(), json!({"condition": "service_started", "required": true}));
            }
        }
        Value::Object(m) => {
            for (k, d) in m {
                let mut d = d.as_object().cloned().unwrap_or_default();
                d.entry("condition").or_insert_with(|| json!("service_started"));
                d.entry("required").or_insert_with(|| json!(true));
                out.insert(k.clone(), Value::Object(d));
            }
        }
        _ => return Err(err(path, "must be a list or a mapping")),
    }
    Ok(out)
}

fn healthcheck(v: &Value, path: &str) -> Result<Value, ModelError> {
    let mut m = v.as_object().cloned().unwrap_or_default();
    // A string test is a shell command (types.HealthCheckTest).
    if let Some(Value::String(s)) = m.get("test").cloned() {
        m.insert("test".into(), json!(["CMD-SHELL", s]));
    }
    for k in ["timeout", "interval", "start_period", "start_interval"] {
        if let Some(d) = m.get(k).cloned() {
            m.insert(k.into(), duration(&d, &format!("{path}.{k}"))?);
        }
    }
    Ok(ordered(m, HEALTHCHECK, HEALTHCHECK_POINTERS))
}

fn deploy(v: &Value, path: &str) -> Result<Value, ModelError> {
    let mut m = v.as_object().cloned().unwrap_or_default();
    if let Some(l) = m.get("labels").cloned() {
        m.insert("labels".into(), mapping(&l, &format!("{path}.labels"))?);
    }
    if let Some(Value::Object(res)) = m.get("resources").cloned() {
        let mut res = res;
        for part in ["limits", "reservations"] {
            if let Some(Value::Object(r)) = res.get(part).cloned() {
                let mut r = r;
                let p = format!("{path}.resources.{part}");
                if let Some(c) = r.get("cpus").cloned() {
                    r.insert("cpus".into(), cpus(&c, &format!("{p}.cpus"))?);
                }
                if let Some(mem) = r.get("memory").cloned() {
                    r.insert("memory".into(), bytes(&mem, &format!("{p}.memory"))?);
                }
                res.insert(part.into(), ordered(r, RESOURCE, &[]));
            }
        }
        m.insert("resources".into(), ordered(res, RESOURCES, &[]));
    }
    if let Some(Value::Object(rp)) = m.get("restart_policy").cloned() {
        let mut rp = rp;
        for k in ["delay", "window"] {
            if let Some(d) = rp.get(k).cloned() {
                rp.insert(k.into(), duration(&d, &format!("{path}.restart_policy.{k}"))?);
            }
        }
        m.insert("restart_policy".into(), ordered(rp, RESTART_POLICY, &["delay", "max_attempts", "window"]));
    }
    for k in ["update_config", "rollback_config"] {
        if let Some(Value::Object(u)) = m.get(k).cloned() {
            let mut u = u;
            for d in ["delay", "monitor"] {
                if let Some(x) = u.get(d).cloned() {
                    u.insert(d.into(), duration(&x, &format!("{path}.{k}.{d}"))?);
                }
            }
            m.insert(k.into(), ordered(u, UPDATE, &["parallelism"]));
        }
    }
    Ok(ordered(m, DEPLOY, &["replicas"]))
}

/// `extra_hosts` in compose-go's form: `host=ip`, sorted (HostsList.MarshalYAML).
fn extra_hosts(v: &Value, path: &str) -> Result<Value, ModelError> {
    let mut list: Vec<String> = match v {
        Value::Object(m) => m.iter().map(|(k, v)| format!("{k}={}", text(v))).collect(),
        Value::Array(a) => a
            .iter()
            .map(|e| {
                let s = text(e);
                match s.split_once('=').or_else(|| s.split_once(':')) {
                    Some((h, ip)) => Ok(format!("{h}={ip}")),
                    None => Err(err(path, format!("invalid additional host, missing IP: {s}"))),
                }
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(err(path, "must be a list or a mapping")),
    };
    list.sort();
    Ok(json!(list))
}

/// A service's `secrets`/`configs` entry: a name becomes `{source}`; a secret's target
/// defaults to `/run/secrets/<source>`; a mode is printed in octal.
fn file_ref(v: &Value, secret: bool) -> Value {
    let mut m = match v {
        Value::Object(m) => m.clone(),
        other => {
            let mut m = Map::new();
            m.insert("source".into(), Value::String(text(other)));
            m
        }
    };
    if secret && !m.contains_key("target") {
        let t = format!("/run/secrets/{}", m.get("source").map(text).unwrap_or_default());
        m.insert("target".into(), json!(t));
    }
    for k in ["uid", "gid"] {
        if let Some(x) = m.get(k).map(text) {
            m.insert(k.into(), json!(x));
        }
    }
    if let Some(mode) = m.get("mode").cloned() {
        // The parser reads `0440` as the octal number it is; a string is octal text.
        let n = match &mode {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => i64::from_str_radix(s, 8).ok(),
            _ => None,
        };
        if let Some(n) = n {
            m.insert("mode".into(), json!(format!("0{n:o}")));
        }
    }
    ordered(m, FILE_REF, &["mode"])
}

fn build(req: &ConfigRequest, v: &Value, path: &str) -> Result<Value, ModelError> {
    let mut m = match v {
        Value::String(c) => {
            let mut m = Map::new();
            m.insert("context".into(), json!(c));
            m
        }
        Value::Object(m) => m.clone(),
        _ => return Err(err(path, "must be a string or a mapping")),
    };
    let context = m.get("context").map(text).unwrap_or_else(|| ".".into());
    // A remote context (a URL, a git repository) is kept as written.
    let remote = context.contains("://") || context.starts_with("git@");
    m.insert("context".into(), json!(if remote { context } else { host_path(req.dir, &context) }));
    if !m.contains_key("dockerfile") && !m.contains_key("dockerfile_inline") {
        m.insert("dockerfile".into(), json!("Dockerfile"));
    }
    if let Some(a) = m.get("args").cloned() {
        let args = key_values(&a, &format!("{path}.args"))?;
        // A bare `ARG` takes the project environment's value, or is dropped (normalize's resolve).
        let resolved: Map<String, Value> =
            args.into_iter().filter_map(|(k, v)| v.or_else(|| req.env.get(&k).cloned()).map(|v| (k, Value::String(v)))).collect();
        m.insert("args".into(), Value::Object(resolved));
    }
    if let Some(l) = m.get("labels").cloned() {
        m.insert("labels".into(), mapping(&l, &format!("{path}.labels"))?);
    }
    for k in ["cache_from", "cache_to", "tags", "platforms"] {
        if let Some(x) = m.get(k).cloned() {
            m.insert(k.into(), string_list(&x));
        }
    }
    if let Some(s) = m.get("shm_size").cloned() {
        m.insert("shm_size".into(), bytes(&s, &format!("{path}.shm_size"))?);
    }
    Ok(ordered(m, BUILD, &[]))
}

/// A service's environment: its `env_file`s in order, then `environment` over them; a bare
/// key takes the project environment's value, or stays null.
pub(crate) fn environment(
    dir: &Path,
    env: &BTreeMap<String, String>,
    env_file: Option<&Value>,
    environment: Option<&Value>,
    path: &str,
) -> Result<BTreeMap<String, Option<String>>, ModelError> {
    let mut out = BTreeMap::new();
    let files: Vec<(String, bool)> = match env_file {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(f)) => vec![(f.clone(), true)],
        Some(Value::Array(a)) => a
            .iter()
            .map(|e| match e {
                Value::Object(o) => {
                    (o.get("path").map(text).unwrap_or_default(), o.get("required").and_then(Value::as_bool).unwrap_or(true))
                }
                other => (text(other), true),
            })
            .collect(),
        Some(_) => return Err(err(&format!("{path}.env_file"), "must be a path or a list")),
    };
    for (f, required) in files {
        let file = host_path(dir, &f);
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => continue,
            Err(e) => return Err(err(&format!("{path}.env_file"), format!("{file}: {e}"))),
        };
        let lookup = |k: &str| env.get(k).cloned();
        for (k, v) in crate::dotenv::parse(&text, &lookup).map_err(|e| err(&format!("{path}.env_file"), format!("{file}: {e}")))? {
            out.insert(k, Some(v));
        }
    }
    if let Some(e) = environment {
        for (k, v) in key_values(e, &format!("{path}.environment"))? {
            out.insert(k.clone(), v.or_else(|| env.get(&k).cloned()));
        }
    }
    Ok(out)
}

fn service(req: &ConfigRequest, name: &str, def: &Value) -> Result<Value, ModelError> {
    let path = format!("services.{name}");
    let p = path.as_str();
    let src = def.as_object().cloned().unwrap_or_default();
    let mut m = Map::new();
    for (k, v) in &src {
        let kp = format!("{p}.{k}");
        let out = match k.as_str() {
            "build" => build(req, v, &kp)?,
            "command" | "entrypoint" => match v {
                Value::String(s) => json!(split_words(s)),
                other => other.clone(),
            },
            // Read with env_file below.
            "environment" | "env_file" | "extends" => continue,
            "labels" | "sysctls" | "annotations" | "storage_opt" | "log_opt" => mapping(v, &kp)?,
            "ports" => ports(v, &kp)?,
            "expose" | "dns" | "dns_search" | "tmpfs" | "group_add" => string_list(v),
            "volumes" => {
                let Value::Array(a) = v else { return Err(err(&kp, "must be a list")) };
                Value::Array(a.iter().enumerate().map(|(i, x)| mount(req, x, &format!("{kp}[{i}]"))).collect::<Result<_, _>>()?)
            }
            "networks" => match v {
                Value::Array(a) => sorted(a.iter().map(|n| (text(n), Value::Null)).collect()),
                Value::Object(o) => sorted(
                    o.iter()
                        .map(|(n, x)| {
                            let x = match x {
                                Value::Object(c) => ordered(c.clone(), SERVICE_NETWORK, &[]),
                                other => other.clone(),
                            };
                            (n.clone(), x)
                        })
                        .collect(),
                ),
                other => other.clone(),
            },
            "depends_on" => Value::Object(depends_on(v, &kp)?),
            "healthcheck" => healthcheck(v, &kp)?,
            "deploy" => deploy(v, &kp)?,
            "extra_hosts" => extra_hosts(v, &kp)?,
            "devices" => {
                let Value::Array(a) = v else { return Err(err(&kp, "must be a list")) };
                Value::Array(
                    a.iter()
                        .map(|d| match d {
                            Value::String(s) => {
                                let parts: Vec<&str> = s.split(':').collect();
                                let (src, dst, perms) = match parts.as_slice() {
                                    [s] => (*s, *s, "rwm"),
                                    [s, t] => (*s, *t, "rwm"),
                                    [s, t, pm] => (*s, *t, *pm),
                                    _ => return Err(err(&kp, format!("confusing device mapping, please use long syntax: {s}"))),
                                };
                                Ok(ordered(
                                    json!({"source": src, "target": dst, "permissions": perms}).as_object().cloned().unwrap_or_default(),
                                    DEVICE,
                                    &[],
                                ))
                            }
                            other => Ok(other.clone()),
                        })
                        .collect::<Result<_, _>>()?,
                )
            }
            "secrets" | "configs" => {
                let Value::Array(a) = v else { return Err(err(&kp, "must be a list")) };
                Value::Array(a.iter().map(|x| file_ref(x, k == "secrets")).collect())
            }
            "mem_limit" | "mem_reservation" | "memswap_limit" | "shm_size" => bytes(v, &kp)?,
            "cpus" => cpus(v, &kp)?,
            "stop_grace_period" => duration(v, &kp)?,
            "pull_policy" if v.as_str() == Some("if_not_present") => json!("missing"),
            "ulimits" => sorted(v.as_object().cloned().unwrap_or_default()),
            "logging" => {
                let mut l = v.as_object().cloned().unwrap_or_default();
                if let Some(o) = l.get("options").cloned() {
                    l.insert("options".into(), mapping(&o, &format!("{kp}.options"))?);
                }
                ordered(l, LOGGING, &[])
            }
            _ => v.clone(),
        };
        m.insert(k.clone(), out);
    }
    let env = environment(req.dir, req.env, src.get("env_file"), src.get("environment"), p)?;
    if !env.is_empty() {
        m.insert("environment".into(), Value::Object(env.into_iter().map(|(k, v)| (k, v.map_or(Value::Null, Value::String))).collect()));
    }
    // normalize.go: the dependencies links, shared namespaces and volumes_from imply.
    let mut deps = m.remove("depends_on").and_then(|d| d.as_object().cloned()).unwrap_or_default();
    let mut implied = |svc: &str, restart: bool| {
        deps.entry(svc.to_string()).or_insert_with(|| json!({"condition": "service_started", "restart": restart, "required": true}));
    };
    for l in src.get("links").and_then(Value::as_array).into_iter().flatten() {
        let l = text(l);
        implied(l.split(':').next().unwrap_or(&l), true);
    }
    for ns in ["network_mode", "ipc", "pid", "uts", "cgroup"] {
        if let Some(svc) = src.get(ns).and_then(Value::as_str).and_then(|r| r.strip_prefix("service:")) {
            implied(svc, true);
        }
    }
    for vf in src.get("volumes_from").and_then(Value::as_array).into_iter().flatten() {
        let vf = text(vf);
        if !vf.starts_with("container:") {
            implied(vf.split(':').next().unwrap_or(&vf), false);
        }
    }
    if !deps.is_empty() {
        let deps: Map<String, Value> = deps
            .into_iter()
            .map(|(k, d)| (k, d.as_object().cloned().map(|d| ordered(d, DEPENDENCY, &["required"])).unwrap_or(d)))
            .collect();
        m.insert("depends_on".into(), sorted(deps));
    }
    // A service joins the default network unless it names others or a network mode.
    if !m.contains_key("network_mode") && m.get("networks").is_none_or(is_zero) {
        m.insert("networks".into(), json!({"default": null}));
    }
    Ok(ordered(m, SERVICE, SERVICE_POINTERS))
}

/// The project in its canonical form, for `config`.
pub fn canonical(tree: &Value, req: &ConfigRequest) -> Result<Value, ModelError> {
    let empty = Map::new();
    let section = |k: &str| tree.get(k).and_then(Value::as_object).unwrap_or(&empty);
    let mut services = Map::new();
    for (name, def) in section("services") {
        if req.services.contains(name) {
            services.insert(name.clone(), service(req, name, def)?);
        }
    }
    let uses_default = services.values().any(|s| s.get("networks").and_then(|n| n.get("default")).is_some());
    let mut networks = section("networks").clone();
    if uses_default && !networks.contains_key("default") {
        networks.insert("default".into(), Value::Null);
    }
    // Resources are named `<project>_<key>` unless `name:` says otherwise, or external ones by key.
    let named = |key: &str, v: &Value, order: &[&str], path: &str| -> Result<Value, ModelError> {
        let mut m = v.as_object().cloned().unwrap_or_default();
        if !m.contains_key("name") {
            let external = m.get("external").and_then(Value::as_bool).unwrap_or(false);
            let n = if external { key.to_string() } else { format!("{}_{key}", req.name) };
            m.insert("name".into(), json!(n));
        }
        for k in ["labels", "driver_opts"] {
            if let Some(l) = m.get(k).cloned() {
                m.insert(k.into(), mapping(&l, &format!("{path}.{key}.{k}"))?);
            }
        }
        if let Some(f) = m.get("file").map(text) {
            m.insert("file".into(), json!(host_path(req.dir, &f)));
        }
        if let Some(Value::Object(ipam)) = m.get("ipam").cloned() {
            let mut ipam = ipam;
            if let Some(Value::Array(pools)) = ipam.get("config").cloned() {
                let pools = pools.into_iter().map(|p| p.as_object().cloned().map(|p| ordered(p, IPAM_POOL, &[])).unwrap_or(p)).collect();
                ipam.insert("config".into(), Value::Array(pools));
            }
            m.insert("ipam".into(), ordered(ipam, IPAM, &[]));
        }
        Ok(ordered(m, order, &["enable_ipv4", "enable_ipv6"]))
    };
    let resources = |m: &Map<String, Value>, order: &[&str], path: &str| -> Result<Value, ModelError> {
        Ok(sorted(m.iter().map(|(k, x)| Ok((k.clone(), named(k, x, order, path)?))).collect::<Result<_, ModelError>>()?))
    };
    let mut out = Map::new();
    out.insert("name".into(), json!(req.name));
    out.insert("services".into(), sorted(services));
    for (key, m, order) in [
        ("networks", &networks, NETWORK),
        ("volumes", section("volumes"), VOLUME),
        ("secrets", section("secrets"), FILE_OBJECT),
        ("configs", section("configs"), FILE_OBJECT),
    ] {
        if !m.is_empty() {
            out.insert(key.into(), resources(m, order, key)?);
        }
    }
    if let Value::Object(ext) =
        sorted(tree.as_object().into_iter().flatten().filter(|(k, _)| k.starts_with("x-")).map(|(k, v)| (k.clone(), v.clone())).collect())
    {
        out.extend(ext);
    }
    Ok(Value::Object(out))
}

/// The canonical project as `config --format yaml|json` prints it: `$` doubled, as docker
/// compose prints it, so that the output reads back as the same project.
pub fn render(v: &Value, format: &str) -> Result<String, String> {
    let text = match format {
        "json" => format!("{}\n", serde_json::to_string_pretty(v).map_err(|e| e.to_string())?),
        "yaml" => crate::yaml(v)?,
        f => return Err(format!("unsupported format {f:?}: yaml or json")),
    };
    Ok(text.replace('$', "$$"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::{load, ProjectRequest};

    /// Golden cases, the whole road from files to `config`'s output: `testdata/<case>/` holds
    /// the compose files (`compose.yaml`, then the others in name order, as `-f` would give
    /// them), `env` (the shell's variables), optionally `.env`, `args` (`-p NAME`, `--profile
    /// P`), and `expected.yaml` (what `config` prints, the case's directory written `/CASE`)
    /// with `warnings.txt` (what it warns, if anything), or `expected.err` (the error).
    #[test]
    fn golden_cases() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let mut cases: Vec<_> = std::fs::read_dir(&root).unwrap().flatten().map(|e| e.path()).collect();
        cases.sort();
        assert!(cases.len() >= 10, "{cases:?}");
        for case in cases {
            let read = |f: &str| std::fs::read_to_string(case.join(f)).ok();
            let mut files: Vec<(String, String)> = std::fs::read_dir(&case)
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".yaml") && n != "expected.yaml" || n.ends_with(".yml"))
                .map(|n| (case.join(&n).display().to_string(), read(&n).unwrap()))
                .collect();
            files.sort_by_key(|(n, _)| (!n.ends_with("/compose.yaml"), n.clone()));
            let here = case.display().to_string();
            let none = |_: &str| None;
            let shell: BTreeMap<String, String> =
                read("env").map(|t| crate::dotenv::parse(&t, &none).unwrap().into_iter().collect()).unwrap_or_default();
            let dotenv = read(".env").map(|t| crate::dotenv::parse(&t, &none).unwrap()).unwrap_or_default();
            let args: Vec<String> = read("args").map(|a| a.split_whitespace().map(String::from).collect()).unwrap_or_default();
            let flag = |f: &str| args.windows(2).filter(|w| w[0] == f).map(|w| w[1].clone()).collect::<Vec<_>>();
            let req = ProjectRequest {
                files,
                name: flag("-p").pop(),
                directory_name: case.file_name().unwrap().to_string_lossy().into_owned(),
                shell: shell.clone(),
                dotenv: dotenv.clone(),
                read: None,
            };
            let result = load(&req).map_err(|e| e.to_string()).and_then(|p| {
                let tree = p.model.to_json();
                let mut m = crate::model::model(&tree).map_err(|e| e.to_string())?;
                m.enable_profiles(&flag("--profile"), &[]);
                m.check_dependencies().map_err(|e| e.to_string())?;
                let services: Vec<String> = m.services.iter().map(|(n, _)| n.clone()).collect();
                let mut env: BTreeMap<String, String> = dotenv.iter().cloned().collect();
                env.extend(shell.clone());
                let c = canonical(&tree, &ConfigRequest { name: &p.name, dir: &case, env: &env, services: &services })
                    .map_err(|e| e.to_string())?;
                Ok((render(&c, "yaml").unwrap(), p.warnings.join("\n")))
            });
            let show = |s: &str| s.replace(&here, "/CASE");
            // DOCA_BLESS=1 writes what the code prints, for a new case (to be read before it is
            // committed: a golden file is only as good as its review).
            if std::env::var_os("DOCA_BLESS").is_some() {
                match &result {
                    Ok((got, w)) => {
                        std::fs::write(case.join("expected.yaml"), show(got)).unwrap();
                        if !w.is_empty() {
                            std::fs::write(case.join("warnings.txt"), format!("{}\n", show(w))).unwrap();
                        }
                    }
                    Err(e) => std::fs::write(case.join("expected.err"), format!("{}\n", show(e))).unwrap(),
                }
                continue;
            }
            match (result, read("expected.yaml"), read("expected.err")) {
                (Ok((got, warnings)), Some(want), _) => {
                    assert_eq!(show(&got), want, "case {}", case.display());
                    assert_eq!(show(&warnings), read("warnings.txt").unwrap_or_default().trim_end(), "case {}", case.display());
                }
                (Err(e), _, Some(want)) => assert_eq!(show(&e), want.trim(), "case {}", case.display()),
                (r, _, _) => panic!("case {}: {r:?}", case.display()),
            }
        }
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        for (ns, want) in [
            (0, "0s"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (500_000_000, "500ms"),
            (1_500, "1.5\u{b5}s"),
            (7, "7ns"),
        ] {
            assert_eq!(go_duration(ns), want);
        }
    }

    #[test]
    fn targets_are_cleaned_as_go_cleans_paths() {
        assert_eq!(clean("/data/../x//y/"), "/x/y");
        assert_eq!(clean("a/./b"), "a/b");
        assert_eq!(clean("/.."), "/");
    }
}
