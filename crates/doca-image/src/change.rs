//! The Dockerfile lines `doca import --change` accepts, applied to an image config, as
//! `docker import -c` does (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER,
//! VOLUME, WORKDIR).

use crate::config::ContainerConfig;
use serde_json::Value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChangeError {
    #[error("{0} is not a valid change command")]
    Unsupported(String),
    #[error("{instr} requires {what}")]
    Args { instr: String, what: &'static str },
    #[error("{instr}: {msg}")]
    Syntax { instr: String, msg: String },
}

/// Words of a shell-form argument: whitespace-separated, with double and single quotes and
/// backslash escapes as Dockerfile ENV/LABEL values use them.
fn words(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(n) => cur.push(n),
                    None => return Err("trailing backslash".into()),
                }
            }
            '"' | '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some(q) if q == c => break,
                        Some('\\') if c == '"' => match chars.next() {
                            Some(n) => cur.push(n),
                            None => return Err("unterminated quote".into()),
                        },
                        Some(x) => cur.push(x),
                        None => return Err("unterminated quote".into()),
                    }
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

/// A JSON string array (exec form), or None for shell form.
fn json_form(s: &str) -> Option<Vec<String>> {
    let t = s.trim();
    if !t.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(t).ok()
}

/// `k=v k2=v2` pairs, or the legacy `k v` form.
fn pairs(instr: &str, rest: &str) -> Result<Vec<(String, String)>, ChangeError> {
    let syn = |msg: String| ChangeError::Syntax { instr: instr.into(), msg };
    let first = rest.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let (k, v) = rest.trim().split_once(char::is_whitespace).ok_or(ChangeError::Args { instr: instr.into(), what: "two arguments" })?;
        return Ok(vec![(k.to_string(), v.trim().to_string())]);
    }
    let mut out = Vec::new();
    for w in words(rest).map_err(syn)? {
        let (k, v) = w.split_once('=').ok_or_else(|| syn(format!("{w:?} is not of the form key=value")))?;
        if k.is_empty() {
            return Err(syn("empty key".into()));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

pub fn apply_change(cfg: &mut ContainerConfig, line: &str) -> Result<(), ChangeError> {
    let line = line.trim();
    let (instr, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
    let rest = rest.trim();
    let upper = instr.to_ascii_uppercase();
    let need = |what| ChangeError::Args { instr: upper.clone(), what };
    match upper.as_str() {
        "CMD" | "ENTRYPOINT" => {
            let v = json_form(rest).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), rest.to_string()]);
            if upper == "CMD" {
                cfg.cmd = Some(v);
            } else {
                cfg.entrypoint = Some(v);
            }
        }
        "ENV" => {
            if rest.is_empty() {
                return Err(need("at least one argument"));
            }
            let env = cfg.env.get_or_insert_with(Vec::new);
            for (k, v) in pairs("ENV", rest)? {
                env.retain(|e| e.split_once('=').map(|(ek, _)| ek) != Some(k.as_str()));
                env.push(format!("{k}={v}"));
            }
        }
        "LABEL" => {
            if rest.is_empty() {
                return Err(need("at least one argument"));
            }
            let labels = cfg.labels.get_or_insert_with(Default::default);
            for (k, v) in pairs("LABEL", rest)? {
                labels.insert(k, v);
            }
        }
        "EXPOSE" => {
            if rest.is_empty() {
                return Err(need("at least one argument"));
            }
            let ports = cfg.exposed_ports.get_or_insert_with(Default::default);
            for p in rest.split_whitespace() {
                let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                let ok = !num.is_empty() && num.split('-').all(|n| n.parse::<u16>().is_ok()) && matches!(proto, "tcp" | "udp" | "sctp");
                if !ok {
                    return Err(ChangeError::Syntax { instr: upper, msg: format!("invalid port {p:?}") });
                }
                ports.insert(format!("{num}/{proto}"), Value::Object(Default::default()));
            }
        }
        "VOLUME" => {
            let vols = json_form(rest).unwrap_or_else(|| rest.split_whitespace().map(str::to_string).collect());
            if vols.is_empty() {
                return Err(need("at least one argument"));
            }
            let map = cfg.volumes.get_or_insert_with(Default::default);
            for v in vols {
                map.insert(v, Value::Object(Default::default()));
            }
        }
        "WORKDIR" | "USER" | "STOPSIGNAL" => {
            if rest.is_empty() || (upper != "WORKDIR" && rest.split_whitespace().count() != 1) {
                return Err(need("exactly one argument"));
            }
            let v = Some(rest.to_string());
            match upper.as_str() {
                "WORKDIR" => cfg.working_dir = v,
                "USER" => cfg.user = v,
                _ => cfg.stop_signal = v,
            }
        }
        "ONBUILD" => {
            if rest.is_empty() {
                return Err(need("at least one argument"));
            }
            cfg.on_build.get_or_insert_with(Vec::new).push(rest.to_string());
        }
        _ => return Err(ChangeError::Unsupported(instr.to_ascii_lowercase())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applies_docker_import_changes() {
        let mut c = ContainerConfig::default();
        for l in [
            r#"CMD ["/bin/sh", "-c", "echo hi"]"#,
            "ENTRYPOINT /init --x",
            r#"ENV A=1 B="two words""#,
            "ENV C 3 4",
            "ENV A=9",
            "WORKDIR /srv",
            "USER 1000:1000",
            "EXPOSE 80 53/udp",
            r#"VOLUME ["/data"]"#,
            "LABEL a=b",
        ] {
            apply_change(&mut c, l).unwrap_or_else(|e| panic!("{l}: {e}"));
        }
        assert_eq!(c.cmd.unwrap(), ["/bin/sh", "-c", "echo hi"]);
        assert_eq!(c.entrypoint.unwrap(), ["/bin/sh", "-c", "/init --x"]);
        assert_eq!(c.env.unwrap(), ["B=two words", "C=3 4", "A=9"]);
        assert_eq!(c.working_dir.as_deref(), Some("/srv"));
        assert_eq!(c.user.as_deref(), Some("1000:1000"));
        assert_eq!(c.exposed_ports.unwrap().keys().cloned().collect::<Vec<_>>(), ["53/udp", "80/tcp"]);
        assert!(c.volumes.unwrap().contains_key("/data"));
        assert_eq!(c.labels.unwrap()["a"], "b");
    }

    #[test]
    fn rejects_what_docker_rejects() {
        let mut c = ContainerConfig::default();
        assert_eq!(apply_change(&mut c, "RUN true"), Err(ChangeError::Unsupported("run".into())));
        assert!(apply_change(&mut c, "EXPOSE http").is_err());
        assert!(apply_change(&mut c, "ENV").is_err());
        assert!(apply_change(&mut c, "ENV A=\"x").is_err());
    }
}
