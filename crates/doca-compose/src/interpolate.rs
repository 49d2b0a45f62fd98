//! Interpolation (Compose Specification, "Interpolation"; compose-go's `template` package):
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}`,
//! `${VAR:+replacement}`, `${VAR+replacement}`, `$$` for a literal `$`; the text after the
//! operator is interpolated too (`${A:-${B:-x}}`). A variable that is unset and has no default
//! becomes the empty string, with a warning, as docker compose does.

/// Where variables come from: the shell over `.env` and `--env-file`, resolved by the caller.
pub trait Lookup {
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Lookup for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolateError {
    /// `${VAR:?message}` / `${VAR?message}` with the variable missing: the user's message.
    #[error("required variable {name} is missing a value: {message}")]
    Required { name: String, message: String },
    #[error("invalid interpolation format for {text:?}: {reason}")]
    Invalid { text: String, reason: &'static str },
}

/// The result, and the variables that were used unset (docker compose warns about each).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Interpolated {
    pub value: String,
    pub unset: Vec<String>,
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Interpolates `text` with `vars`.
pub fn interpolate(text: &str, vars: &dyn Lookup) -> Result<Interpolated, InterpolateError> {
    let mut out = Interpolated::default();
    let chars: Vec<char> = text.chars().collect();
    let end = expand(&chars, 0, vars, &mut out, false, text)?;
    debug_assert_eq!(end, chars.len());
    Ok(out)
}

/// Expands from `i` to the end (or, `in_braces`, to the `}` that closes the enclosing
/// `${...}`, whose index is returned).
fn expand(
    c: &[char],
    mut i: usize,
    vars: &dyn Lookup,
    out: &mut Interpolated,
    in_braces: bool,
    text: &str,
) -> Result<usize, InterpolateError> {
    let invalid = |reason| InterpolateError::Invalid { text: text.to_string(), reason };
    while i < c.len() {
        match c[i] {
            '}' if in_braces => return Ok(i),
            '$' => {
                match c.get(i + 1) {
                    Some('$') => {
                        out.value.push('$');
                        i += 2;
                    }
                    Some('{') => i = braced(c, i + 2, vars, out, text)?,
                    Some(&ch) if is_name_start(ch) => {
                        let start = i + 1;
                        let mut j = start;
                        while j < c.len() && is_name(c[j]) {
                            j += 1;
                        }
                        let name: String = c[start..j].iter().collect();
                        substitute(&name, vars, out);
                        i = j;
                    }
                    // A lone `$` (at the end, or before anything that cannot start a name)
                    // stays, as compose-go leaves it.
                    _ => {
                        out.value.push('$');
                        i += 1;
                    }
                }
            }
            ch => {
                out.value.push(ch);
                i += 1;
            }
        }
    }
    if in_braces {
        return Err(invalid("unterminated ${"));
    }
    Ok(i)
}

fn substitute(name: &str, vars: &dyn Lookup, out: &mut Interpolated) {
    match vars.get(name) {
        Some(v) => out.value.push_str(&v),
        None => out.unset.push(name.to_string()),
    }
}

/// `${` at `i`: the name, an optional operator and its argument (interpolated), then `}`.
fn braced(c: &[char], i: usize, vars: &dyn Lookup, out: &mut Interpolated, text: &str) -> Result<usize, InterpolateError> {
    let invalid = |reason| InterpolateError::Invalid { text: text.to_string(), reason };
    let mut j = i;
    while j < c.len() && is_name(c[j]) {
        j += 1;
    }
    let name: String = c[i..j].iter().collect();
    if name.is_empty() || !name.starts_with(is_name_start) {
        return Err(invalid("a variable name must start with a letter or _"));
    }
    let op: String = match (c.get(j), c.get(j + 1)) {
        (Some('}'), _) => {
            substitute(&name, vars, out);
            return Ok(j + 1);
        }
        (Some(':'), Some(o @ ('-' | '?' | '+'))) => format!(":{o}"),
        (Some(o @ ('-' | '?' | '+')), _) => o.to_string(),
        (None, _) => return Err(invalid("unterminated ${")),
        _ => return Err(invalid("unknown operator after the variable name")),
    };
    // The argument is interpolated into a buffer of its own: it is used only if chosen.
    let mut arg = Interpolated::default();
    let close = expand(c, j + op.len(), vars, &mut arg, true, text)?;
    let value = vars.get(&name);
    let set = value.is_some();
    let non_empty = value.as_deref().is_some_and(|v| !v.is_empty());
    let use_arg = |out: &mut Interpolated, arg: Interpolated| {
        out.value.push_str(&arg.value);
        out.unset.extend(arg.unset);
    };
    match op.as_str() {
        ":-" if !non_empty => use_arg(out, arg),
        "-" if !set => use_arg(out, arg),
        ":?" if !non_empty => return Err(InterpolateError::Required { name, message: arg.value }),
        "?" if !set => return Err(InterpolateError::Required { name, message: arg.value }),
        ":+" if non_empty => use_arg(out, arg),
        "+" if set => use_arg(out, arg),
        ":+" | "+" => {}
        _ => out.value.push_str(value.as_deref().unwrap_or("")),
    }
    Ok(close + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "NAME" => Some("web".into()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("8080".into()),
            _ => None,
        }
    }

    fn i(text: &str) -> String {
        interpolate(text, &vars).unwrap().value
    }

    #[test]
    fn plain_and_braced_names() {
        assert_eq!(i("$NAME-${NAME}.x"), "web-web.x");
        assert_eq!(i("${PORT}:80"), "8080:80");
        assert_eq!(i("a$$b $$NAME"), "a$b $NAME");
        assert_eq!(i("cost: 5$"), "cost: 5$");
        assert_eq!(i("$1 $-"), "$1 $-");
    }

    #[test]
    fn defaults_distinguish_unset_from_empty() {
        assert_eq!(i("${MISSING:-d} ${MISSING-d}"), "d d");
        assert_eq!(i("${EMPTY:-d}|${EMPTY-d}"), "d|");
        assert_eq!(i("${NAME:-d}"), "web");
    }

    #[test]
    fn replacements_apply_only_when_set() {
        assert_eq!(i("${NAME:+on}|${EMPTY:+on}|${EMPTY+on}|${MISSING+on}"), "on||on|");
    }

    #[test]
    fn defaults_nest_and_interpolate() {
        assert_eq!(i("${MISSING:-${ALSO:-${NAME}}}"), "web");
        assert_eq!(i("${MISSING:-port $PORT}"), "port 8080");
        // An unused default is not evaluated: its unset variables are not reported.
        let r = interpolate("${NAME:-$NOPE}", &vars).unwrap();
        assert_eq!((r.value.as_str(), r.unset.len()), ("web", 0));
    }

    #[test]
    fn required_variables_fail_with_the_users_message() {
        assert_eq!(
            interpolate("${MISSING:?set MISSING to the db password}", &vars),
            Err(InterpolateError::Required { name: "MISSING".into(), message: "set MISSING to the db password".into() })
        );
        assert!(interpolate("${EMPTY:?no}", &vars).is_err());
        assert_eq!(i("${EMPTY?no}"), "");
    }

    #[test]
    fn unset_variables_are_blank_and_reported() {
        let r = interpolate("a${MISSING}b$OTHER", &vars).unwrap();
        assert_eq!(r.value, "ab");
        assert_eq!(r.unset, ["MISSING", "OTHER"]);
    }

    #[test]
    fn malformed_templates_are_refused() {
        for t in ["${", "${NAME", "${}", "${1A}", "${NAME:x}", "${NAME:-open"] {
            assert!(matches!(interpolate(t, &vars), Err(InterpolateError::Invalid { .. })), "{t}");
        }
    }
}

/// An interpolation failure in a compose file: where (`services.web.image`), and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {source}")]
pub struct TreeError {
    pub path: String,
    pub source: InterpolateError,
}

/// Interpolates every string value of a compose file (keys are left as written, as compose
/// leaves them). Returns the variables used unset, each once, in the order met.
pub fn interpolate_tree(node: &mut crate::node::Node, vars: &dyn Lookup) -> Result<Vec<String>, TreeError> {
    let mut unset = Vec::new();
    walk(node, vars, &mut String::new(), &mut unset)?;
    Ok(unset)
}

fn walk(node: &mut crate::node::Node, vars: &dyn Lookup, path: &mut String, unset: &mut Vec<String>) -> Result<(), TreeError> {
    use crate::node::Value;
    match &mut node.value {
        Value::String(s) => {
            let r = interpolate(s, vars).map_err(|source| TreeError { path: path.clone(), source })?;
            *s = r.value;
            for u in r.unset {
                if !unset.contains(&u) {
                    unset.push(u);
                }
            }
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(item, vars, path, unset)?;
                path.truncate(len);
            }
        }
        Value::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                walk(v, vars, path, unset)?;
                path.truncate(len);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tree_tests {
    use super::*;

    #[test]
    fn every_value_is_interpolated_and_failures_name_their_place() {
        let vars = |n: &str| (n == "TAG").then(|| "1.2".to_string());
        let mut n = crate::node::parse(
            "services:\n  web:\n    image: app:${TAG}\n    ports: ['${PORT:-8080}:80']\n    environment: {$$KEY: $$raw}\n",
            "c.yaml",
        )
        .unwrap();
        let unset = interpolate_tree(&mut n, &vars).unwrap();
        assert!(unset.is_empty());
        assert_eq!(
            n.to_json(),
            serde_json::json!({"services": {"web": {"image": "app:1.2", "ports": ["8080:80"], "environment": {"$$KEY": "$raw"}}}})
        );
        let mut bad = crate::node::parse("services:\n  db:\n    environment: ['PASSWORD=${PW:?set PW}']\n", "c.yaml").unwrap();
        let e = interpolate_tree(&mut bad, &vars).unwrap_err();
        assert_eq!(e.path, "services.db.environment[0]");
        assert!(e.to_string().contains("required variable PW is missing a value: set PW"), "{e}");
    }
}
