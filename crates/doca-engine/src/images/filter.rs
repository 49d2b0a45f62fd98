//! `--filter` for images: dangling=, label=, reference=, before=, since= (docker's keys).

use crate::EngineError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFilter {
    Dangling(bool),
    Label {
        key: String,
        value: Option<String>,
    },
    /// A glob matched against `name` and `name:tag` in their familiar form.
    Reference(String),
    Before(String),
    Since(String),
}

impl ImageFilter {
    pub fn parse(s: &str) -> Result<ImageFilter, EngineError> {
        let (k, v) =
            s.split_once('=').ok_or_else(|| EngineError::InvalidArgument(format!("bad format of filter (expected name=value): {s}")))?;
        Ok(match k.to_ascii_lowercase().as_str() {
            "dangling" => match v.to_ascii_lowercase().as_str() {
                "true" | "1" => ImageFilter::Dangling(true),
                "false" | "0" => ImageFilter::Dangling(false),
                _ => return Err(EngineError::InvalidArgument(format!("invalid filter 'dangling={v}'"))),
            },
            "label" => match v.split_once('=') {
                Some((k, val)) => ImageFilter::Label { key: k.to_string(), value: Some(val.to_string()) },
                None => ImageFilter::Label { key: v.to_string(), value: None },
            },
            "reference" => ImageFilter::Reference(v.to_string()),
            "before" => ImageFilter::Before(v.to_string()),
            "since" => ImageFilter::Since(v.to_string()),
            _ => return Err(EngineError::InvalidFilter(k.to_string())),
        })
    }
}

/// Go's path.Match: `*` matches any run of non-'/' characters, `?` one, `[...]` a class.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    fn m(p: &[char], n: &[char]) -> bool {
        match p.first() {
            None => n.is_empty(),
            Some('*') => (0..=n.len()).take_while(|&i| i == 0 || n[i - 1] != '/').any(|i| m(&p[1..], &n[i..])),
            Some('?') => !n.is_empty() && n[0] != '/' && m(&p[1..], &n[1..]),
            Some('[') => {
                let Some(end) = p.iter().position(|&c| c == ']') else { return false };
                if n.is_empty() {
                    return false;
                }
                let class = &p[1..end];
                let (neg, class) = match class.first() {
                    Some('^') | Some('!') => (true, &class[1..]),
                    _ => (false, class),
                };
                let mut hit = false;
                let mut i = 0;
                while i < class.len() {
                    if i + 2 < class.len() && class[i + 1] == '-' {
                        hit |= class[i] <= n[0] && n[0] <= class[i + 2];
                        i += 3;
                    } else {
                        hit |= class[i] == n[0];
                        i += 1;
                    }
                }
                hit != neg && m(&p[end + 1..], &n[1..])
            }
            Some('\\') if p.len() > 1 => !n.is_empty() && n[0] == p[1] && m(&p[2..], &n[1..]),
            Some(&c) => !n.is_empty() && n[0] == c && m(&p[1..], &n[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    m(&p, &n)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn parses_and_globs() {
        assert_eq!(ImageFilter::parse("dangling=true").unwrap(), ImageFilter::Dangling(true));
        assert!(matches!(ImageFilter::parse("bogus=1"), Err(EngineError::InvalidFilter(_))));
        assert!(glob_match("busy*", "busybox"));
        assert!(glob_match("busybox:*", "busybox:latest"));
        assert!(!glob_match("*", "a/b"));
        assert!(glob_match("*/*", "a/b"));
        assert!(glob_match("b[a-u]sy?ox", "busybox"));
    }
}
