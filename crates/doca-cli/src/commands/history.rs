//! `doca history`

use crate::cli::HistoryArgs;
use crate::output::{print, row, Format};
use crate::units::{human_size_prec, since};
use crate::CmdResult;
use doca_engine::Engine;
use serde_json::json;

/// docker's stringutils.Ellipsis: cut to `max` characters with a trailing "…".
fn ellipsis(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

pub fn run(e: &mut Engine, a: HistoryArgs) -> CmdResult {
    let entries = e.image_history(&a.image)?;
    let now = super::now();
    let rows: Vec<_> = entries
        .iter()
        .map(|h| {
            let id = match &h.id {
                Some(id) => super::short_id(id, a.no_trunc),
                None => "<missing>".into(),
            };
            let created_by = h.created_by.replace('\t', " ");
            let created_at = doca_image_time(h.created_unix);
            row(vec![
                ("Comment", json!(h.comment)),
                ("CreatedAt", json!(created_at)),
                ("CreatedBy", json!(if a.no_trunc { created_by } else { ellipsis(&created_by, 45) })),
                ("CreatedSince", json!(if a.human { since(h.created_unix, now) } else { doca_image_time(h.created_unix) })),
                ("ID", json!(id)),
                ("Size", json!(if a.human { human_size_prec(h.size as f64, 3) } else { h.size.to_string() })),
            ])
        })
        .collect();
    let format = match (&a.format, a.quiet) {
        (Some(f), _) => f.clone(),
        (None, true) => "{{.ID}}".into(),
        (None, false) => "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}".into(),
    };
    let headers = row(vec![
        ("Comment", json!("COMMENT")),
        ("CreatedAt", json!("CREATED AT")),
        ("CreatedBy", json!("CREATED BY")),
        ("CreatedSince", json!("CREATED")),
        ("ID", json!("IMAGE")),
        ("Size", json!("SIZE")),
    ]);
    print(&Format::parse(&format)?.render(&headers, &rows)?)
}

fn doca_image_time(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix).map(doca_engine::rfc3339_nano).unwrap_or_default()
}
