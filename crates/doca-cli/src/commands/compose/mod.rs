//! `doca compose`: a project from its compose files, run on this engine (no daemon, no
//! plugin). The model and its rules are doca-compose's; these are the commands' flags and
//! output.

mod build;
mod config;
mod cp;
mod down;
mod events;
mod exec;
mod lifecycle;
mod logs;
mod other;
mod ps;
mod run;
mod up;

use crate::cli::{ComposeArgs, ComposeCommand};
use crate::{CmdResult, Failure};
use doca_compose::up::{Compose, ComposeError};
use doca_engine::Engine;
use std::path::{Path, PathBuf};

/// The files docker compose looks for, in its order, and their override files.
const DEFAULT_FILES: [&str; 4] = ["compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"];
const OVERRIDE_FILES: [&str; 4] =
    ["compose.override.yaml", "compose.override.yml", "docker-compose.override.yaml", "docker-compose.override.yml"];

impl From<ComposeError> for Failure {
    fn from(e: ComposeError) -> Self {
        match e {
            ComposeError::Engine(e) => e.into(),
            e => Failure::failed(e.to_string()),
        }
    }
}

/// The default file in `dir` or the nearest parent that has one, with its override file.
fn default_files(start: &Path) -> Option<Vec<PathBuf>> {
    for dir in start.ancestors() {
        if let Some(f) = DEFAULT_FILES.iter().map(|f| dir.join(f)).find(|p| p.is_file()) {
            let mut files = vec![f];
            files.extend(OVERRIDE_FILES.iter().map(|f| dir.join(f)).find(|p| p.is_file()));
            return Some(files);
        }
    }
    None
}

fn load(a: &ComposeArgs) -> Result<Compose, Failure> {
    let cwd = std::env::current_dir()?;
    let files: Vec<PathBuf> = if !a.file.is_empty() {
        a.file.iter().map(|f| cwd.join(f)).collect()
    } else if let Some(list) = std::env::var("COMPOSE_FILE").ok().filter(|v| !v.is_empty()) {
        list.split(':').map(|f| cwd.join(f)).collect()
    } else {
        default_files(&cwd).ok_or_else(|| Failure::failed("no configuration file provided: not found"))?
    };
    let dir = match &a.project_directory {
        Some(d) => cwd.join(d),
        None => files[0].parent().map(Path::to_path_buf).unwrap_or_else(|| cwd.clone()),
    };
    let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
    let mut texts = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).map_err(|e| Failure::failed(format!("{}: {}", f.display(), super::io_reason(&e))))?;
        texts.push((f.display().to_string(), text));
    }
    let shell: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    let env_files: Vec<PathBuf> = if a.env_file.is_empty() {
        vec![dir.join(".env")].into_iter().filter(|p| p.is_file()).collect()
    } else {
        a.env_file.iter().map(|f| cwd.join(f)).collect()
    };
    let mut dotenv = Vec::new();
    for f in env_files {
        let text = std::fs::read_to_string(&f).map_err(|e| Failure::failed(format!("{}: {}", f.display(), super::io_reason(&e))))?;
        let lookup = |k: &str| shell.get(k).cloned();
        dotenv.extend(doca_compose::dotenv::parse(&text, &lookup).map_err(|e| Failure::failed(format!("{}: {e}", f.display())))?);
    }
    let project = doca_compose::project::load(&doca_compose::project::ProjectRequest {
        files: texts,
        name: a.project_name.clone(),
        directory_name: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        shell: shell.clone(),
        dotenv: dotenv.clone(),
        read: None,
    })
    .map_err(|e| Failure::failed(e.to_string()))?;
    for w in &project.warnings {
        eprintln!("WARN[0000] {w}");
    }
    let mut model = doca_compose::model::model(&project.model.to_json()).map_err(|e| Failure::failed(e.to_string()))?;
    let mut active: Vec<String> = a.profile.clone();
    if let Some(p) = shell.get("COMPOSE_PROFILES").filter(|p| !p.is_empty()) {
        active.extend(p.split(',').map(|s| s.trim().to_string()));
    }
    model.enable_profiles(&active, &a.command.named_services());
    model.check_dependencies().map_err(|e| Failure::failed(e.to_string()))?;
    // The project's environment: the shell over `.env`/`--env-file`.
    let mut env: std::collections::BTreeMap<String, String> = dotenv.into_iter().collect();
    env.extend(shell);
    Ok(Compose { project, model, dir, config_files: files.iter().map(|f| f.display().to_string()).collect(), env })
}

impl ComposeCommand {
    /// The services a command names on its command line (their profiles are enabled).
    fn named_services(&self) -> Vec<String> {
        use ComposeCommand as C;
        match self {
            C::Up(x) => x.services.clone(),
            C::Logs(x) => x.services.clone(),
            C::Stop(x) | C::Restart(x) => x.services.clone(),
            C::Rm(x) => x.services.clone(),
            C::Kill(x) => x.services.clone(),
            C::Build(x) => x.services.clone(),
            C::Exec(x) => vec![x.service.clone()],
            C::Run(x) => vec![x.service.clone()],
            C::Port(x) => vec![x.service.clone()],
            C::Events(x) => x.services.clone(),
            C::Cp(x) => [&x.src, &x.dest].into_iter().filter_map(|p| p.split_once(':').map(|(s, _)| s.to_string())).collect(),
            C::Start(x) | C::Pull(x) | C::Push(x) | C::Create(x) | C::Pause(x) | C::Unpause(x) | C::Top(x) | C::Images(x) | C::Wait(x) => {
                x.services.clone()
            }
            C::Config(x) => x.services_named.clone(),
            C::Down(_) | C::Ps(_) | C::Version | C::Ls(_) => Vec::new(),
        }
    }
}

/// docker compose's progress line for one object.
fn progress(kind: &str, name: &str, action: &str) {
    if kind == "Warning" {
        eprintln!("WARN[0000] {action}");
    } else {
        eprintln!(" \u{2714} {kind} {name}  {action}");
    }
}

pub fn run(e: &mut Engine, a: ComposeArgs) -> CmdResult {
    // The commands that need no project file.
    match a.command {
        ComposeCommand::Version => return crate::output::print(&format!("doca compose version {}\n", env!("CARGO_PKG_VERSION"))),
        ComposeCommand::Ls(x) => return other::ls(e, x),
        _ => {}
    }
    let c = load(&a)?;
    match a.command {
        ComposeCommand::Config(x) => config::run(&c, x),
        ComposeCommand::Up(x) => up::run(e, &c, x),
        ComposeCommand::Down(x) => down::run(e, &c, x),
        ComposeCommand::Ps(x) => ps::run(e, &c, x),
        ComposeCommand::Logs(x) => logs::run(e, &c, x),
        ComposeCommand::Stop(x) => lifecycle::stop(e, &c, x),
        ComposeCommand::Start(x) => lifecycle::start(e, &c, x),
        ComposeCommand::Restart(x) => lifecycle::restart(e, &c, x),
        ComposeCommand::Rm(x) => lifecycle::rm(e, &c, x),
        ComposeCommand::Exec(x) => exec::run(e, &c, x),
        ComposeCommand::Run(x) => run::run(e, &c, x),
        ComposeCommand::Build(x) => build::build(e, &c, x),
        ComposeCommand::Pull(x) => build::pull(e, &c, x),
        ComposeCommand::Push(x) => build::push(e, &c, x),
        ComposeCommand::Create(x) => build::create(e, &c, x),
        ComposeCommand::Version | ComposeCommand::Ls(_) => unreachable!("answered before a project is loaded"),
        ComposeCommand::Kill(x) => other::kill(e, &c, x),
        ComposeCommand::Pause(x) => other::pause(e, &c, x, true),
        ComposeCommand::Unpause(x) => other::pause(e, &c, x, false),
        ComposeCommand::Top(x) => other::top(e, &c, x),
        ComposeCommand::Images(x) => other::images(e, &c, x),
        ComposeCommand::Port(x) => other::port(e, &c, x),
        ComposeCommand::Wait(x) => other::wait(e, &c, x),
        ComposeCommand::Cp(x) => cp::run(e, &c, x),
        ComposeCommand::Events(x) => events::run(e, &c, x),
    }
}
