//! `doca system df`

use crate::cli::DfArgs;
use crate::output::{print, row, Format};
use crate::units::human_size;
use crate::CmdResult;
use doca_engine::Engine;
use serde_json::json;

fn reclaimable(reclaim: u64, total: u64) -> String {
    if total == 0 {
        return human_size(reclaim);
    }
    format!("{} ({}%)", human_size(reclaim), 100 * reclaim / total)
}

pub fn run(e: &mut Engine, a: DfArgs) -> CmdResult {
    let du = e.disk_usage()?;
    let line = |kind: &str, total: usize, active: usize, size: u64, reclaim: u64| {
        row(vec![
            ("Active", json!(active.to_string())),
            ("Reclaimable", json!(reclaimable(reclaim, size))),
            ("Size", json!(human_size(size))),
            ("TotalCount", json!(total.to_string())),
            ("Type", json!(kind)),
        ])
    };
    let rows = vec![
        line("Images", du.images, du.images_active, du.images_size, du.images_reclaimable),
        line("Containers", du.containers, du.containers_active, du.containers_size, du.containers_reclaimable),
        line("Local Volumes", du.volumes, du.volumes_active, du.volumes_size, du.volumes_reclaimable),
        line("Build Cache", du.build_cache, 0, du.build_cache_size, du.build_cache_size),
    ];
    let headers = row(vec![
        ("Active", json!("ACTIVE")),
        ("Reclaimable", json!("RECLAIMABLE")),
        ("Size", json!("SIZE")),
        ("TotalCount", json!("TOTAL")),
        ("Type", json!("TYPE")),
    ]);
    let format = a.format.unwrap_or_else(|| "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}".into());
    print(&Format::parse(&format)?.render(&headers, &rows)?)
}
