//! `ps`

use anyhow::Context;
use doca_runtime::state::State;
use std::path::Path;

/// `ps`: JSON is the list of pids; the table is ps(1)'s output filtered to the container's pids.
pub fn run(root: &Path, id: &str, format: &str, ps_args: &[String]) -> anyhow::Result<()> {
    let state = State::load(root, id)?;
    let pids = doca_runtime::stats::pids(&state);
    if format == "json" {
        println!("{}", serde_json::to_string(&pids)?);
        return Ok(());
    }
    let args: Vec<&str> = if ps_args.is_empty() { vec!["-ef"] } else { ps_args.iter().map(String::as_str).collect() };
    let out = std::process::Command::new("ps").args(&args).output().context("run ps")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    let col = header.split_whitespace().position(|h| h == "PID").context("ps output has no PID column")?;
    println!("{header}");
    for l in lines {
        if l.split_whitespace().nth(col).and_then(|p| p.parse::<i32>().ok()).is_some_and(|p| pids.contains(&p)) {
            println!("{l}");
        }
    }
    Ok(())
}
