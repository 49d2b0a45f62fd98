//! `doca version [--format]`: docker's two sections. doca has no daemon, so the "server" is the
//! engine in this program and the runtime it drives; `--format` sees docker's shape
//! (`{{.Client.Version}}`, `{{.Server.Version}}`, `{{json .}}`).

use crate::cli::FormatArgs;
use crate::output::{print, Format};
use crate::CmdResult;
use serde_json::json;

pub fn run(a: &FormatArgs) -> CmdResult {
    let v = doca_engine::info::version();
    let os_arch = format!("{}/{}", v.os, v.arch);
    let value = json!({
        "Client": {"Platform": {"Name": "doca"}, "Version": v.version, "Os": v.os, "Arch": v.arch, "Context": "default"},
        "Server": {
            "Platform": {"Name": "doca (daemonless)"},
            "Components": v.components.iter().map(|c| json!({"Name": c.name, "Version": c.version})).collect::<Vec<_>>(),
            "Version": v.version,
            "Os": v.os,
            "Arch": v.arch,
            "KernelVersion": v.kernel_version,
        },
    });
    if let Some(f) = &a.format {
        return print(&Format::parse(f)?.render(&serde_json::Value::Null, &[value])?);
    }
    let line = |indent: &str, k: &str, v: &str| format!("{indent}{:<w$}{v}\n", format!("{k}:"), w = 19 - indent.len());
    let mut out = String::from("Client: doca\n");
    out.push_str(&line(" ", "Version", &v.version));
    out.push_str(&line(" ", "OS/Arch", &os_arch));
    out.push_str(&line(" ", "Context", "default"));
    out.push_str("\nServer: doca (daemonless)\n");
    for c in &v.components {
        out.push_str(&format!(" {}:\n", c.name));
        out.push_str(&line("  ", "Version", &c.version));
        if c.name == "Engine" {
            out.push_str(&line("  ", "OS/Arch", &os_arch));
            out.push_str(&line("  ", "Kernel Version", &v.kernel_version));
        }
    }
    print(&out)
}
