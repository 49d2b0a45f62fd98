//! `.dockerignore` (Dockerfile reference, ".dockerignore file") and the wildcards of COPY/ADD
//! sources, with the rules of docker's moby/patternmatcher: patterns are cleaned paths
//! relative to the context root (a leading `/` means the same), `*` and `?` never match `/`,
//! `**` matches any number of directories, `[...]` classes and `\` escapes as Go's
//! filepath.Match; a pattern that matches a directory excludes everything under it; lines
//! starting with `!` are exceptions; the last pattern that matches decides.

/// Go's path.Clean for a relative, slash-separated path ("" and "." become ".").
pub fn clean(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|p| *p != "..") {
                    out.pop();
                } else if !path.starts_with('/') {
                    out.push("..");
                }
            }
            p => out.push(p),
        }
    }
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}

/// One path segment against one pattern segment (no `/` in either), as filepath.Match.
fn match_segment(pat: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    // Where to resume after the last `*`: (pattern index after it, name index it covers to).
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pat.len() {
            match pat[p] {
                '*' => {
                    star = Some((p + 1, n));
                    p += 1;
                    continue;
                }
                '?' => {
                    p += 1;
                    n += 1;
                    continue;
                }
                '[' => {
                    if let Some((ok, len)) = class(&pat[p..], name[n]) {
                        if ok {
                            p += len;
                            n += 1;
                            continue;
                        }
                    }
                }
                '\\' if p + 1 < pat.len() && pat[p + 1] == name[n] => {
                    p += 2;
                    n += 1;
                    continue;
                }
                c if c == name[n] => {
                    p += 1;
                    n += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, sn)) => {
                p = sp;
                n = sn + 1;
                star = Some((sp, sn + 1));
            }
            None => return false,
        }
    }
    pat[p..].iter().all(|c| *c == '*')
}

/// A `[...]` class at the start of `pat`: whether `c` is in it, and the class's length.
fn class(pat: &[char], c: char) -> Option<(bool, usize)> {
    let mut i = 1;
    let negate = matches!(pat.get(1), Some('^' | '!'));
    if negate {
        i += 1;
    }
    let mut hit = false;
    let mut first = true;
    while i < pat.len() {
        if pat[i] == ']' && !first {
            return Some((hit != negate, i + 1));
        }
        first = false;
        let mut lo = pat[i];
        if lo == '\\' {
            i += 1;
            lo = *pat.get(i)?;
        }
        let mut hi = lo;
        if pat.get(i + 1) == Some(&'-') && pat.get(i + 2).is_some_and(|c| *c != ']') {
            hi = pat[i + 2];
            i += 2;
        }
        if lo <= c && c <= hi {
            hit = true;
        }
        i += 1;
    }
    None
}

/// A slash-separated pattern against a slash-separated path, `**` spanning directories.
pub fn glob_match(pattern: &str, path: &str) -> bool {
    let pat: Vec<&str> = pattern.split('/').collect();
    let name: Vec<&str> = path.split('/').collect();
    match_parts(&pat, &name)
}

fn match_parts(pat: &[&str], name: &[&str]) -> bool {
    match pat.first() {
        None => name.is_empty(),
        Some(&"**") => (0..=name.len()).any(|skip| match_parts(&pat[1..], &name[skip..])),
        Some(p) => {
            !name.is_empty()
                && match_segment(&p.chars().collect::<Vec<_>>(), &name[0].chars().collect::<Vec<_>>())
                && match_parts(&pat[1..], &name[1..])
        }
    }
}

pub fn has_wildcard(s: &str) -> bool {
    s.contains(['*', '?', '['])
}

#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    exclusion: bool,
}

/// A parsed `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    patterns: Vec<Pattern>,
}

impl Ignore {
    /// The file's lines: `#` comments and blank lines skipped, whitespace trimmed.
    pub fn parse(text: &str) -> Ignore {
        let mut patterns = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (exclusion, body) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let text = clean(body.trim_start_matches('/'));
            if text == "." && !exclusion {
                // "." would exclude the whole context; docker skips it.
                continue;
            }
            patterns.push(Pattern { text, exclusion });
        }
        Ignore { patterns }
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (relative to the context root, slash-separated) is left out: the last
    /// pattern that matches it or one of its parent directories decides.
    pub fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for p in &self.patterns {
            if p.exclusion == excluded {
                // Only a pattern that could change the answer needs matching.
                let mut matched = glob_match(&p.text, path);
                if !matched {
                    // A pattern matching a parent directory matches everything below it.
                    let mut cur = path;
                    while let Some((parent, _)) = cur.rsplit_once('/') {
                        if glob_match(&p.text, parent) {
                            matched = true;
                            break;
                        }
                        cur = parent;
                    }
                }
                if matched {
                    excluded = !p.exclusion;
                }
            }
        }
        excluded
    }

    /// Whether a directory's walk may be skipped: it is excluded and no exception could
    /// bring anything under it back.
    pub fn skips_dir(&self, dir: &str) -> bool {
        self.excludes(dir)
            && !self.patterns.iter().any(|p| p.exclusion && (p.text.starts_with(&format!("{dir}/")) || has_wildcard(&p.text)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_filepath_match_rules() {
        assert!(glob_match("*.txt", "a.txt"));
        assert!(!glob_match("*.txt", "dir/a.txt"));
        assert!(glob_match("*/*.txt", "dir/a.txt"));
        assert!(glob_match("**/*.txt", "a.txt"));
        assert!(glob_match("**/*.txt", "x/y/z.txt"));
        assert!(glob_match("a/**", "a/b/c"));
        assert!(glob_match("file?", "file1"));
        assert!(!glob_match("file?", "file12"));
        assert!(glob_match("[a-c]x", "bx"));
        assert!(!glob_match("[^a-c]x", "bx"));
        assert!(glob_match("a\\*b", "a*b"));
        assert!(!glob_match("a\\*b", "axb"));
    }

    #[test]
    fn dockerignore_exceptions_and_parents() {
        let i = Ignore::parse("# comment\n/node_modules\n*.md\n!README.md\n**/*.tmp\ntarget/\n");
        assert!(i.excludes("node_modules"));
        assert!(i.excludes("node_modules/x/y.js"));
        assert!(i.excludes("CHANGES.md"));
        assert!(!i.excludes("README.md"));
        assert!(!i.excludes("docs/CHANGES.md"), "*.md is anchored at the root");
        assert!(i.excludes("a/b/c.tmp"));
        assert!(i.excludes("target/debug/x"));
        assert!(!i.excludes("src/main.rs"));
        let j = Ignore::parse("*\n!src\n");
        assert!(j.excludes("Dockerfile"));
        assert!(!j.excludes("src/a.rs"));
        assert!(j.skips_dir("other"));
        assert!(!j.skips_dir("src"));
    }

    #[test]
    fn clean_paths() {
        assert_eq!(clean("./a//b/../c/"), "a/c");
        assert_eq!(clean(""), ".");
        assert_eq!(clean("../x"), "../x");
    }
}
