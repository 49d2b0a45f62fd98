//! `.env` and `--env-file` files as docker compose reads them (compose-go's `dotenv`):
//! `KEY=VALUE` lines, `export ` accepted, `#` comments, single quotes literal, double quotes
//! with escapes and newlines, unquoted values cut at ` #`, and `${VAR}` in unquoted and
//! double-quoted values from the keys above and the lookup. A bare `KEY` takes the lookup's value.

use crate::interpolate::{interpolate, InterpolateError, Lookup};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DotenvError {
    #[error("line {line}: unexpected character {found:?} in variable name {name:?}")]
    BadName { line: usize, name: String, found: char },
    #[error("line {line}: unterminated quoted value")]
    Unterminated { line: usize },
    #[error("line {line}: {source}")]
    Interpolate { line: usize, source: InterpolateError },
}

/// The variables in file order (a later line for the same key wins when collected).
pub fn parse(text: &str, lookup: &dyn Lookup) -> Result<Vec<(String, String)>, DotenvError> {
    let mut out: Vec<(String, String)> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut n = 0;
    while n < lines.len() {
        let line_no = n + 1;
        let raw = lines[n].trim_start();
        n += 1;
        if raw.is_empty() || raw.starts_with('#') {
            continue;
        }
        let raw = raw.strip_prefix("export ").map(str::trim_start).unwrap_or(raw);
        let (name, rest) = match raw.find(['=', ':']) {
            Some(i) => (raw[..i].trim_end(), Some(&raw[i + 1..])),
            None => (raw.trim_end(), None),
        };
        if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '[' | ']'))) {
            return Err(DotenvError::BadName { line: line_no, name: name.to_string(), found: bad });
        }
        let Some(rest) = rest else {
            // `KEY` alone: the value the environment gives it, if any.
            if let Some(v) = lookup.get(name) {
                out.push((name.to_string(), v));
            }
            continue;
        };
        let rest = rest.trim_start();
        let known = |k: &str| out.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.clone()).or_else(|| lookup.get(k));
        let value = match rest.chars().next() {
            Some('\'') => {
                let (v, used) = quoted(rest, '\'', &lines[n..]).ok_or(DotenvError::Unterminated { line: line_no })?;
                n += used;
                v
            }
            Some('"') => {
                let (v, used) = quoted(rest, '"', &lines[n..]).ok_or(DotenvError::Unterminated { line: line_no })?;
                n += used;
                let v = unescape(&v);
                interpolate(&v, &known).map_err(|source| DotenvError::Interpolate { line: line_no, source })?.value
            }
            _ => {
                let v = match rest.find(" #") {
                    Some(i) => &rest[..i],
                    None => rest,
                };
                interpolate(v.trim_end(), &known).map_err(|source| DotenvError::Interpolate { line: line_no, source })?.value
            }
        };
        out.push((name.to_string(), value));
    }
    Ok(out)
}

/// The text between `q` quotes starting at `rest[0]`, across the following lines if need be;
/// and how many following lines it took. `\"` does not close a double-quoted value.
fn quoted(rest: &str, q: char, following: &[&str]) -> Option<(String, usize)> {
    let mut text = rest[1..].to_string();
    let mut used = 0;
    loop {
        let mut escaped = false;
        for (i, c) in text.char_indices() {
            match c {
                '\\' if q == '"' && !escaped => escaped = true,
                c if c == q && !escaped => return Some((text[..i].to_string(), used)),
                _ => escaped = false,
            }
        }
        let next = following.get(used)?;
        text.push('\n');
        text.push_str(next);
        used += 1;
    }
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "HOME").then(|| "/root".to_string())
    }

    #[test]
    fn lines_comments_quotes_and_exports() {
        let text =
            "# a comment\n\nexport A=1\nB = two words  # note\nC='single $A #kept'\nD=\"x\\ty $A\"\nE=${HOME}/data\nHOME\nNOT_SET\nF=\n";
        let got = parse(text, &env).unwrap();
        let want: Vec<(String, String)> =
            [("A", "1"), ("B", "two words"), ("C", "single $A #kept"), ("D", "x\ty 1"), ("E", "/root/data"), ("HOME", "/root"), ("F", "")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn double_quoted_values_span_lines() {
        let got = parse("KEY=\"first\nsecond\"\nNEXT=ok\n", &env).unwrap();
        assert_eq!(got, [("KEY".to_string(), "first\nsecond".to_string()), ("NEXT".into(), "ok".into())]);
    }

    #[test]
    fn errors_name_the_line() {
        assert_eq!(parse("OK=1\nBAD KEY=2\n", &env), Err(DotenvError::BadName { line: 2, name: "BAD KEY".into(), found: ' ' }));
        assert_eq!(parse("A=\"open\n", &env), Err(DotenvError::Unterminated { line: 1 }));
        assert!(matches!(parse("A=${B:?needed}\n", &env), Err(DotenvError::Interpolate { line: 1, .. })));
    }
}
