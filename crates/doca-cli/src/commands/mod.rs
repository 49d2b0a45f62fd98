//! One file per command.

mod attach;
mod attach_io;
mod build;
mod compose;
mod diff;
mod events;
mod exec;
mod history;
mod images;
mod import;
mod info;
mod inspect;
mod kill;
mod load;
mod login;
mod logs;
mod network;
mod port;
mod prune;
mod ps;
mod pull;
mod push;
mod rm;
mod rmi;
mod run;
mod run_opts;
mod save;
mod serve;
mod start;
mod stats;
mod stop;
mod system_check;
mod system_df;
mod system_prune;
mod tag;
mod top;
mod version;
mod volume;

use crate::cli::{BuilderCommand, Cli, Command, ContainerCommand, ImageCommand, ManifestCommand, SystemCommand};
use crate::CmdResult;
use doca_engine::{Engine, EngineConfig};

fn engine(cli: &Cli) -> Result<Engine, crate::Failure> {
    Ok(Engine::open(EngineConfig { root: cli.root.clone(), run_root: cli.run_root.clone() })?)
}

pub fn run(cli: Cli) -> CmdResult {
    // The one command that needs no store.
    if let Command::Version(a) = &cli.command {
        return version::run(a);
    }
    if let Command::Serve(a) | Command::System { command: SystemCommand::Service(a) } = &cli.command {
        return serve::run(&cli, a.clone());
    }
    let mut e = engine(&cli)?;
    match cli.command {
        Command::Build(a) | Command::Image { command: ImageCommand::Build(a) } => build::run(&mut e, a),
        Command::Builder { command: BuilderCommand::Build(a) } => build::run(&mut e, *a),
        Command::Builder { command: BuilderCommand::Prune(a) } => build::prune(&mut e, a),
        Command::Pull(a) | Command::Image { command: ImageCommand::Pull(a) } => pull::run(&mut e, a),
        Command::Push(a) | Command::Image { command: ImageCommand::Push(a) } => push::run(&mut e, a),
        Command::Login(a) => login::login(&mut e, a),
        Command::Logout(a) => login::logout(&mut e, a),
        Command::Manifest { command: ManifestCommand::Inspect(a) } => login::manifest_inspect(&mut e, a),
        Command::Images(a) | Command::Image { command: ImageCommand::Ls(a) } => images::run(&mut e, a),
        Command::Tag(a) | Command::Image { command: ImageCommand::Tag(a) } => tag::run(&mut e, a),
        Command::Rmi(a) | Command::Image { command: ImageCommand::Rm(a) } => rmi::run(&mut e, a),
        Command::Inspect(a) => inspect::run(&mut e, a),
        Command::Image { command: ImageCommand::Inspect(mut a) } => {
            a.kind = Some("image".into());
            inspect::run(&mut e, a)
        }
        Command::History(a) | Command::Image { command: ImageCommand::History(a) } => history::run(&mut e, a),
        Command::Save(a) | Command::Image { command: ImageCommand::Save(a) } => save::run(&mut e, a),
        Command::Load(a) | Command::Image { command: ImageCommand::Load(a) } => load::run(&mut e, a),
        Command::Import(a) | Command::Image { command: ImageCommand::Import(a) } => import::run(&mut e, a),
        Command::Image { command: ImageCommand::Prune(a) } => prune::run(&mut e, a),
        Command::System { command: SystemCommand::Df(a) } => system_df::run(&mut e, a),
        Command::System { command: SystemCommand::Check(a) } => system_check::run(&mut e, a),
        Command::System { command: SystemCommand::Prune(a) } => system_prune::run(&mut e, a),
        Command::System { command: SystemCommand::Boot } => {
            let (started, failed) = e.boot()?;
            crate::output::print(&started.iter().map(|n| format!("{n}\n")).collect::<String>())?;
            if failed.is_empty() {
                Ok(())
            } else {
                Err(crate::Failure::failed(failed.join("\nError: ")))
            }
        }
        Command::Run(a) | Command::Container { command: ContainerCommand::Run(a) } => run::run(&mut e, a),
        Command::Create(a) | Command::Container { command: ContainerCommand::Create(a) } => run::create(&mut e, a),
        Command::Start(a) | Command::Container { command: ContainerCommand::Start(a) } => start::run(&mut e, a),
        Command::Stop(a) | Command::Container { command: ContainerCommand::Stop(a) } => stop::stop(&mut e, a),
        Command::Restart(a) | Command::Container { command: ContainerCommand::Restart(a) } => stop::restart(&mut e, a),
        Command::Kill(a) | Command::Container { command: ContainerCommand::Kill(a) } => kill::kill(&mut e, a),
        Command::Rm(a) | Command::Container { command: ContainerCommand::Rm(a) } => rm::rm(&mut e, a),
        Command::Ps(a) | Command::Container { command: ContainerCommand::Ls(a) } => ps::run(&mut e, a),
        Command::Logs(a) | Command::Container { command: ContainerCommand::Logs(a) } => logs::run(&mut e, a),
        Command::Wait(a) | Command::Container { command: ContainerCommand::Wait(a) } => kill::wait(&mut e, a),
        Command::Exec(a) | Command::Container { command: ContainerCommand::Exec(a) } => exec::run(&mut e, a),
        Command::Attach(a) | Command::Container { command: ContainerCommand::Attach(a) } => attach::run(&mut e, a),
        Command::Pause(a) | Command::Container { command: ContainerCommand::Pause(a) } => kill::pause(&mut e, a),
        Command::Unpause(a) | Command::Container { command: ContainerCommand::Unpause(a) } => kill::unpause(&mut e, a),
        Command::Rename(a) | Command::Container { command: ContainerCommand::Rename(a) } => kill::rename(&mut e, a),
        Command::Container { command: ContainerCommand::Inspect(mut a) } => {
            a.kind = Some("container".into());
            inspect::run(&mut e, a)
        }
        Command::Container { command: ContainerCommand::Prune(a) } => rm::prune(&mut e, a),
        Command::Top(a) | Command::Container { command: ContainerCommand::Top(a) } => top::top(&mut e, a),
        Command::Port(a) => port::run(&mut e, a),
        Command::Update(a) | Command::Container { command: ContainerCommand::Update(a) } => top::update(&mut e, a),
        Command::Stats(a) | Command::Container { command: ContainerCommand::Stats(a) } => stats::run(&mut e, a),
        Command::Diff(a) | Command::Container { command: ContainerCommand::Diff(a) } => diff::diff(&mut e, a),
        Command::Export(a) | Command::Container { command: ContainerCommand::Export(a) } => diff::export(&mut e, a),
        Command::Commit(a) | Command::Container { command: ContainerCommand::Commit(a) } => diff::commit(&mut e, a),
        Command::Events(a) | Command::System { command: SystemCommand::Events(a) } => events::run(&mut e, a),
        Command::Info(a) | Command::System { command: SystemCommand::Info(a) } => info::run(&mut e, a),
        Command::Version(_) => unreachable!("handled before the store is opened"),
        Command::Serve(_) | Command::System { command: SystemCommand::Service(_) } => unreachable!("the server opens its own engines"),
        Command::Compose(a) => compose::run(&mut e, a),
        Command::Volume { command } => volume::run(&mut e, command),
        Command::Network { command } => network::run(&mut e, command),
        Command::Cp(a) | Command::Container { command: ContainerCommand::Cp(a) } => diff::cp(&mut e, a),
        Command::Container { command: ContainerCommand::Cleanup { id } } => Ok(e.cleanup_container(&id)?),
    }
}

/// `KEY=VALUE` options (`--label`, `-o`): a missing value is empty, a missing key is refused
/// as an invalid argument of `verb` (docker's 125 for run/create, 1 for the object commands).
pub(crate) fn key_values<'a>(
    list: impl IntoIterator<Item = &'a String>,
    what: &str,
    verb: crate::exit::Verb,
) -> Result<std::collections::BTreeMap<String, String>, crate::Failure> {
    let code = crate::exit::code(doca_engine::ErrorKind::InvalidArgument, verb);
    let mut out = std::collections::BTreeMap::new();
    for l in list {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        if k.is_empty() {
            return Err(crate::Failure::new(code, format!("invalid {what} '{l}': empty name")));
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Asks on the terminal; true for "y" or "yes".
pub(crate) fn confirm(question: &str) -> Result<bool, crate::Failure> {
    use std::io::{BufRead, Write};
    print!("{question}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// An I/O error's reason in docker's words: lowercase, without Rust's "(os error N)".
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    let s = s.split(" (os error").next().unwrap_or(&s);
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
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
