//! `doca`: docker's commands, flags, output and exit codes, daemonless.

mod cli;
mod commands;
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
}

/// Docker's CLI exits 1 when the engine refuses a request, 125 when `run`/`create` fail before
/// the container starts and for usage errors. doca also uses 125 for refused untrusted input
/// (archives and tarballs given to load and import).
impl From<doca_engine::EngineError> for Failure {
    fn from(e: doca_engine::EngineError) -> Self {
        let code = match e.kind() {
            doca_engine::ErrorKind::BadInput => 125,
            _ => 1,
        };
        Failure { code, message: e.to_string() }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure { code: 1, message: format!("{e:#}") }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure { code: 1, message: e.to_string() }
    }
}

pub type CmdResult = Result<(), Failure>;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => 125,
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
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
