//! Word expansion as docker's Dockerfile shell lexer does it (Dockerfile reference,
//! "Environment replacement"): `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`,
//! `${VAR+word}`, `${VAR:?msg}`, `${VAR?msg}`; single quotes keep everything literal, double
//! quotes keep all but `$` expansions, and the escape character (`\` or the `# escape=` one)
//! makes the next character literal. Quotes are removed. Used for the instructions docker
//! expands (ADD, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR, ARG); RUN,
//! CMD and ENTRYPOINT are left to the shell.

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExpandError {
    #[error("unterminated quote in {0:?}")]
    UnterminatedQuote(String),
    #[error("missing '}}' in {0:?}")]
    UnterminatedBrace(String),
    #[error("{name}: {message}")]
    Required { name: String, message: String },
    #[error("bad substitution in {0:?}")]
    BadSubstitution(String),
}

/// Expands one word: quotes removed, variables replaced (unset ones by nothing).
pub fn expand(word: &str, lookup: &dyn Fn(&str) -> Option<String>, escape: char) -> Result<String, ExpandError> {
    Ok(Lexer { chars: word.chars().collect(), pos: 0, word, lookup, escape }.words(false)?.concat())
}

/// Expands and splits on unquoted whitespace (EXPOSE, VOLUME and the like take several words).
pub fn expand_words(text: &str, lookup: &dyn Fn(&str) -> Option<String>, escape: char) -> Result<Vec<String>, ExpandError> {
    Lexer { chars: text.chars().collect(), pos: 0, word: text, lookup, escape }.words(true)
}

struct Lexer<'a> {
    chars: Vec<char>,
    pos: usize,
    word: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
    escape: char,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.pos += 1;
        c
    }

    fn words(&mut self, split: bool) -> Result<Vec<String>, ExpandError> {
        let mut out = Vec::new();
        let mut cur = String::new();
        // Whether the current word has started (an empty quoted string is a word).
        let mut started = false;
        while let Some(c) = self.next() {
            match c {
                c if split && c.is_whitespace() => {
                    if started {
                        out.push(std::mem::take(&mut cur));
                        started = false;
                    }
                    continue;
                }
                '\'' => loop {
                    match self.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(ExpandError::UnterminatedQuote(self.word.to_string())),
                    }
                },
                '"' => loop {
                    match self.next() {
                        Some('"') => break,
                        Some('$') => cur.push_str(&self.variable()?),
                        Some(e) if e == self.escape => match self.peek() {
                            // In double quotes the escape only works before these.
                            Some(n) if n == '"' || n == '$' || n == self.escape => {
                                cur.push(n);
                                self.pos += 1;
                            }
                            _ => cur.push(e),
                        },
                        Some(x) => cur.push(x),
                        None => return Err(ExpandError::UnterminatedQuote(self.word.to_string())),
                    }
                },
                '$' => cur.push_str(&self.variable()?),
                e if e == self.escape => match self.next() {
                    Some(n) => cur.push(n),
                    // A lone escape at the very end stays.
                    None => cur.push(e),
                },
                x => cur.push(x),
            }
            started = true;
        }
        if started || (!split && out.is_empty()) {
            out.push(cur);
        }
        Ok(out)
    }

    /// After a `$`: a name, `{...}`, or a lone `$`.
    fn variable(&mut self) -> Result<String, ExpandError> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                self.braced()
            }
            Some(c) if c.is_ascii_alphanumeric() || c == '_' => {
                let mut name = String::new();
                while let Some(c) = self.peek().filter(|c| c.is_ascii_alphanumeric() || *c == '_') {
                    name.push(c);
                    self.pos += 1;
                }
                Ok((self.lookup)(&name).unwrap_or_default())
            }
            _ => Ok("$".into()),
        }
    }

    /// `${NAME}` and `${NAME<op>word}`; `word` is itself expanded (it may hold `$OTHER`).
    fn braced(&mut self) -> Result<String, ExpandError> {
        let mut name = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_ascii_alphanumeric() || *c == '_') {
            name.push(c);
            self.pos += 1;
        }
        if name.is_empty() {
            return Err(ExpandError::BadSubstitution(self.word.to_string()));
        }
        let value = (self.lookup)(&name);
        let colon = self.peek() == Some(':');
        if colon {
            self.pos += 1;
        }
        let op = self.next().ok_or_else(|| ExpandError::UnterminatedBrace(self.word.to_string()))?;
        if op == '}' && !colon {
            return Ok(value.unwrap_or_default());
        }
        if !matches!(op, '-' | '+' | '?') {
            return Err(ExpandError::BadSubstitution(self.word.to_string()));
        }
        // The operand runs to the matching brace; expansions inside are done on the way.
        let mut operand = String::new();
        loop {
            match self.next() {
                None => return Err(ExpandError::UnterminatedBrace(self.word.to_string())),
                Some('}') => break,
                // A nested `${...}` is consumed whole by variable().
                Some('$') => operand.push_str(&self.variable()?),
                Some(e) if e == self.escape => {
                    if let Some(n) = self.next() {
                        operand.push(n);
                    }
                }
                Some(c) => operand.push(c),
            }
        }
        // With ':' an empty value counts as unset, as in sh.
        let set = match &value {
            Some(v) => !(colon && v.is_empty()),
            None => false,
        };
        Ok(match op {
            '-' => {
                if set {
                    value.unwrap_or_default()
                } else {
                    operand
                }
            }
            '+' => {
                if set {
                    operand
                } else {
                    String::new()
                }
            }
            _ => {
                if set {
                    value.unwrap_or_default()
                } else {
                    let message = if operand.is_empty() { "is not allowed to be unset".to_string() } else { operand };
                    return Err(ExpandError::Required { name, message });
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOME" => Some("/root".into()),
            "EMPTY" => Some(String::new()),
            "V" => Some("1.2".into()),
            "SPACED" => Some("a b".into()),
            _ => None,
        }
    }

    fn x(s: &str) -> String {
        expand(s, &env, '\\').unwrap()
    }

    /// The cases of the Dockerfile reference's "Environment replacement" and docker's lexer
    /// tests.
    #[test]
    fn expansion_as_docker_does_it() {
        for (input, want) in [
            ("$HOME", "/root"),
            ("${HOME}/bin", "/root/bin"),
            ("pre${HOME}post", "pre/rootpost"),
            ("$UNSET", ""),
            ("${UNSET:-default}", "default"),
            ("${EMPTY:-default}", "default"),
            ("${EMPTY-default}", ""),
            ("${UNSET-default}", "default"),
            ("${HOME:+alt}", "alt"),
            ("${UNSET:+alt}", ""),
            ("${EMPTY:+alt}", ""),
            ("${EMPTY+alt}", "alt"),
            ("${UNSET:-$HOME/x}", "/root/x"),
            ("${UNSET:-${V}}", "1.2"),
            ("'$HOME'", "$HOME"),
            ("\"$HOME\"", "/root"),
            ("\\$HOME", "$HOME"),
            ("\"\\$HOME\"", "$HOME"),
            ("\"a\\b\"", "a\\b"),
            ("a\\ b", "a b"),
            ("\"it's\"", "it's"),
            ("'say \"hi\"'", "say \"hi\""),
            ("$", "$"),
            ("cost: $5", "cost: "),
            ("100%", "100%"),
            ("${V}-${V}", "1.2-1.2"),
        ] {
            assert_eq!(x(input), want, "{input}");
        }
    }

    #[test]
    fn words_split_outside_quotes_only() {
        let w = |s: &str| expand_words(s, &env, '\\').unwrap();
        assert_eq!(w("80/tcp  $V \"a b\" ''"), ["80/tcp", "1.2", "a b", ""]);
        assert_eq!(w("$SPACED"), ["a b"], "a value is not split again");
        assert_eq!(w("  "), Vec::<String>::new());
    }

    #[test]
    fn the_escape_directive_changes_the_escape() {
        assert_eq!(expand("c:\\path `$HOME", &env, '`').unwrap(), "c:\\path $HOME");
    }

    #[test]
    fn errors() {
        assert!(matches!(expand("'open", &env, '\\'), Err(ExpandError::UnterminatedQuote(_))));
        assert!(matches!(expand("${HOME", &env, '\\'), Err(ExpandError::UnterminatedBrace(_))));
        assert!(matches!(expand("${}", &env, '\\'), Err(ExpandError::BadSubstitution(_))));
        assert_eq!(expand("${UNSET:?set it}", &env, '\\').unwrap_err().to_string(), "UNSET: set it");
        assert_eq!(expand("${UNSET?}", &env, '\\').unwrap_err().to_string(), "UNSET: is not allowed to be unset");
        assert_eq!(expand("${HOME:?x}", &env, '\\').unwrap(), "/root");
    }
}
