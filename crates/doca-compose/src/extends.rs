//! `extends` within a file (Compose Specification, "Extend"): a service starts from another's
//! definition, merged with its own by the same rules as files are; chains resolve in turn and
//! a cycle is named. `extends.file` takes the base from another file, loaded as a compose file
//! of its own (interpolated, its own `extends` resolved), its relative paths made absolute
//! from its own directory.

use crate::merge::merge;
use crate::node::{Node, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtendsError {
    #[error("services.{service}.extends: service {base:?} not found")]
    Missing { service: String, base: String },
    #[error("services.{service}.extends: {message}")]
    OtherFile { service: String, message: String },
    #[error("services.{0}.extends: circular reference")]
    Cycle(String),
    #[error("services.{0}.extends: must be a service name or a mapping with `service`")]
    Invalid(String),
}

/// A base: its service and, for another file's, that file's path as written.
struct Base {
    service: String,
    file: Option<String>,
}

/// Which service a service extends, if any.
fn base_of(name: &str, def: &Node) -> Result<Option<Base>, ExtendsError> {
    let Some(ext) = def.get("extends") else { return Ok(None) };
    match &ext.value {
        Value::String(s) => Ok(Some(Base { service: s.clone(), file: None })),
        Value::Map(_) => {
            let service = ext.get("service").and_then(Node::as_str).ok_or_else(|| ExtendsError::Invalid(name.to_string()))?;
            Ok(Some(Base { service: service.to_string(), file: ext.get("file").and_then(Node::as_str).map(String::from) }))
        }
        _ => Err(ExtendsError::Invalid(name.to_string())),
    }
}

/// How another file is read for `extends.file`: its path as written, to the file loaded.
pub type OtherFile<'a> = &'a mut dyn FnMut(&str) -> Result<Node, String>;

/// Resolves every `extends` of a file's services in place.
pub fn resolve(file: &mut Node, other: OtherFile) -> Result<(), ExtendsError> {
    let Some(Value::Map(services)) = file.get("services").map(|s| s.value.clone()) else { return Ok(()) };
    let mut resolved: Vec<(String, Node)> = Vec::new();
    fn get(
        services: &[(String, Node)],
        resolved: &mut Vec<(String, Node)>,
        name: &str,
        stack: &mut Vec<String>,
        other: OtherFile,
    ) -> Result<Node, ExtendsError> {
        if let Some((_, n)) = resolved.iter().find(|(n, _)| n == name) {
            return Ok(n.clone());
        }
        let def = services
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| ExtendsError::Missing { service: stack.last().cloned().unwrap_or_default(), base: name.to_string() })?;
        if stack.iter().any(|s| s == name) {
            return Err(ExtendsError::Cycle(name.to_string()));
        }
        let out = match base_of(name, &def)? {
            None => def,
            Some(Base { service: base, file: Some(f) }) => {
                let loaded = other(&f).map_err(|message| ExtendsError::OtherFile { service: name.to_string(), message })?;
                let base_def = loaded.get("services").and_then(|s| s.get(&base)).cloned().ok_or_else(|| ExtendsError::OtherFile {
                    service: name.to_string(),
                    message: format!("service {base:?} not found in {f}"),
                })?;
                extend(base_def, def)
            }
            Some(Base { service: base, file: None }) => {
                stack.push(name.to_string());
                let base_def = get(services, resolved, &base, stack, other)?;
                stack.pop();
                extend(base_def, def)
            }
        };
        resolved.push((name.to_string(), out.clone()));
        Ok(out)
    }
    /// A service's own definition over its base's.
    fn extend(base_def: Node, def: Node) -> Node {
        let mut own = def;
        if let Value::Map(m) = &mut own.value {
            m.retain(|(k, _)| k != "extends");
        }
        // What a base never passes on (the specification's rule for extends).
        let mut base_def = base_def;
        if let Value::Map(m) = &mut base_def.value {
            m.retain(|(k, _)| !matches!(k.as_str(), "depends_on" | "links" | "volumes_from" | "container_name"));
        }
        merge(base_def, own, "").unwrap_or_else(|| Node::new(Value::Map(Vec::new())))
    }
    for (name, _) in &services {
        get(&services, &mut resolved, name, &mut Vec::new(), other)?;
    }
    if let Value::Map(top) = &mut file.value {
        for (k, v) in top.iter_mut() {
            if k == "services" {
                *v = Node::new(Value::Map(
                    services
                        .iter()
                        .map(|(n, _)| (n.clone(), resolved.iter().find(|(r, _)| r == n).map(|(_, d)| d.clone()).expect("resolved")))
                        .collect(),
                ));
            }
        }
    }
    Ok(())
}

/// Another file's relative paths made absolute from its directory, so that its services mean
/// the same when they extend a service of a file elsewhere (compose-go's ResolveRelativePaths
/// for an extended file): build contexts, env files, bind sources.
pub fn rebase(file: &mut Node, dir: &std::path::Path) {
    let abs = |p: &str| -> String {
        if p.starts_with('/') || p.starts_with('~') || p.contains("://") || p.starts_with("git@") {
            p.to_string()
        } else {
            dir.join(p).display().to_string()
        }
    };
    let set = |n: &mut Node, f: &dyn Fn(&str) -> String| {
        if let Value::String(s) = &mut n.value {
            *s = f(s);
        }
    };
    let Some(Value::Map(services)) = file.get_mut("services").map(|s| &mut s.value) else { return };
    for (_, def) in services.iter_mut() {
        if let Some(b) = def.get_mut("build") {
            match b.get_mut("context") {
                Some(c) => set(c, &abs),
                None => set(b, &abs),
            }
        }
        if let Some(e) = def.get_mut("env_file") {
            match &mut e.value {
                Value::String(_) => set(e, &abs),
                Value::Seq(items) => {
                    for i in items {
                        match i.get_mut("path") {
                            Some(p) => set(p, &abs),
                            None => set(i, &abs),
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(Value::Seq(vols)) = def.get_mut("volumes").map(|v| &mut v.value) {
            for v in vols {
                let is_bind = v.get("type").and_then(Node::as_str) == Some("bind");
                match (&mut v.value, is_bind) {
                    (Value::String(spec), _) if spec.starts_with('.') => {
                        let (src, rest) = spec.split_once(':').unwrap_or((spec.as_str(), ""));
                        *spec = if rest.is_empty() { abs(src) } else { format!("{}:{rest}", abs(src)) };
                    }
                    (Value::Map(_), true) => {
                        if let Some(src) = v.get_mut("source") {
                            set(src, &abs);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_starts_from_its_base_and_chains_resolve() {
        let mut n = crate::node::parse(
            "services:\n  base:\n    image: busybox\n    environment: {A: '1'}\n    depends_on: [db]\n  mid:\n    extends: base\n    environment: {B: '2'}\n  top:\n    extends: {service: mid}\n    command: [x]\n  db:\n    image: pg\n",
            "c.yaml",
        )
        .unwrap();
        resolve(&mut n, &mut |_| Err("no other files".into())).unwrap();
        let top = n.get("services").unwrap().get("top").unwrap().to_json();
        assert_eq!(top, serde_json::json!({"image": "busybox", "environment": {"A": "1", "B": "2"}, "command": ["x"]}));
    }

    #[test]
    fn cycles_and_missing_bases_are_named() {
        let mut n = crate::node::parse("services:\n  a:\n    extends: b\n  b:\n    extends: a\n", "c.yaml").unwrap();
        assert!(matches!(resolve(&mut n, &mut |_| Err("no other files".into())), Err(ExtendsError::Cycle(_))));
        let mut n = crate::node::parse("services:\n  a:\n    extends: nope\n", "c.yaml").unwrap();
        assert_eq!(
            resolve(&mut n, &mut |_| Err("no other files".into())).unwrap_err().to_string(),
            "services.a.extends: service \"nope\" not found"
        );
    }
}
