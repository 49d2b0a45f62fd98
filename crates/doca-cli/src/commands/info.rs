//! `doca info [--format]`: docker's `info` text (its Server section, from this store and host),
//! warnings on stderr as docker prints them; `--format` sees docker's `Info` fields
//! (`{{.ServerVersion}}`, `{{.CgroupVersion}}`, `{{json .}}`).

use crate::cli::FormatArgs;
use crate::output::{print, Format};
use crate::units::bytes_size;
use crate::CmdResult;
use doca_engine::Engine;

pub fn run(e: &mut Engine, a: FormatArgs) -> CmdResult {
    let i = e.info()?;
    if let Some(f) = &a.format {
        let value = serde_json::to_value(&i).expect("info serializes");
        return print(&Format::parse(f)?.render(&serde_json::Value::Null, &[value])?);
    }
    let mut o = String::from("Client:\n Context:    default\n Debug Mode: false\n\nServer:\n");
    let kv = |o: &mut String, indent: usize, k: &str, v: &str| o.push_str(&format!("{:indent$}{k}: {v}\n", ""));
    kv(&mut o, 1, "Containers", &i.containers.to_string());
    kv(&mut o, 2, "Running", &i.containers_running.to_string());
    kv(&mut o, 2, "Paused", &i.containers_paused.to_string());
    kv(&mut o, 2, "Stopped", &i.containers_stopped.to_string());
    kv(&mut o, 1, "Images", &i.images.to_string());
    kv(&mut o, 1, "Server Version", &i.server_version);
    kv(&mut o, 1, "Storage Driver", &i.driver);
    for [k, v] in &i.driver_status {
        kv(&mut o, 2, k, v);
    }
    kv(&mut o, 1, "Logging Driver", &i.logging_driver);
    kv(&mut o, 1, "Cgroup Driver", &i.cgroup_driver);
    kv(&mut o, 1, "Cgroup Version", &i.cgroup_version);
    o.push_str(" Plugins:\n");
    kv(&mut o, 2, "Volume", &i.plugins.volume.join(" "));
    kv(&mut o, 2, "Network", &i.plugins.network.join(" "));
    kv(&mut o, 2, "Log", &i.plugins.log.join(" "));
    kv(&mut o, 1, "Runtimes", &i.runtimes.keys().cloned().collect::<Vec<_>>().join(" "));
    kv(&mut o, 1, "Default Runtime", &i.default_runtime);
    o.push_str(" Security Options:\n");
    for opt in &i.security_options {
        // "name=seccomp,profile=builtin" as docker prints it: the name, then its options.
        let mut parts = opt.split(',');
        o.push_str(&format!("  {}\n", parts.next().unwrap_or("").trim_start_matches("name=")));
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                let mut c = k.chars();
                let k: String = c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default();
                o.push_str(&format!("   {k}: {v}\n"));
            }
        }
    }
    kv(&mut o, 1, "Kernel Version", &i.kernel_version);
    kv(&mut o, 1, "Operating System", &i.operating_system);
    kv(&mut o, 1, "OSType", &i.os_type);
    kv(&mut o, 1, "Architecture", &i.architecture);
    kv(&mut o, 1, "CPUs", &i.ncpu.to_string());
    kv(&mut o, 1, "Total Memory", &bytes_size(i.mem_total));
    kv(&mut o, 1, "Name", &i.name);
    kv(&mut o, 1, "Docker Root Dir", &i.docker_root_dir);
    kv(&mut o, 1, "Debug Mode", "false");
    for (k, v) in [("HTTP Proxy", &i.http_proxy), ("HTTPS Proxy", &i.https_proxy), ("No Proxy", &i.no_proxy)] {
        if !v.is_empty() {
            kv(&mut o, 1, k, v);
        }
    }
    kv(&mut o, 1, "Registry", &i.index_server_address);
    o.push_str(" Labels:\n");
    o.push_str(" Experimental: false\n Insecure Registries:\n");
    for r in i.registry_config.insecure_registries.iter().chain(&i.registry_config.insecure_registry_cidrs) {
        o.push_str(&format!("  {r}\n"));
    }
    if !i.registry_config.mirrors.is_empty() {
        o.push_str(" Registry Mirrors:\n");
        for m in &i.registry_config.mirrors {
            o.push_str(&format!("  {m}\n"));
        }
    }
    o.push_str(&format!(" Live Restore Enabled: {}\n\n", i.live_restore_enabled));
    print(&o)?;
    for w in &i.warnings {
        eprintln!("{w}");
    }
    Ok(())
}
