//! One file per command.

mod history;
mod images;
mod import;
mod inspect;
mod load;
mod prune;
mod rmi;
mod save;
mod system_check;
mod system_df;
mod tag;

use crate::cli::{Cli, Command, ImageCommand, SystemCommand};
use crate::CmdResult;
use doca_engine::{Engine, EngineConfig};

fn engine(cli: &Cli) -> Result<Engine, crate::Failure> {
    Ok(Engine::open(EngineConfig { root: cli.root.clone(), run_root: cli.run_root.clone() })?)
}

pub fn run(cli: Cli) -> CmdResult {
    let mut e = engine(&cli)?;
    match cli.command {
        Command::Images(a) | Command::Image { command: ImageCommand::Ls(a) } => images::run(&mut e, a),
        Command::Tag(a) | Command::Image { command: ImageCommand::Tag(a) } => tag::run(&mut e, a),
        Command::Rmi(a) | Command::Image { command: ImageCommand::Rm(a) } => rmi::run(&mut e, a),
        Command::Inspect(a) | Command::Image { command: ImageCommand::Inspect(a) } => inspect::run(&mut e, a),
        Command::History(a) | Command::Image { command: ImageCommand::History(a) } => history::run(&mut e, a),
        Command::Save(a) | Command::Image { command: ImageCommand::Save(a) } => save::run(&mut e, a),
        Command::Load(a) | Command::Image { command: ImageCommand::Load(a) } => load::run(&mut e, a),
        Command::Import(a) | Command::Image { command: ImageCommand::Import(a) } => import::run(&mut e, a),
        Command::Image { command: ImageCommand::Prune(a) } => prune::run(&mut e, a),
        Command::System { command: SystemCommand::Df(a) } => system_df::run(&mut e, a),
        Command::System { command: SystemCommand::Check(a) } => system_check::run(&mut e, a),
    }
}

pub(crate) fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// `sha256:0123...` → `0123456789ab` unless `no_trunc`, as docker's stringid.TruncateID.
pub(crate) fn short_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        return id.to_string();
    }
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}
