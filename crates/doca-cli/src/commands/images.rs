//! `doca images` / `doca image ls`

use crate::cli::ImagesArgs;
use crate::output::{print, row, Format};
use crate::units::{go_time, human_size_prec, since};
use crate::CmdResult;
use doca_engine::images::{ImageFilter, ListImages};
use doca_engine::Engine;
use serde_json::{json, Value};

pub fn run(e: &mut Engine, a: ImagesArgs) -> CmdResult {
    let mut filters = a.filter.iter().map(|f| ImageFilter::parse(f)).collect::<Result<Vec<_>, _>>()?;
    if let Some(r) = &a.reference {
        filters.push(ImageFilter::Reference(r.clone()));
    }
    let images = e.list_images(&ListImages { all: a.all, filters })?;
    let now = super::now();
    let mut rows = Vec::new();
    for img in &images {
        let mut refs: Vec<(String, String, String)> = Vec::new(); // repository, tag, digest
        let digest_for = |repo: &str| {
            img.repo_digests
                .iter()
                .find_map(|d| d.split_once('@').filter(|(n, _)| *n == repo).map(|(_, dg)| dg.to_string()))
                .unwrap_or_else(|| "<none>".into())
        };
        for t in &img.repo_tags {
            let (repo, tag) = t.rsplit_once(':').unwrap_or((t, "<none>"));
            refs.push((repo.to_string(), tag.to_string(), digest_for(repo)));
        }
        for d in &img.repo_digests {
            if let Some((repo, dg)) = d.split_once('@') {
                if !refs.iter().any(|r| r.0 == repo) {
                    refs.push((repo.to_string(), "<none>".into(), dg.to_string()));
                }
            }
        }
        if refs.is_empty() {
            refs.push(("<none>".into(), "<none>".into(), "<none>".into()));
        }
        let size = human_size_prec(img.size as f64, 3);
        for (repo, tag, digest) in refs {
            rows.push(row(vec![
                ("Containers", json!("N/A")),
                ("CreatedAt", json!(go_time(img.created_unix))),
                ("CreatedSince", json!(since(img.created_unix, now))),
                ("Digest", json!(digest)),
                ("ID", json!(super::short_id(img.id.as_str(), a.no_trunc))),
                ("Repository", json!(repo)),
                ("SharedSize", json!("N/A")),
                ("Size", json!(size)),
                ("Tag", json!(tag)),
                ("UniqueSize", json!("N/A")),
                ("VirtualSize", json!(size)),
            ]));
        }
    }
    let format = match (&a.format, a.quiet, a.digests) {
        (Some(f), _, _) => f.clone(),
        (None, true, _) => "{{.ID}}".into(),
        (None, false, true) => "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}".into(),
        (None, false, false) => "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}".into(),
    };
    let fmt = Format::parse(&format)?;
    print(&fmt.render(&headers(), &rows)?)
}

fn headers() -> Value {
    row(vec![
        ("Containers", json!("CONTAINERS")),
        ("CreatedAt", json!("CREATED AT")),
        ("CreatedSince", json!("CREATED")),
        ("Digest", json!("DIGEST")),
        ("ID", json!("IMAGE ID")),
        ("Repository", json!("REPOSITORY")),
        ("SharedSize", json!("SHARED SIZE")),
        ("Size", json!("SIZE")),
        ("Tag", json!("TAG")),
        ("UniqueSize", json!("UNIQUE SIZE")),
        ("VirtualSize", json!("SIZE")),
    ])
}
