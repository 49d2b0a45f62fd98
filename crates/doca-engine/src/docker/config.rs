//! container.Config (moby api/types/container/config.go): what a container runs, as both
//! container and image inspect print it.

use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exposed_ports: Option<BTreeMap<String, Value>>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args_escaped: Option<bool>,
    pub image: String,
    pub volumes: Option<BTreeMap<String, Value>>,
    pub working_dir: String,
    pub entrypoint: Option<Vec<String>>,
    pub on_build: Option<Vec<String>>,
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<Vec<String>>,
}

impl Config {
    /// An image's `config` as dockerd prints it: every field present, the ones an OCI config
    /// does not carry (Hostname, AttachStdin, ...) from what a docker-built image kept of them.
    pub fn of_image(c: Option<&doca_image::config::ContainerConfig>) -> Config {
        let d = doca_image::config::ContainerConfig::default();
        let c = c.unwrap_or(&d);
        let text = |k: &str| c.extra.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        let flag = |k: &str| c.extra.get(k).and_then(Value::as_bool).unwrap_or(false);
        Config {
            hostname: text("Hostname"),
            domainname: text("Domainname"),
            user: c.user.clone().unwrap_or_default(),
            attach_stdin: flag("AttachStdin"),
            attach_stdout: flag("AttachStdout"),
            attach_stderr: flag("AttachStderr"),
            exposed_ports: c.exposed_ports.clone(),
            tty: flag("Tty"),
            open_stdin: flag("OpenStdin"),
            stdin_once: flag("StdinOnce"),
            env: c.env.clone(),
            cmd: c.cmd.clone(),
            healthcheck: c.healthcheck.clone(),
            args_escaped: c.args_escaped,
            image: text("Image"),
            volumes: c.volumes.clone(),
            working_dir: c.working_dir.clone().unwrap_or_default(),
            entrypoint: c.entrypoint.clone(),
            on_build: c.on_build.clone(),
            labels: c.labels.clone(),
            stop_signal: c.stop_signal.clone(),
            stop_timeout: None,
            shell: c.shell.clone(),
        }
    }
}
