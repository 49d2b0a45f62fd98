//! `doca login`, `doca logout`, `doca manifest inspect`.

use crate::cli::{LoginArgs, LogoutArgs, ManifestInspectArgs};
use crate::output::print;
use crate::{CmdResult, Failure};
use doca_engine::Engine;
use std::io::{BufRead, Write};

/// A line from the terminal (echo off for a password, as docker's prompt does).
fn prompt(question: &str, secret: bool) -> Result<String, Failure> {
    use nix::sys::termios;
    eprint!("{question}");
    let _ = std::io::stderr().flush();
    let stdin = std::io::stdin();
    let saved = if secret { termios::tcgetattr(&stdin).ok() } else { None };
    if let Some(t) = &saved {
        let mut quiet = t.clone();
        quiet.local_flags.remove(termios::LocalFlags::ECHO);
        let _ = termios::tcsetattr(&stdin, termios::SetArg::TCSANOW, &quiet);
    }
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(t) = &saved {
        let _ = termios::tcsetattr(&stdin, termios::SetArg::TCSANOW, t);
        eprintln!();
    }
    read.map_err(|e| Failure::failed(format!("read from the terminal: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

pub fn login(e: &mut Engine, a: LoginArgs) -> CmdResult {
    if a.password.is_some() && a.password_stdin {
        return Err(Failure::failed("--password and --password-stdin are mutually exclusive"));
    }
    if a.password_stdin && a.username.is_none() {
        return Err(Failure::failed("Must provide --username with --password-stdin"));
    }
    if a.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let username = match a.username {
        Some(u) => u,
        None => prompt("Username: ", false)?,
    };
    let password = match (a.password, a.password_stdin) {
        (Some(p), _) => p,
        (None, true) => {
            let mut s = String::new();
            std::io::stdin().lock().read_line(&mut s).map_err(|e| Failure::failed(format!("read the password from stdin: {e}")))?;
            s.trim_end_matches(['\r', '\n']).to_string()
        }
        (None, false) => prompt("Password: ", true)?,
    };
    if username.is_empty() || password.is_empty() {
        return Err(Failure::failed("Cannot perform an interactive login from a non TTY device"));
    }
    e.login(a.server.as_deref(), &username, &password)?;
    print("Login Succeeded\n")
}

pub fn logout(e: &mut Engine, a: LogoutArgs) -> CmdResult {
    let (host, removed) = e.logout(a.server.as_deref())?;
    if removed {
        print(&format!("Removing login credentials for {host}\n"))
    } else {
        print(&format!("Not logged in to {host}\n"))
    }
}

pub fn manifest_inspect(e: &mut Engine, a: ManifestInspectArgs) -> CmdResult {
    let v = e.inspect_remote_manifest(&a.name)?;
    print(&format!("{}\n", serde_json::to_string_pretty(&v).map_err(|err| Failure::failed(err.to_string()))?))
}
