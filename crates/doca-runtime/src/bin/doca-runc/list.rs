//! `list`

use doca_runtime::{state::State, Status};
use std::path::Path;

pub fn run(root: &Path, format: &str, quiet: bool) -> anyhow::Result<()> {
    let mut states = Vec::new();
    for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
        if let Ok(s) = State::load(root, &e.file_name().to_string_lossy()) {
            let st = s.status(root);
            states.push((s, st));
        }
    }
    states.sort_by(|a, b| a.0.id.cmp(&b.0.id));
    if quiet {
        for (s, _) in &states {
            println!("{}", s.id);
        }
    } else if format == "json" {
        let v: Vec<_> = states.iter().map(|(s, st)| s.to_oci_json(*st)).collect();
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!("{:<12} {:<10} {:<10} {:<45} {:<30} OWNER", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
        for (s, st) in &states {
            let pid = if *st == Status::Stopped { 0 } else { s.pid };
            println!("{:<12} {:<10} {:<10} {:<45} {:<30} root", s.id, pid, st.to_string(), s.bundle.display(), s.created);
        }
    }
    Ok(())
}
