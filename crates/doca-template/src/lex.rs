//! Splits a template into text and action tokens.

use crate::TemplateError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Text(String),
    /// Start of an action, with its line.
    Open(usize),
    Close,
    Field(Vec<String>),
    Var(String, Vec<String>),
    Dot,
    Ident(String),
    Str(String),
    Num(f64),
    Pipe,
    LParen,
    RParen,
    /// `.Field` chain after `)`.
    Chain(Vec<String>),
    Declare,
    Assign,
    Comma,
}

pub fn lex(src: &str) -> Result<Vec<(Tok, usize)>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut line = 1;
    let err = |line, msg: String| TemplateError::Parse { line, msg };
    while !rest.is_empty() {
        let Some(i) = rest.find("{{") else {
            out.push((Tok::Text(rest.to_string()), line));
            break;
        };
        let mut text = &rest[..i];
        let after = &rest[i + 2..];
        let trim_left = after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n");
        if trim_left {
            text = text.trim_end();
        }
        if !text.is_empty() {
            out.push((Tok::Text(text.to_string()), line));
        }
        line += rest[..i].matches('\n').count();
        let body_start = if trim_left { &after[1..] } else { after };
        // Comments: {{/* ... */}}
        let trimmed = body_start.trim_start();
        if let Some(c) = trimmed.strip_prefix("/*") {
            let end = c.find("*/").ok_or_else(|| err(line, "unclosed comment".into()))?;
            let tail = c[end + 2..].trim_start();
            let (tail, trim_right) = match tail.strip_prefix("-}}") {
                Some(t) => (t, true),
                None => (tail.strip_prefix("}}").ok_or_else(|| err(line, "comment ends before closing delimiter".into()))?, false),
            };
            rest = if trim_right { tail.trim_start() } else { tail };
            continue;
        }
        out.push((Tok::Open(line), line));
        let mut s = body_start;
        loop {
            let t = s.trim_start_matches([' ', '\t', '\r', '\n']);
            line += s[..s.len() - t.len()].matches('\n').count();
            s = t;
            if let Some(r) = s.strip_prefix("-}}") {
                out.push((Tok::Close, line));
                rest = r.trim_start();
                break;
            }
            if let Some(r) = s.strip_prefix("}}") {
                out.push((Tok::Close, line));
                rest = r;
                break;
            }
            let c = s.chars().next().ok_or_else(|| err(line, "unclosed action".into()))?;
            let (tok, used) = match c {
                '|' => (Tok::Pipe, 1),
                '(' => (Tok::LParen, 1),
                ')' => (Tok::RParen, 1),
                ',' => (Tok::Comma, 1),
                ':' if s.starts_with(":=") => (Tok::Declare, 2),
                '=' => (Tok::Assign, 1),
                '"' => {
                    let mut v = String::new();
                    let mut it = s.char_indices().skip(1);
                    let mut end = None;
                    while let Some((j, ch)) = it.next() {
                        match ch {
                            '"' => {
                                end = Some(j + 1);
                                break;
                            }
                            '\\' => match it.next().map(|x| x.1) {
                                Some('n') => v.push('\n'),
                                Some('t') => v.push('\t'),
                                Some('r') => v.push('\r'),
                                Some('\\') => v.push('\\'),
                                Some('"') => v.push('"'),
                                Some(o) => return Err(err(line, format!("unknown escape sequence \\{o}"))),
                                None => break,
                            },
                            '\n' => break,
                            ch => v.push(ch),
                        }
                    }
                    (Tok::Str(v), end.ok_or_else(|| err(line, "unterminated quoted string".into()))?)
                }
                '`' => {
                    let end = s[1..].find('`').ok_or_else(|| err(line, "unterminated raw quoted string".into()))?;
                    (Tok::Str(s[1..1 + end].to_string()), end + 2)
                }
                '.' | '$' => {
                    let n = s[1..].find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '.')).map(|n| n + 1).unwrap_or(s.len());
                    let word = &s[..n];
                    let tok = if c == '$' {
                        let mut parts = word[1..].split('.');
                        let name = parts.next().unwrap_or("").to_string();
                        let fields: Vec<String> = parts.map(str::to_string).collect();
                        if fields.iter().any(|f| f.is_empty()) {
                            return Err(err(line, format!("bad variable {word:?}")));
                        }
                        Tok::Var(name, fields)
                    } else if word == "." {
                        Tok::Dot
                    } else {
                        let fields: Vec<String> = word[1..].split('.').map(str::to_string).collect();
                        if fields.iter().any(|f| f.is_empty()) {
                            return Err(err(line, format!("bad field {word:?}")));
                        }
                        // `(...).Field` chains onto the preceding parenthesized pipeline.
                        if matches!(out.last(), Some((Tok::RParen, _))) {
                            Tok::Chain(fields)
                        } else {
                            Tok::Field(fields)
                        }
                    };
                    (tok, n)
                }
                c if c.is_ascii_digit() || c == '-' || c == '+' => {
                    let n = s.find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '.' || ch == '-' || ch == '+')).unwrap_or(s.len());
                    let v: f64 = s[..n].parse().map_err(|_| err(line, format!("bad number syntax: {:?}", &s[..n])))?;
                    (Tok::Num(v), n)
                }
                c if c.is_alphabetic() || c == '_' => {
                    let n = s.find(|ch: char| !(ch.is_alphanumeric() || ch == '_')).unwrap_or(s.len());
                    (Tok::Ident(s[..n].to_string()), n)
                }
                other => return Err(err(line, format!("unexpected {other:?} in command"))),
            };
            out.push((tok, line));
            s = &s[used..];
        }
    }
    Ok(out)
}
