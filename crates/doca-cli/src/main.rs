//! `doca`: docker's commands, flags, output and exit codes, daemonless.

mod cli;
mod commands;
mod exit;
mod output;
mod units;

use clap::Parser;
use std::process::ExitCode;

/// An error with the exit code docker gives it.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Failure { code, message: message.into() }
    }

    /// A refused or failed request: docker's exit 1.
    pub fn failed(message: impl Into<String>) -> Self {
        Failure::new(exit::FAILED, message)
    }

    /// `run`/`create` could not get as far as the process, or a usage error: docker's 125.
    pub fn not_run(message: impl Into<String>) -> Self {
        Failure::new(exit::NOT_RUN, message)
    }
}

/// An engine error as every command but `run`/`create` reports it (`exit::run_failure`).
impl From<doca_engine::EngineError> for Failure {
    fn from(e: doca_engine::EngineError) -> Self {
        Failure { code: exit::code(e.kind(), exit::Verb::Other), message: e.to_string() }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure { code: exit::FAILED, message: format!("{e:#}") }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure { code: exit::FAILED, message: e.to_string() }
    }
}

pub type CmdResult = Result<(), Failure>;

/// The umask doca was started with: files the user asks for (`save -o`, `export -o`,
/// `--iidfile`, `--cidfile`) get the modes it gives, as docker's CLI writes them.
static USER_UMASK: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0o022);

/// Gives a file the user asked for the mode the user's umask gives a new file.
pub fn user_file_mode(f: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = 0o666 & !USER_UMASK.load(std::sync::atomic::Ordering::Relaxed);
    f.set_permissions(std::fs::Permissions::from_mode(mode))
}

/// Diagnostics on stderr at the level `--log-level` (or DOCA_LOG) asks, `debug` with `-D`, as
/// docker's flags; with neither, no subscriber is installed and the libraries' events cost
/// nothing. The engine passes debug on to the monitor and the runtime it starts.
fn logging(cli: &cli::Cli) -> Result<(), Failure> {
    use tracing::level_filters::LevelFilter;
    let level = match (cli.debug, cli.log_level.as_deref()) {
        (true, None) => LevelFilter::DEBUG,
        (_, None) => return Ok(()),
        (_, Some(l)) => match l.to_ascii_lowercase().as_str() {
            "trace" => LevelFilter::TRACE,
            "debug" => LevelFilter::DEBUG,
            "info" => LevelFilter::INFO,
            "warn" | "warning" => LevelFilter::WARN,
            "error" | "fatal" | "panic" => LevelFilter::ERROR,
            _ => return Err(Failure::failed(format!("Unable to parse logging level: {l}"))),
        },
    };
    // -D wins over a quieter --log-level, as in docker.
    let level = if cli.debug { level.max(LevelFilter::DEBUG) } else { level };
    tracing_subscriber::fmt().with_max_level(level).with_writer(std::io::stderr).init();
    Ok(())
}

fn main() -> ExitCode {
    // Everything doca keeps for itself is created private (0600 files, 0700 directories) unless
    // the code says otherwise next to it (what containers must read: /etc/hosts, volume
    // roots, the root of a writable layer): no other local user may read `-e` secrets in a
    // container's config, run what a container put in its layer, or hold doca's locks.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o077));
    USER_UMASK.store(old.bits(), std::sync::atomic::Ordering::Relaxed);
    if std::env::args_os().nth(1).is_some_and(|a| a == doca_engine::rootless::PAUSE_ARG) {
        return doca_engine::rootless::pause_main(std::env::args_os().nth(2).map(Into::into));
    }
    if std::env::args_os().nth(1).is_some_and(|a| a == doca_engine::rootless::PORTS_ARG) {
        return doca_engine::rootless::ports_main(std::env::args_os().skip(2));
    }
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand)
            {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            let f = cli::usage_failure(&e);
            eprintln!("{}", f.message);
            return ExitCode::from(f.code);
        }
    };
    if let Err(f) = logging(&cli) {
        eprintln!("{}", f.message);
        return ExitCode::from(f.code);
    }
    // An ordinary user's doca runs in the user namespace of their pause process: joined here,
    // while doca has one thread (setns(2) of a user namespace requires it).
    if !matches!(cli.command, cli::Command::Version(_)) {
        if let Err(e) = doca_engine::rootless::enter(&cli.run_root) {
            eprintln!("Error: {e}");
            return ExitCode::from(exit::FAILED);
        }
    }
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("Error: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}
