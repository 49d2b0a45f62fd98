//! `extends` within a file (Compose Specification, "Extend"): a service starts from another's
//! definition, merged with its own by the same rules as files are; chains resolve in turn and
//! a cycle is named. (`extends.file`, another file's service, is not read yet.)

use crate::merge::merge;
use crate::node::{Node, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtendsError {
    #[error("services.{service}.extends: service {base:?} not found")]
    Missing { service: String, base: String },
    #[error("services.{service}.extends: extending another file's service is not supported yet")]
    OtherFile { service: String },
    #[error("services.{0}.extends: circular reference")]
    Cycle(String),
    #[error("services.{0}.extends: must be a service name or a mapping with `service`")]
    Invalid(String),
}

/// Which service a service extends, if any.
fn base_of(name: &str, def: &Node) -> Result<Option<String>, ExtendsError> {
    let Some(ext) = def.get("extends") else { return Ok(None) };
    match &ext.value {
        Value::String(s) => Ok(Some(s.clone())),
        Value::Map(_) => {
            if ext.get("file").is_some() {
                return Err(ExtendsError::OtherFile { service: name.to_string() });
            }
            ext.get("service").and_then(Node::as_str).map(|s| Some(s.to_string())).ok_or_else(|| ExtendsError::Invalid(name.to_string()))
        }
        _ => Err(ExtendsError::Invalid(name.to_string())),
    }
}

/// Resolves every `extends` of a file's services in place.
pub fn resolve(file: &mut Node) -> Result<(), ExtendsError> {
    let Some(Value::Map(services)) = file.get("services").map(|s| s.value.clone()) else { return Ok(()) };
    let mut resolved: Vec<(String, Node)> = Vec::new();
    fn get(
        services: &[(String, Node)],
        resolved: &mut Vec<(String, Node)>,
        name: &str,
        stack: &mut Vec<String>,
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
            Some(base) => {
                stack.push(name.to_string());
                let base_def = get(services, resolved, &base, stack)?;
                stack.pop();
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
        };
        resolved.push((name.to_string(), out.clone()));
        Ok(out)
    }
    for (name, _) in &services {
        get(&services, &mut resolved, name, &mut Vec::new())?;
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
        resolve(&mut n).unwrap();
        let top = n.get("services").unwrap().get("top").unwrap().to_json();
        assert_eq!(top, serde_json::json!({"image": "busybox", "environment": {"A": "1", "B": "2"}, "command": ["x"]}));
    }

    #[test]
    fn cycles_and_missing_bases_are_named() {
        let mut n = crate::node::parse("services:\n  a:\n    extends: b\n  b:\n    extends: a\n", "c.yaml").unwrap();
        assert!(matches!(resolve(&mut n), Err(ExtendsError::Cycle(_))));
        let mut n = crate::node::parse("services:\n  a:\n    extends: nope\n", "c.yaml").unwrap();
        assert_eq!(resolve(&mut n).unwrap_err().to_string(), "services.a.extends: service \"nope\" not found");
    }
}
