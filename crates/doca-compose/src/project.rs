//! A project from its files: each file parsed and interpolated with the project's variables
//! (the shell over `.env`/`--env-file`), then the files merged in order, and the project's
//! name chosen as docker compose chooses it (`-p`, then `COMPOSE_PROJECT_NAME`, then the
//! top-level `name`, then the project directory's name).

use crate::interpolate::{interpolate_tree, TreeError};
use crate::node::{self, LoadError, Node, Value};
use std::collections::BTreeMap;

/// What `doca compose` read: the files (a name for messages, and the text), the variables.
#[derive(Debug, Clone, Default)]
pub struct ProjectRequest {
    pub files: Vec<(String, String)>,
    /// `-p/--project-name`.
    pub name: Option<String>,
    /// The project directory's own name (the last resort for the project's name).
    pub directory_name: String,
    /// The shell's environment.
    pub shell: BTreeMap<String, String>,
    /// `.env` (or `--env-file`) variables, already parsed; the shell wins over them.
    pub dotenv: Vec<(String, String)>,
    /// How `include`d files are read (the file system when `None`).
    pub read: Option<fn(&std::path::Path) -> std::io::Result<String>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Project {
    pub name: String,
    /// The merged model, interpolated; not yet typed.
    pub model: Node,
    /// What docker compose warns about: variables used unset, obsolete keys.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{file}: {source}")]
    Interpolate { file: String, source: TreeError },
    #[error("{file}: additional property {key} is not allowed")]
    UnknownKey { file: String, key: String },
    #[error("invalid project name {0:?}: must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number")]
    BadName(String),
    #[error("no compose file given")]
    NoFiles,
    #[error("{file}: {source}")]
    Extends { file: String, source: crate::extends::ExtendsError },
    #[error("{file}: include: {message}")]
    Include { file: String, message: String },
}

/// The keys a compose file may have at its top (besides `x-` extensions).
const TOP_LEVEL: [&str; 8] = ["version", "name", "include", "services", "networks", "volumes", "secrets", "configs"];

/// A name compose accepts as given (`-p`, `name:`).
fn valid_name(n: &str) -> bool {
    n.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// A directory's name made into a project name (compose's NormalizeProjectName): lowercase,
/// other characters dropped, leading `-`/`_` dropped.
pub fn normalize_name(dir: &str) -> String {
    let lower: String =
        dir.to_lowercase().chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-' || *c == '_').collect();
    lower.trim_start_matches(['-', '_']).to_string()
}

/// One file: parsed, checked, interpolated, its `extends` resolved and its `include`s added.
fn load_file(
    req: &ProjectRequest,
    file: &str,
    text: &str,
    vars: &dyn crate::interpolate::Lookup,
    warnings: &mut Vec<String>,
    stack: &mut Vec<String>,
) -> Result<Node, ProjectError> {
    let mut n = node::parse(text, file)?;
    if let Value::Map(entries) = &n.value {
        if let Some((k, _)) = entries.iter().find(|(k, _)| !k.starts_with("x-") && !TOP_LEVEL.contains(&k.as_str())) {
            return Err(ProjectError::UnknownKey { file: file.to_string(), key: k.clone() });
        }
        if entries.iter().any(|(k, _)| k == "version") {
            warnings.push(format!(
                "{file}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion"
            ));
        }
    }
    for u in interpolate_tree(&mut n, vars).map_err(|source| ProjectError::Interpolate { file: file.to_string(), source })? {
        warnings.push(format!("The \"{u}\" variable is not set. Defaulting to a blank string."));
    }
    let dir = std::path::Path::new(file).parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let mut other = |f: &str| -> Result<Node, String> {
        let path = dir.join(f);
        let shown = path.display().to_string();
        if stack.contains(&shown) || shown == file {
            return Err(format!("{shown}: circular reference"));
        }
        let text = read(req, &path).map_err(|e| format!("{shown}: {e}"))?;
        stack.push(shown.clone());
        let loaded = load_file(req, &shown, &text, vars, warnings, stack);
        stack.pop();
        let mut loaded = loaded.map_err(|e| e.to_string())?;
        crate::extends::rebase(&mut loaded, path.parent().unwrap_or(&dir));
        Ok(loaded)
    };
    crate::extends::resolve(&mut n, &mut other).map_err(|source| ProjectError::Extends { file: file.to_string(), source })?;
    include(req, file, &mut n, vars, warnings, stack)?;
    Ok(n)
}

/// Another file's text, through the request's reader.
fn read(req: &ProjectRequest, path: &std::path::Path) -> std::io::Result<String> {
    match req.read {
        Some(read) => read(path),
        None => std::fs::read_to_string(path),
    }
}

/// `include` (Compose Specification, "Include"): other files' resources added to this one's;
/// a resource defined in both is a conflict, as compose refuses it. Paths are the including
/// file's relatives.
fn include(
    req: &ProjectRequest,
    file: &str,
    n: &mut Node,
    vars: &dyn crate::interpolate::Lookup,
    warnings: &mut Vec<String>,
    stack: &mut Vec<String>,
) -> Result<(), ProjectError> {
    let bad = |message: String| ProjectError::Include { file: file.to_string(), message };
    let Value::Map(top) = &mut n.value else { return Ok(()) };
    let Some(i) = top.iter().position(|(k, _)| k == "include") else { return Ok(()) };
    let (_, list) = top.remove(i);
    let Value::Seq(items) = list.value else { return Err(bad("must be a list".into())) };
    let dir = std::path::Path::new(file).parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    for item in items {
        let paths: Vec<String> = match &item.value {
            Value::String(p) => vec![p.clone()],
            Value::Map(_) => match item.get("path").map(|p| &p.value) {
                Some(Value::String(p)) => vec![p.clone()],
                Some(Value::Seq(ps)) => ps.iter().filter_map(|p| p.as_str().map(String::from)).collect(),
                _ => return Err(bad("an entry needs a path".into())),
            },
            _ => return Err(bad("an entry is a path or a mapping".into())),
        };
        for p in paths {
            let path = dir.join(&p);
            let shown = path.display().to_string();
            if stack.contains(&shown) || shown == file {
                return Err(bad(format!("{shown} includes itself")));
            }
            let text = read(req, &path).map_err(|e| bad(format!("{shown}: {e}")))?;
            stack.push(shown.clone());
            let included = load_file(req, &shown, &text, vars, warnings, stack)?;
            stack.pop();
            let Value::Map(inc) = included.value else { continue };
            for (section, body) in inc {
                let Value::Map(resources) = body.value else { continue };
                let slot = match top.iter().position(|(k, _)| *k == section) {
                    Some(i) => i,
                    None => {
                        top.push((section.clone(), Node::new(Value::Map(Vec::new()))));
                        top.len() - 1
                    }
                };
                let Value::Map(mine) = &mut top[slot].1.value else { continue };
                for (name, def) in resources {
                    if mine.iter().any(|(k, _)| *k == name) {
                        return Err(bad(format!("{section}.{name} conflicts with the one {shown} defines")));
                    }
                    mine.push((name, def));
                }
            }
        }
    }
    Ok(())
}

pub fn load(req: &ProjectRequest) -> Result<Project, ProjectError> {
    if req.files.is_empty() {
        return Err(ProjectError::NoFiles);
    }
    let vars = |k: &str| req.shell.get(k).cloned().or_else(|| req.dotenv.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone()));
    let mut warnings = Vec::new();
    let mut merged: Option<Node> = None;
    for (file, text) in &req.files {
        let n = load_file(req, file, text, &vars, &mut warnings, &mut Vec::new())?;
        merged = Some(match merged {
            None => n,
            Some(base) => crate::merge::merge(base, n, "").unwrap_or_else(|| Node::new(Value::Map(Vec::new()))),
        });
    }
    let mut model = merged.unwrap_or_else(|| Node::new(Value::Map(Vec::new())));
    if let Value::Map(entries) = &mut model.value {
        entries.retain(|(k, _)| k != "version");
    }
    let named =
        req.name.clone().or_else(|| vars("COMPOSE_PROJECT_NAME")).or_else(|| model.get("name").and_then(Node::as_str).map(String::from));
    let name = match named {
        Some(n) if valid_name(&n) => n,
        Some(n) => return Err(ProjectError::BadName(n)),
        None => normalize_name(&req.directory_name),
    };
    if name.is_empty() {
        return Err(ProjectError::BadName(req.directory_name.clone()));
    }
    Ok(Project { name, model, warnings })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_names_become_project_names() {
        assert_eq!(normalize_name("My_Project.v2"), "my_projectv2");
        assert_eq!(normalize_name("-_x"), "x");
    }
}
