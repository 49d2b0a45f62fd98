//! The typed model of a project (the Compose Specification's service, network and volume
//! definitions), read from the merged, interpolated tree. Every accepted form of a field
//! (`command` as a string or a list, `environment` as a list or a mapping, short and long
//! `ports` and `volumes`, ...) is read into one; an unknown key is refused by name, as
//! compose refuses it.

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ModelError {
    pub path: String,
    pub message: String,
}

fn err(path: impl Into<String>, message: impl Into<String>) -> ModelError {
    ModelError { path: path.into(), message: message.into() }
}

/// A string, or a list of strings (`command`, `entrypoint`, `dns`, `env_file`, `tmpfs`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            StringOrList::One(s) => vec![s],
            StringOrList::Many(v) => v,
        }
    }
}

/// `command`/`entrypoint`: a string is split as a shell would split words (compose's rule);
/// a list is taken as given.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Command {
    Shell(String),
    Exec(Vec<String>),
}

impl Command {
    pub fn argv(&self) -> Vec<String> {
        match self {
            Command::Exec(v) => v.clone(),
            Command::Shell(s) => split_words(s),
        }
    }
}

/// Words as a POSIX shell splits them (quotes and backslashes), without expansions: compose
/// splits a string `command` this way (mattn/go-shellwords).
pub fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' if matches!(chars.peek(), Some('"' | '\\' | '$' | '`')) => cur.push(chars.next().unwrap_or('\\')),
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// A scalar as compose reads it where text is wanted: a string as it is, a number or a boolean
/// as written (`8080`, `true`).
pub fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), String::from)
}

/// `environment`, `labels`, `build.args`, `sysctls`: a mapping, or a list of `KEY=VALUE`.
/// A key without a value is `None` (the environment's value, or unset).
pub fn key_values(v: &Value, path: &str) -> Result<BTreeMap<String, Option<String>>, ModelError> {
    let scalar = |x: &Value| (!x.is_null()).then(|| text(x));
    match v {
        Value::Null => Ok(BTreeMap::new()),
        Value::Object(m) => Ok(m.iter().map(|(k, x)| (k.clone(), scalar(x))).collect()),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                let s = x.as_str().ok_or_else(|| err(path, "must be a list of strings"))?;
                Ok(match s.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (s.to_string(), None),
                })
            })
            .collect(),
        _ => Err(err(path, "must be a mapping or a list")),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Build {
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default)]
    pub dockerfile: Option<String>,
    #[serde(default)]
    pub dockerfile_inline: Option<String>,
    #[serde(default)]
    pub args: Value,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub labels: Value,
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub pull: Option<bool>,
    #[serde(default)]
    pub no_cache: Option<bool>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub cache_from: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum BuildSpec {
    Context(String),
    Full(Box<Build>),
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    #[serde(default)]
    pub test: Option<StringOrList>,
    #[serde(default)]
    pub interval: Option<String>,
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub start_period: Option<String>,
    #[serde(default)]
    pub start_interval: Option<String>,
    #[serde(default)]
    pub retries: Option<u32>,
    #[serde(default)]
    pub disable: bool,
}

/// `depends_on`'s long form for one dependency.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependency {
    #[serde(default = "started")]
    pub condition: String,
    #[serde(default)]
    pub restart: bool,
    #[serde(default = "yes")]
    pub required: bool,
}

fn started() -> String {
    "service_started".into()
}

fn yes() -> bool {
    true
}

/// A service's attachment to one of the project's networks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceNetwork {
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub ipv4_address: Option<String>,
    #[serde(default)]
    pub ipv6_address: Option<String>,
    #[serde(default)]
    pub priority: i64,
}

/// One service, as compose defines it. Fields the engine does not run (yet) are refused by
/// `deny_unknown_fields` rather than ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub image: Option<String>,
    pub build: Option<BuildSpec>,
    pub command: Option<Command>,
    pub entrypoint: Option<Command>,
    #[serde(default)]
    pub environment: Value,
    pub env_file: Option<Value>,
    #[serde(default)]
    pub ports: Vec<Value>,
    #[serde(default)]
    pub expose: Vec<Value>,
    #[serde(default)]
    pub volumes: Vec<Value>,
    #[serde(default)]
    pub volumes_from: Vec<String>,
    #[serde(default)]
    pub networks: Value,
    pub network_mode: Option<String>,
    #[serde(default)]
    pub depends_on: Value,
    pub healthcheck: Option<Healthcheck>,
    pub restart: Option<String>,
    pub container_name: Option<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    #[serde(default)]
    pub labels: Value,
    #[serde(default)]
    pub cap_add: Vec<String>,
    #[serde(default)]
    pub cap_drop: Vec<String>,
    #[serde(default)]
    pub privileged: bool,
    #[serde(default)]
    pub read_only: bool,
    pub tmpfs: Option<StringOrList>,
    pub init: Option<bool>,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<String>,
    #[serde(default)]
    pub extra_hosts: Value,
    pub dns: Option<StringOrList>,
    pub dns_search: Option<StringOrList>,
    #[serde(default)]
    pub dns_opt: Vec<String>,
    #[serde(default)]
    pub tty: bool,
    #[serde(default)]
    pub stdin_open: bool,
    pub mem_limit: Option<Value>,
    pub memswap_limit: Option<Value>,
    pub cpus: Option<Value>,
    pub cpu_shares: Option<i64>,
    pub cpuset: Option<String>,
    pub pids_limit: Option<i64>,
    pub shm_size: Option<Value>,
    pub scale: Option<u32>,
    pub deploy: Option<Value>,
    #[serde(default)]
    pub profiles: Vec<String>,
    #[serde(default)]
    pub sysctls: Value,
    #[serde(default)]
    pub ulimits: BTreeMap<String, Value>,
    #[serde(default)]
    pub security_opt: Vec<String>,
    #[serde(default)]
    pub devices: Vec<String>,
    #[serde(default)]
    pub group_add: Vec<Value>,
    pub logging: Option<Value>,
    pub pull_policy: Option<String>,
    pub platform: Option<String>,
    pub pid: Option<String>,
    pub ipc: Option<String>,
    #[serde(default)]
    pub links: Vec<String>,
    #[serde(default)]
    pub secrets: Vec<Value>,
    #[serde(default)]
    pub configs: Vec<Value>,
    pub mac_address: Option<String>,
    pub oom_score_adj: Option<i32>,
    pub cgroup_parent: Option<String>,
    /// `userns_mode`: "host", or "auto" (doca's: a user namespace of its own).
    pub userns_mode: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    pub driver: Option<String>,
    #[serde(default)]
    pub driver_opts: BTreeMap<String, Value>,
    #[serde(default)]
    pub internal: bool,
    pub enable_ipv6: Option<bool>,
    pub ipam: Option<Value>,
    #[serde(default)]
    pub external: bool,
    pub name: Option<String>,
    #[serde(default)]
    pub labels: Value,
    #[serde(default)]
    pub attachable: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VolumeSpec {
    pub driver: Option<String>,
    #[serde(default)]
    pub driver_opts: BTreeMap<String, Value>,
    #[serde(default)]
    pub external: bool,
    pub name: Option<String>,
    #[serde(default)]
    pub labels: Value,
}

/// A top-level secret or config: where its content comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    pub file: Option<String>,
    pub environment: Option<String>,
    /// Configs only: the content itself.
    pub content: Option<String>,
    #[serde(default)]
    pub external: bool,
    pub name: Option<String>,
    #[serde(default)]
    pub labels: Value,
}

/// The project's model: services in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Model {
    pub services: Vec<(String, Service)>,
    pub networks: BTreeMap<String, NetworkSpec>,
    pub volumes: BTreeMap<String, VolumeSpec>,
    pub secrets: BTreeMap<String, SecretSpec>,
    pub configs: BTreeMap<String, SecretSpec>,
}

impl Model {
    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|(n, _)| n == name).map(|(_, s)| s)
    }

    /// Profiles (Compose Specification, "Profiles"): a service with profiles stays only when
    /// one of them is enabled (`*` enables all); naming a service on the command line enables
    /// its profiles. Services without profiles always stay.
    pub fn enable_profiles(&mut self, profiles: &[String], named: &[String]) {
        let mut active = profiles.to_vec();
        for (n, s) in &self.services {
            if named.contains(n) {
                active.extend(s.profiles.iter().cloned());
            }
        }
        if !active.iter().any(|p| p == "*") {
            self.services.retain(|(_, s)| s.profiles.is_empty() || s.profiles.iter().any(|p| active.contains(p)));
        }
    }

    /// Every service another depends on (`depends_on` that is required, `links`,
    /// `volumes_from`, `network_mode: service:`) is defined and enabled (compose-go's
    /// checkConsistency, run after profiles).
    pub fn check_dependencies(&self) -> Result<(), ModelError> {
        for (name, s) in &self.services {
            let path = format!("services.{name}");
            let mut needed: Vec<String> =
                crate::service::dependencies(s, &path)?.into_iter().filter(|(_, _, required)| *required).map(|(d, _, _)| d).collect();
            needed.extend(s.links.iter().map(|l| l.split(':').next().unwrap_or(l).to_string()));
            needed.extend(
                s.volumes_from.iter().filter(|v| !v.starts_with("container:")).map(|v| v.split(':').next().unwrap_or(v).to_string()),
            );
            needed.extend(s.network_mode.as_deref().and_then(|m| m.strip_prefix("service:")).map(String::from));
            if let Some(d) = needed.iter().find(|d| self.service(d).is_none()) {
                return Err(err(path, format!("service {name:?} depends on undefined service {d:?}: invalid compose project")));
            }
        }
        Ok(())
    }
}

/// serde's message for an unknown field, in compose's words.
fn field_error(path: &str, e: &serde_json::Error) -> ModelError {
    let msg = e.to_string();
    match msg.strip_prefix("unknown field `").and_then(|r| r.split_once('`')) {
        Some((field, _)) => err(path, format!("additional property {field} is not allowed")),
        None => err(path, msg),
    }
}

/// A definition without its `x-` extension keys (allowed anywhere, meaning nothing to doca).
fn without_extensions(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().filter(|(k, _)| !k.starts_with("x-")).map(|(k, x)| (k.clone(), x.clone())).collect()),
        other => other.clone(),
    }
}

fn named<T: for<'de> Deserialize<'de> + Default>(v: Option<&Value>, path: &str) -> Result<BTreeMap<String, T>, ModelError> {
    let mut out = BTreeMap::new();
    if let Some(Value::Object(m)) = v {
        for (k, x) in m {
            let item = if x.is_null() {
                T::default()
            } else {
                serde_json::from_value(without_extensions(x)).map_err(|e| field_error(&format!("{path}.{k}"), &e))?
            };
            out.insert(k.clone(), item);
        }
    }
    Ok(out)
}

/// The typed model of a merged, interpolated project tree.
pub fn model(tree: &Value) -> Result<Model, ModelError> {
    let mut services = Vec::new();
    match tree.get("services") {
        None | Some(Value::Null) => {}
        Some(Value::Object(m)) => {
            for (name, v) in m {
                let path = format!("services.{name}");
                let s: Service = if v.is_null() {
                    Service::default()
                } else {
                    serde_json::from_value(without_extensions(v)).map_err(|e| field_error(&path, &e))?
                };
                if s.image.is_none() && s.build.is_none() {
                    return Err(err(path, "has neither an image nor a build context specified: at least one must be provided"));
                }
                services.push((name.clone(), s));
            }
        }
        Some(_) => return Err(err("services", "must be a mapping")),
    }
    Ok(Model {
        services,
        networks: named(tree.get("networks"), "networks")?,
        volumes: named(tree.get("volumes"), "volumes")?,
        secrets: named(tree.get("secrets"), "secrets")?,
        configs: named(tree.get("configs"), "configs")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_split_as_a_shell_splits_them() {
        assert_eq!(split_words(r#"sh -c 'echo "a b"; exit 3'"#), ["sh", "-c", r#"echo "a b"; exit 3"#]);
        assert_eq!(split_words(r#"echo "x \"y\"" z\ w ''"#), ["echo", r#"x "y""#, "z w", ""]);
        assert!(split_words("   ").is_empty());
    }

    #[test]
    fn naming_a_service_enables_its_profiles() {
        let tree = serde_json::json!({"services": {
            "app": {"image": "a"},
            "debug": {"image": "d", "profiles": ["debug"]},
            "shell": {"image": "s", "profiles": ["debug", "tools"]},
            "bench": {"image": "b", "profiles": ["bench"]}
        }});
        let names = |m: &Model| m.services.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
        let mut m = model(&tree).unwrap();
        m.enable_profiles(&[], &[]);
        assert_eq!(names(&m), ["app"]);
        let mut m = model(&tree).unwrap();
        m.enable_profiles(&[], &["debug".into()]);
        assert_eq!(names(&m), ["app", "debug", "shell"]);
        let mut m = model(&tree).unwrap();
        m.enable_profiles(&["*".into()], &[]);
        assert_eq!(names(&m).len(), 4);
    }

    #[test]
    fn services_are_typed_and_unknown_keys_named() {
        let tree = serde_json::json!({"services": {"web": {"image": "x", "x-note": 1, "command": "serve --port 80", "environment": ["A=1", "B"]}}});
        let m = model(&tree).unwrap();
        let web = m.service("web").unwrap();
        assert_eq!(web.command.as_ref().unwrap().argv(), ["serve", "--port", "80"]);
        let env = key_values(&web.environment, "services.web.environment").unwrap();
        assert_eq!(env.get("A"), Some(&Some("1".into())));
        assert_eq!(env.get("B"), Some(&None));
        let bad = model(&serde_json::json!({"services": {"web": {"image": "x", "imagee": "y"}}})).unwrap_err();
        assert_eq!(bad.to_string(), "services.web: additional property imagee is not allowed");
        let none = model(&serde_json::json!({"services": {"web": {"command": "x"}}})).unwrap_err();
        assert!(none.to_string().contains("neither an image nor a build context"), "{none}");
    }
}
