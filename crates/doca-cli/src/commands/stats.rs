//! `doca stats`: CPU, memory and pids of running containers from their cgroups; `--no-stream`
//! prints once, otherwise the table is redrawn every second.

use crate::cli::StatsArgs;
use crate::output::{print, row, Format};
use crate::units::human_size_prec;
use crate::CmdResult;
use doca_engine::containers::ListContainers;
use doca_engine::containers::StatsSample;
use doca_engine::Engine;
use serde_json::{json, Value};
use std::time::Duration;

/// go-units BytesSize (binary units, as docker prints memory in stats).
fn bytes(n: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < units.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    format!("{}{}", trim(v), units[i])
}

/// Go's `%.4g`: four significant digits, trailing zeros dropped.
fn trim(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let digits = (v.abs().log10().floor() as i32 + 1).max(1);
    let s = format!("{:.*}", (4 - digits).max(0) as usize, v);
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

pub fn run(e: &mut Engine, a: StatsArgs) -> CmdResult {
    let names: Vec<String> = if a.containers.is_empty() {
        e.list_containers(&ListContainers { all: a.all, ..Default::default() })?.iter().map(|c| c.id.to_string()).collect()
    } else {
        a.containers.clone()
    };
    let format = a.format.clone().unwrap_or_else(|| {
        "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}".into()
    });
    let fmt = Format::parse(&format)?;
    let mut first: Vec<Option<StatsSample>> = names.iter().map(|n| e.container_stats(n).ok().map(|(_, s)| s)).collect();
    loop {
        // docker's CPU % needs two samples.
        std::thread::sleep(Duration::from_millis(500));
        let mut rows = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let (c, s) = match e.container_stats(n) {
                Ok(x) => x,
                Err(err) if !a.containers.is_empty() => return Err(err.into()),
                Err(_) => continue,
            };
            let cpu = match &first[i] {
                Some(p) if s.at > p.at => {
                    let used = s.cpu_total.saturating_sub(p.cpu_total) as f64;
                    let wall = (s.at - p.at).as_nanos() as f64;
                    100.0 * used / wall
                }
                _ => 0.0,
            };
            let mem_pct = if s.memory_limit > 0 { 100.0 * s.memory_usage as f64 / s.memory_limit as f64 } else { 0.0 };
            rows.push(row(vec![
                ("BlockIO", json!("--")),
                ("CPUPerc", json!(format!("{cpu:.2}%"))),
                ("Container", json!(n)),
                ("ID", json!(if a.no_trunc { c.id.as_str() } else { c.id.short() })),
                ("MemPerc", json!(format!("{mem_pct:.2}%"))),
                ("MemUsage", json!(format!("{} / {}", bytes(s.memory_usage), bytes(s.memory_limit)))),
                ("Name", json!(c.name)),
                // Containers have only loopback (--network none) or the host's network.
                ("NetIO", json!(format!("{} / {}", human_size_prec(0.0, 3), human_size_prec(0.0, 3)))),
                ("PIDs", json!(s.pids.to_string())),
            ]));
            first[i] = Some(s);
        }
        let table = fmt.render(&headers(), &rows)?;
        if a.no_stream {
            return print(&table);
        }
        // Redraw in place, as docker's stats does.
        print(&format!("\x1b[2J\x1b[H{table}"))?;
    }
}

fn headers() -> Value {
    row(vec![
        ("BlockIO", json!("BLOCK I/O")),
        ("CPUPerc", json!("CPU %")),
        ("Container", json!("CONTAINER")),
        ("ID", json!("CONTAINER ID")),
        ("MemPerc", json!("MEM %")),
        ("MemUsage", json!("MEM USAGE / LIMIT")),
        ("Name", json!("NAME")),
        ("NetIO", json!("NET I/O")),
        ("PIDs", json!("PIDS")),
    ])
}

#[cfg(test)]
mod tests {
    #[test]
    fn binary_sizes_as_docker_prints_them() {
        assert_eq!(super::bytes(2306048), "2.199MiB");
        assert_eq!(super::bytes(64 << 20), "64MiB");
        assert_eq!(super::bytes(512), "512B");
    }
}
