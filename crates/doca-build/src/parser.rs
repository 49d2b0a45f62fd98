//! The Dockerfile's surface syntax: parser directives, comments, line continuations (with
//! comments and blank lines inside), instruction names in any case, `--flag` options, and JSON
//! (exec) form against shell form, where an argument that is not a valid JSON array of strings
//! falls back to shell form as docker's parser does. Word expansion (`$VAR`) and each
//! instruction's own rules come after this layer.

use serde::Serialize;

/// The instructions Docker knows (Dockerfile reference).
const INSTRUCTIONS: [&str; 18] = [
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// Instructions whose argument may be a JSON array (exec form).
const JSON_FORM: [&str; 7] = ["cmd", "entrypoint", "run", "shell", "copy", "add", "volume"];

/// Instructions that may be followed by here-documents.
const HEREDOC: [&str; 3] = ["run", "copy", "add"];

/// Instructions that take `--name=value` options before their arguments.
const WITH_FLAGS: [&str; 6] = ["from", "run", "copy", "add", "healthcheck", "onbuild"];

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "form", content = "value", rename_all = "lowercase")]
pub enum Args {
    /// `["executable", "arg"]`.
    Json(Vec<String>),
    /// Everything after the flags, as written (continuations joined).
    Shell(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instruction {
    /// Lowercase: `run`, `copy`, ...
    pub cmd: String,
    /// The first and last line it spans (1-based).
    pub line: usize,
    pub end_line: usize,
    /// `--from=builder`, `--chown=1:1`, as written.
    pub flags: Vec<String>,
    pub args: Args,
    /// `<<EOF` bodies, in the order of their markers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heredocs: Vec<Heredoc>,
}

/// A here-document: `<<EOF` (expanded later) or `<<"EOF"`/`<<'EOF'` (kept as written);
/// `<<-EOF` strips leading tabs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Heredoc {
    pub name: String,
    pub content: String,
    pub expand: bool,
}

struct Marker {
    word: String,
    strip_tabs: bool,
    expand: bool,
}

/// The `<<[-]WORD` markers of an instruction line (WORD optionally quoted).
fn heredoc_markers(line: &str) -> Vec<Marker> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("<<") {
        let mut tail = &rest[at + 2..];
        let strip_tabs = tail.starts_with('-');
        if strip_tabs {
            tail = &tail[1..];
        }
        let quote = tail.chars().next().filter(|c| *c == '"' || *c == '\'');
        if let Some(q) = quote {
            tail = &tail[1..];
            let word: String = tail.chars().take_while(|c| *c != q).collect();
            if !word.is_empty() && tail[word.len()..].starts_with(q) {
                rest = &tail[word.len() + 1..];
                out.push(Marker { word, strip_tabs, expand: false });
                continue;
            }
        } else {
            let word: String = tail.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !word.is_empty() {
                rest = &tail[word.len()..];
                out.push(Marker { word, strip_tabs, expand: true });
                continue;
            }
        }
        rest = tail;
    }
    out
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parsed {
    /// `# syntax=` when given.
    pub syntax: Option<String>,
    pub escape: char,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseError {
    #[error("Dockerfile:{line}: unknown instruction: {word}")]
    UnknownInstruction { line: usize, word: String },
    #[error("Dockerfile:{line}: invalid escape token '{value}' does not validate: must be ` or \\")]
    BadEscape { line: usize, value: String },
    #[error("Dockerfile:{line}: {instruction} requires at least one argument")]
    NoArguments { line: usize, instruction: String },
    #[error("Dockerfile: file with no instructions")]
    Empty,
    #[error("Dockerfile:{line}: unterminated heredoc {word}")]
    UnterminatedHeredoc { line: usize, word: String },
}

/// `# key=value` at the top of the file, before anything else (comments and blank lines end
/// the directives; an unknown key is an ordinary comment).
fn directive(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix('#')?.trim();
    let (k, v) = rest.split_once('=')?;
    let k = k.trim().to_ascii_lowercase();
    if k.is_empty() || k.contains(char::is_whitespace) {
        return None;
    }
    Some((k, v.trim().to_string()))
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// Strips a trailing escape character (after trailing whitespace): the line continues.
fn continues(line: &str, escape: char) -> Option<&str> {
    line.trim_end().strip_suffix(escape)
}

pub fn parse(text: &str) -> Result<Parsed, ParseError> {
    let lines: Vec<&str> = text.lines().collect();
    let mut escape = '\\';
    let mut syntax = None;
    let mut i = 0;
    // Parser directives.
    while i < lines.len() {
        let Some((k, v)) = directive(lines[i]) else { break };
        match k.as_str() {
            "escape" => {
                escape = match v.as_str() {
                    "\\" => '\\',
                    "`" => '`',
                    _ => return Err(ParseError::BadEscape { line: i + 1, value: v }),
                }
            }
            "syntax" => syntax = Some(v),
            _ => {}
        }
        i += 1;
    }
    let mut instructions = Vec::new();
    while i < lines.len() {
        let first = lines[i];
        if first.trim().is_empty() || is_comment(first) {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut logical = String::new();
        let mut current = first;
        loop {
            match continues(current, escape) {
                Some(head) => {
                    logical.push_str(head);
                    i += 1;
                    // Comment and blank lines inside a continued instruction are skipped.
                    while i < lines.len() && (is_comment(lines[i]) || lines[i].trim().is_empty()) {
                        i += 1;
                    }
                    if i >= lines.len() {
                        break;
                    }
                    current = lines[i];
                }
                None => {
                    logical.push_str(current);
                    break;
                }
            }
        }
        let mut end = i.min(lines.len() - 1) + 1;
        i += 1;
        let mut ins = instruction(logical.trim(), start, end)?;
        // Here-documents follow the instruction's line, one after the other (BuildKit's
        // Dockerfile 1.4 syntax, RUN/COPY/ADD).
        if HEREDOC.contains(&ins.cmd.as_str()) {
            for marker in heredoc_markers(logical.trim()) {
                let mut body = String::new();
                loop {
                    let Some(l) = lines.get(i) else {
                        return Err(ParseError::UnterminatedHeredoc { line: start, word: marker.word });
                    };
                    i += 1;
                    end = i;
                    let l = if marker.strip_tabs { l.trim_start_matches('\t') } else { l };
                    if l == marker.word {
                        break;
                    }
                    body.push_str(l);
                    body.push('\n');
                }
                ins.heredocs.push(Heredoc { name: marker.word, content: body, expand: marker.expand });
            }
            ins.end_line = end;
        }
        instructions.push(ins);
    }
    if instructions.is_empty() {
        return Err(ParseError::Empty);
    }
    Ok(Parsed { syntax, escape, instructions })
}

fn instruction(logical: &str, line: usize, end_line: usize) -> Result<Instruction, ParseError> {
    let (word, rest) = logical.split_once(char::is_whitespace).unwrap_or((logical, ""));
    let cmd = word.to_ascii_lowercase();
    if !INSTRUCTIONS.contains(&cmd.as_str()) {
        return Err(ParseError::UnknownInstruction { line, word: word.to_string() });
    }
    let mut rest = rest.trim_start();
    let mut flags = Vec::new();
    if WITH_FLAGS.contains(&cmd.as_str()) {
        while let Some(after) = rest.strip_prefix("--") {
            if after.is_empty() || after.starts_with(char::is_whitespace) {
                break;
            }
            let (flag, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            flags.push(flag.to_string());
            rest = tail.trim_start();
        }
    }
    if rest.is_empty() && cmd != "healthcheck" {
        return Err(ParseError::NoArguments { line, instruction: cmd.to_ascii_uppercase() });
    }
    let args = match JSON_FORM.contains(&cmd.as_str()).then(|| json_array(rest)).flatten() {
        Some(v) => Args::Json(v),
        None => Args::Shell(rest.to_string()),
    };
    Ok(Instruction { cmd, line, end_line, flags, args, heredocs: Vec::new() })
}

/// A JSON array of strings, or None (shell form, as docker falls back).
fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    match serde_json::from_str::<serde_json::Value>(s).ok()? {
        serde_json::Value::Array(items) => items.into_iter().map(|v| v.as_str().map(String::from)).collect(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// Every folder of testdata/: its Dockerfile parses to parsed.json (or fails with the text
    /// of error.txt). UPDATE_GOLDEN=1 rewrites the expected files.
    #[test]
    fn golden_cases() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
        let mut n = 0;
        for case in std::fs::read_dir(&root).unwrap().flatten() {
            let dir = case.path();
            let text = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
            let (file, got) = match parse(&text) {
                Ok(p) => ("parsed.json", serde_json::to_string_pretty(&p).unwrap() + "\n"),
                Err(e) => ("error.txt", format!("{e}\n")),
            };
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                std::fs::write(dir.join(file), &got).unwrap();
            }
            let want = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|_| panic!("{}: no {file}", dir.display()));
            assert_eq!(got, want, "{}", dir.display());
            n += 1;
        }
        assert!(n >= 5, "golden cases found: {n}");
    }

    #[test]
    fn errors_name_the_line() {
        let e = parse("FROM busybox\n\n# c\nRUNN true\n").unwrap_err();
        assert_eq!(e.to_string(), "Dockerfile:4: unknown instruction: RUNN");
        assert_eq!(
            parse("# escape=x\nFROM a\n").unwrap_err().to_string(),
            "Dockerfile:1: invalid escape token 'x' does not validate: must be ` or \\"
        );
        assert_eq!(parse("FROM a\nRUN\n").unwrap_err().to_string(), "Dockerfile:2: RUN requires at least one argument");
        assert_eq!(parse("# just a comment\n\n").unwrap_err(), ParseError::Empty);
        assert_eq!(parse("FROM a\nRUN <<EOF\necho\n").unwrap_err().to_string(), "Dockerfile:2: unterminated heredoc EOF");
    }
}
