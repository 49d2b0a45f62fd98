//! Each instruction's own rules (Dockerfile reference, one section per instruction): its flags,
//! its arguments after word expansion, and docker's messages when they are wrong. The parser
//! gives the surface syntax; this turns one parsed instruction into a [`Command`] with the
//! variables in scope at that point of the build.

use crate::expand::{expand, expand_words, ExpandError};
use crate::parser::{Args, Heredoc, Instruction};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InstructionError {
    #[error("Dockerfile:{line}: {message}")]
    Invalid { line: usize, message: String },
}

fn invalid(ins: &Instruction, message: impl Into<String>) -> InstructionError {
    InstructionError::Invalid { line: ins.line, message: message.into() }
}

fn expand_err(ins: &Instruction) -> impl Fn(ExpandError) -> InstructionError + '_ {
    move |e| invalid(ins, format!("{}: {e}", ins.cmd.to_ascii_uppercase()))
}

/// A `--mount` of `RUN` (BuildKit's Dockerfile syntax 1.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RunMount {
    /// `type=cache,target=/root/.cache[,id=..][,sharing=..]`: a directory kept between builds.
    Cache { id: String, target: String },
    /// `type=bind,target=/src[,source=.][,from=stage][,rw]`: context (or a stage) mounted in.
    Bind { source: String, target: String, from: Option<String>, readonly: bool },
    /// `type=tmpfs,target=/tmp`.
    Tmpfs { target: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CopySpec {
    /// ADD: local archives are extracted.
    pub add: bool,
    pub sources: Vec<String>,
    pub dest: String,
    pub from: Option<String>,
    pub chown: Option<String>,
    pub chmod: Option<u32>,
    pub link: bool,
    /// Sources named by a here-document (`COPY <<EOF /file`).
    pub heredocs: Vec<Heredoc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// `["CMD-SHELL", "..."]`, `["CMD", ...]` or `["NONE"]`.
    pub test: Vec<String>,
    pub interval: Option<i64>,
    pub timeout: Option<i64>,
    pub start_period: Option<i64>,
    pub start_interval: Option<i64>,
    pub retries: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    From {
        image: String,
        name: Option<String>,
        platform: Option<String>,
    },
    /// The argv for exec form; for shell form the text (here-documents joined in), run by SHELL.
    Run {
        args: Args,
        mounts: Vec<RunMount>,
        network: Option<String>,
    },
    Cmd(Args),
    Entrypoint(Args),
    Env(Vec<(String, String)>),
    Arg(Vec<(String, Option<String>)>),
    Label(Vec<(String, String)>),
    Expose(Vec<String>),
    Volume(Vec<String>),
    Copy(CopySpec),
    Workdir(String),
    User(String),
    Shell(Vec<String>),
    StopSignal(String),
    Healthcheck(Health),
    Onbuild(String),
    Maintainer(String),
}

/// `--name=value` flags against the ones an instruction knows; a flag given twice keeps its
/// last value except those that may repeat (`--mount`).
struct Flags<'a> {
    ins: &'a Instruction,
    values: Vec<(String, String)>,
}

impl<'a> Flags<'a> {
    fn new(ins: &'a Instruction, known: &[&str]) -> Result<Self, InstructionError> {
        let mut values = Vec::new();
        for f in &ins.flags {
            let body = f.trim_start_matches('-');
            let (k, v) = body.split_once('=').unwrap_or((body, ""));
            if !known.contains(&k) {
                return Err(invalid(ins, format!("unknown flag: {k}")));
            }
            values.push((k.to_string(), v.to_string()));
        }
        Ok(Flags { ins, values })
    }

    fn get(&self, k: &str, lookup: &dyn Fn(&str) -> Option<String>, escape: char) -> Result<Option<String>, InstructionError> {
        match self.values.iter().rev().find(|(n, _)| n == k) {
            Some((_, v)) => Ok(Some(expand(v, lookup, escape).map_err(expand_err(self.ins))?)),
            None => Ok(None),
        }
    }

    fn all(&self, k: &str) -> Vec<&str> {
        self.values.iter().filter(|(n, _)| n == k).map(|(_, v)| v.as_str()).collect()
    }

    fn has(&self, k: &str) -> bool {
        self.values.iter().any(|(n, _)| n == k)
    }
}

/// Whether docker expands variables in this instruction's arguments.
fn expands(cmd: &str) -> bool {
    matches!(cmd, "add" | "copy" | "env" | "expose" | "from" | "label" | "stopsignal" | "user" | "volume" | "workdir" | "arg")
}

fn shell_text(ins: &Instruction) -> String {
    match &ins.args {
        Args::Shell(s) => s.clone(),
        Args::Json(v) => v.join(" "),
    }
}

/// `KEY=VALUE ...` (or the old `KEY VALUE` form for ENV and LABEL when the first word has no
/// `=`): docker's parseNameVal.
fn name_values(
    ins: &Instruction,
    lookup: &dyn Fn(&str) -> Option<String>,
    escape: char,
) -> Result<Vec<(String, String)>, InstructionError> {
    let text = shell_text(ins);
    let what = ins.cmd.to_ascii_uppercase();
    let first = text.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let rest = text.trim_start()[first.len()..].trim();
        if rest.is_empty() {
            return Err(invalid(ins, format!("{what} must have two arguments")));
        }
        let value = expand(rest, lookup, escape).map_err(expand_err(ins))?;
        return Ok(vec![(first.to_string(), value)]);
    }
    let mut out = Vec::new();
    for word in expand_words(&text, lookup, escape).map_err(expand_err(ins))? {
        match word.split_once('=') {
            Some((k, v)) if !k.is_empty() => out.push((k.to_string(), v.to_string())),
            _ => return Err(invalid(ins, format!("{what} names can not be blank"))),
        }
    }
    Ok(out)
}

/// `30s`, `1m30s`, `500ms`, `2h`: Go's time.ParseDuration, in nanoseconds.
pub fn parse_duration(s: &str) -> Option<i64> {
    let mut total: f64 = 0.0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    if rest == "0" {
        return Some(0);
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let value: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..u] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * scale;
        rest = &rest[u..];
    }
    Some(total as i64)
}

fn run_mount(ins: &Instruction, spec: &str) -> Result<RunMount, InstructionError> {
    let mut kind = "bind".to_string();
    let (mut target, mut source, mut from, mut id, mut readonly) = (None, None, None, None, None);
    for field in spec.split(',') {
        let (k, v) = field.split_once('=').unwrap_or((field, ""));
        match k {
            "type" => kind = v.to_string(),
            "target" | "dst" | "destination" => target = Some(v.to_string()),
            "source" | "src" => source = Some(v.to_string()),
            "from" => from = Some(v.to_string()),
            "id" => id = Some(v.to_string()),
            "rw" | "readwrite" => readonly = Some(v == "false"),
            "ro" | "readonly" => readonly = Some(v != "false"),
            // Accepted and without effect in a build that runs one step at a time.
            "sharing" | "mode" | "uid" | "gid" | "required" | "size" => {}
            _ => return Err(invalid(ins, format!("unexpected key '{k}' in '{field}'"))),
        }
    }
    let target = target.ok_or_else(|| invalid(ins, format!("mount {spec:?}: target is required")))?;
    Ok(match kind.as_str() {
        "cache" => RunMount::Cache { id: id.unwrap_or_else(|| target.clone()), target },
        "bind" => RunMount::Bind { source: source.unwrap_or_else(|| "/".into()), target, from, readonly: readonly.unwrap_or(true) },
        "tmpfs" => RunMount::Tmpfs { target },
        other => return Err(invalid(ins, format!("unsupported mount type {other:?} (cache, bind and tmpfs are)"))),
    })
}

/// The text a shell-form RUN hands to the shell: the line, then its here-documents as the
/// shell reads them. A RUN that is only `<<EOF` runs the document itself as the script.
fn run_script(ins: &Instruction, text: &str) -> String {
    let trimmed = text.trim();
    if let [doc] = ins.heredocs.as_slice() {
        let bare = trimmed.trim_start_matches("<<").trim_start_matches('-').trim_matches(|c| c == '"' || c == '\'');
        if bare == doc.name {
            return doc.content.clone();
        }
    }
    let mut script = trimmed.to_string();
    for doc in &ins.heredocs {
        script.push('\n');
        script.push_str(&doc.content);
        script.push_str(&doc.name);
    }
    script
}

fn exec_or_shell(ins: &Instruction) -> Args {
    match &ins.args {
        Args::Json(v) => Args::Json(v.clone()),
        Args::Shell(s) => Args::Shell(run_script(ins, s)),
    }
}

/// The instruction as a command, with `lookup` giving the variables in scope (ENV and ARG).
pub fn command(ins: &Instruction, escape: char, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Command, InstructionError> {
    let cmd = ins.cmd.as_str();
    let words = || -> Result<Vec<String>, InstructionError> {
        match &ins.args {
            Args::Json(v) if expands(cmd) => v.iter().map(|w| expand(w, lookup, escape).map_err(expand_err(ins))).collect(),
            Args::Json(v) => Ok(v.clone()),
            Args::Shell(s) => expand_words(s, lookup, escape).map_err(expand_err(ins)),
        }
    };
    let upper = cmd.to_ascii_uppercase();
    Ok(match cmd {
        "from" => {
            let flags = Flags::new(ins, &["platform"])?;
            let w = words()?;
            let (image, name) = match w.as_slice() {
                [image] => (image.clone(), None),
                [image, as_, name] if as_.eq_ignore_ascii_case("as") => (image.clone(), Some(name.to_ascii_lowercase())),
                _ => return Err(invalid(ins, "FROM requires either one or three arguments")),
            };
            if let Some(n) = &name {
                let ok = n.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                    && n.chars().all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
                if !ok {
                    return Err(invalid(
                        ins,
                        format!("invalid name for build stage: {n:?}, name can't start with a number or contain symbols"),
                    ));
                }
            }
            if image.is_empty() {
                return Err(invalid(ins, "FROM requires an image name (was it an unset build argument?)"));
            }
            Command::From { image, name, platform: flags.get("platform", lookup, escape)? }
        }
        "run" => {
            let flags = Flags::new(ins, &["mount", "network", "security"])?;
            let mut mounts = Vec::new();
            for m in flags.all("mount") {
                let m = expand(m, lookup, escape).map_err(expand_err(ins))?;
                mounts.push(run_mount(ins, &m)?);
            }
            let network = flags.get("network", lookup, escape)?;
            if let Some(n) = &network {
                if !matches!(n.as_str(), "default" | "none" | "host") {
                    return Err(invalid(ins, format!("unsupported network mode {n:?} (default, none and host are)")));
                }
            }
            if let Some(s) = flags.get("security", lookup, escape)? {
                if s != "sandbox" {
                    return Err(invalid(ins, format!("RUN --security={s} is not allowed: builds run sandboxed")));
                }
            }
            Command::Run { args: exec_or_shell(ins), mounts, network }
        }
        "cmd" => {
            Flags::new(ins, &[])?;
            Command::Cmd(exec_or_shell(ins))
        }
        "entrypoint" => {
            Flags::new(ins, &[])?;
            Command::Entrypoint(exec_or_shell(ins))
        }
        "env" => Command::Env(name_values(ins, lookup, escape)?),
        "label" => Command::Label(name_values(ins, lookup, escape)?),
        "arg" => {
            let mut out = Vec::new();
            for w in words()? {
                match w.split_once('=') {
                    Some((k, v)) => out.push((k.to_string(), Some(v.to_string()))),
                    None => out.push((w, None)),
                }
            }
            if out.iter().any(|(k, _)| k.is_empty()) {
                return Err(invalid(ins, "ARG names can not be blank"));
            }
            Command::Arg(out)
        }
        "expose" => {
            let ports = words()?;
            for p in &ports {
                let (num, proto) = p.split_once('/').unwrap_or((p, "tcp"));
                let range_ok = match num.split_once('-') {
                    Some((a, b)) => a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok(),
                    None => num.parse::<u16>().is_ok(),
                };
                if !range_ok || !matches!(proto.to_ascii_lowercase().as_str(), "tcp" | "udp" | "sctp") {
                    return Err(invalid(ins, format!("invalid containerPort: {p}")));
                }
            }
            Command::Expose(ports)
        }
        "volume" => {
            let v: Vec<String> = words()?.into_iter().filter(|w| !w.trim().is_empty()).collect();
            if v.is_empty() {
                return Err(invalid(ins, "VOLUME specified can not be an empty string"));
            }
            Command::Volume(v)
        }
        "copy" | "add" => {
            let known: &[&str] = if cmd == "copy" {
                &["from", "chown", "chmod", "link", "parents", "exclude"]
            } else {
                &["chown", "chmod", "link", "checksum", "keep-git-dir", "exclude"]
            };
            let flags = Flags::new(ins, known)?;
            let mut w = words()?;
            if w.len() < 2 {
                return Err(invalid(
                    ins,
                    format!("{upper} requires at least two arguments, but only one was provided. Destination could not be determined."),
                ));
            }
            let dest = w.pop().unwrap_or_default();
            let chmod = match flags.get("chmod", lookup, escape)? {
                Some(m) => Some(
                    u32::from_str_radix(&m, 8)
                        .ok()
                        .filter(|m| *m <= 0o7777)
                        .ok_or_else(|| invalid(ins, format!("invalid chmod parameter: {m}")))?,
                ),
                None => None,
            };
            if flags.has("parents") || flags.has("exclude") {
                return Err(invalid(
                    ins,
                    format!("{upper} --parents and --exclude need the labs Dockerfile syntax, which doca does not implement"),
                ));
            }
            let heredocs = ins
                .heredocs
                .iter()
                .filter(|h| w.iter().any(|s| s.trim_start_matches("<<").trim_start_matches('-') == h.name))
                .cloned()
                .collect();
            Command::Copy(CopySpec {
                add: cmd == "add",
                sources: w,
                dest,
                from: flags.get("from", lookup, escape)?,
                chown: flags.get("chown", lookup, escape)?.filter(|c| !c.is_empty()),
                chmod,
                link: flags.has("link"),
                heredocs,
            })
        }
        "workdir" => {
            let w = expand(shell_text(ins).trim(), lookup, escape).map_err(expand_err(ins))?;
            if w.is_empty() {
                return Err(invalid(ins, "WORKDIR requires exactly one argument"));
            }
            Command::Workdir(w)
        }
        "user" => {
            let w = words()?;
            match w.as_slice() {
                [u] => Command::User(u.clone()),
                _ => return Err(invalid(ins, "USER requires exactly one argument")),
            }
        }
        "shell" => match &ins.args {
            Args::Json(v) if !v.is_empty() => Command::Shell(v.clone()),
            _ => return Err(invalid(ins, "SHELL requires the arguments to be in JSON form")),
        },
        "stopsignal" => {
            let w = words()?;
            match w.as_slice() {
                [s] => Command::StopSignal(s.clone()),
                _ => return Err(invalid(ins, "STOPSIGNAL requires exactly one argument")),
            }
        }
        "healthcheck" => {
            let flags = Flags::new(ins, &["interval", "timeout", "start-period", "start-interval", "retries"])?;
            let text = shell_text(ins);
            let (kind, rest) = text.trim().split_once(char::is_whitespace).map(|(a, b)| (a, b.trim())).unwrap_or((text.trim(), ""));
            let test = match kind.to_ascii_uppercase().as_str() {
                "NONE" if rest.is_empty() && ins.flags.is_empty() => vec!["NONE".to_string()],
                "NONE" => return Err(invalid(ins, "HEALTHCHECK NONE takes no arguments")),
                "CMD" if rest.is_empty() => return Err(invalid(ins, "Missing command after HEALTHCHECK CMD")),
                "CMD" => match serde_json::from_str::<Vec<String>>(rest) {
                    Ok(v) => std::iter::once("CMD".to_string()).chain(v).collect(),
                    Err(_) => vec!["CMD-SHELL".to_string(), rest.to_string()],
                },
                other => return Err(invalid(ins, format!("Unknown type {other:?} in HEALTHCHECK (try CMD)"))),
            };
            let duration = |k: &str| -> Result<Option<i64>, InstructionError> {
                match flags.get(k, lookup, escape)? {
                    Some(v) => parse_duration(&v)
                        .filter(|d| *d >= 0)
                        .map(Some)
                        .ok_or_else(|| invalid(ins, format!("invalid --{k}: {v:?} is not a duration"))),
                    None => Ok(None),
                }
            };
            let retries = match flags.get("retries", lookup, escape)? {
                Some(r) => {
                    Some(r.parse::<i64>().ok().filter(|r| *r >= 0).ok_or_else(|| invalid(ins, format!("invalid --retries: {r:?}")))?)
                }
                None => None,
            };
            Command::Healthcheck(Health {
                test,
                interval: duration("interval")?,
                timeout: duration("timeout")?,
                start_period: duration("start-period")?,
                start_interval: duration("start-interval")?,
                retries,
            })
        }
        "onbuild" => {
            let text = shell_text(ins);
            let inner = text.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            if matches!(inner.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                return Err(invalid(ins, format!("{inner} isn't allowed as an ONBUILD trigger")));
            }
            let flags: String = ins.flags.iter().map(|f| format!("{f} ")).collect();
            let (word, rest) = text.trim().split_once(char::is_whitespace).unwrap_or((text.trim(), ""));
            Command::Onbuild(format!("{word} {flags}{}", rest.trim()).trim().to_string())
        }
        "maintainer" => Command::Maintainer(shell_text(ins).trim().to_string()),
        _ => return Err(invalid(ins, format!("unknown instruction: {upper}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse;

    fn one(text: &str, vars: &[(&str, &str)]) -> Result<Command, InstructionError> {
        let p = parse(&format!("FROM scratch\n{text}\n")).unwrap();
        let lookup = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
        command(&p.instructions[1], p.escape, &lookup)
    }

    #[test]
    fn env_in_both_forms_with_quotes_and_variables() {
        assert_eq!(
            one("ENV A=1 B=\"two words\" C=$X", &[("X", "x")]).unwrap(),
            Command::Env(vec![("A".into(), "1".into()), ("B".into(), "two words".into()), ("C".into(), "x".into())])
        );
        assert_eq!(
            one("ENV PATH /opt/bin:$PATH", &[("PATH", "/bin")]).unwrap(),
            Command::Env(vec![("PATH".into(), "/opt/bin:/bin".into())])
        );
        assert_eq!(one("ENV ONLY", &[]).unwrap_err().to_string(), "Dockerfile:2: ENV must have two arguments");
    }

    #[test]
    fn from_forms_and_errors() {
        let p = parse("ARG V=1\nFROM busybox:$V AS Build\nFROM a b\n").unwrap();
        let lookup = |k: &str| (k == "V").then(|| "1.36".to_string());
        assert_eq!(
            command(&p.instructions[1], '\\', &lookup).unwrap(),
            Command::From { image: "busybox:1.36".into(), name: Some("build".into()), platform: None }
        );
        assert_eq!(
            command(&p.instructions[2], '\\', &lookup).unwrap_err().to_string(),
            "Dockerfile:3: FROM requires either one or three arguments"
        );
    }

    #[test]
    fn copy_flags_and_destination() {
        let c = one("COPY --chown=app:app --chmod=640 a b* /dst/", &[]).unwrap();
        let Command::Copy(c) = c else { panic!() };
        assert_eq!(
            (c.sources, c.dest.as_str(), c.chown.as_deref(), c.chmod),
            (vec!["a".to_string(), "b*".into()], "/dst/", Some("app:app"), Some(0o640))
        );
        assert_eq!(one("COPY --chmod=9 a /b", &[]).unwrap_err().to_string(), "Dockerfile:2: invalid chmod parameter: 9");
        assert_eq!(one("COPY --bogus=1 a /b", &[]).unwrap_err().to_string(), "Dockerfile:2: unknown flag: bogus");
        assert!(one("COPY a", &[]).unwrap_err().to_string().contains("COPY requires at least two arguments"));
    }

    #[test]
    fn run_mounts_network_and_heredoc_script() {
        let c = one("RUN --mount=type=cache,target=/root/.cache --network=none make", &[]).unwrap();
        assert_eq!(
            c,
            Command::Run {
                args: Args::Shell("make".into()),
                mounts: vec![RunMount::Cache { id: "/root/.cache".into(), target: "/root/.cache".into() }],
                network: Some("none".into())
            }
        );
        let c = one("RUN <<EOF\necho a\necho b\nEOF", &[]).unwrap();
        assert_eq!(c, Command::Run { args: Args::Shell("echo a\necho b\n".into()), mounts: vec![], network: None });
        let c = one("RUN cat <<EOF > /f\nhi\nEOF", &[]).unwrap();
        assert_eq!(c, Command::Run { args: Args::Shell("cat <<EOF > /f\nhi\nEOF".into()), mounts: vec![], network: None });
    }

    #[test]
    fn healthcheck_expose_and_onbuild() {
        let c = one("HEALTHCHECK --interval=5s --retries=3 CMD curl -f http://localhost/", &[]).unwrap();
        assert_eq!(
            c,
            Command::Healthcheck(Health {
                test: vec!["CMD-SHELL".into(), "curl -f http://localhost/".into()],
                interval: Some(5_000_000_000),
                timeout: None,
                start_period: None,
                start_interval: None,
                retries: Some(3)
            })
        );
        assert_eq!(
            one("EXPOSE 80/tcp 53/udp 8000-8010", &[]).unwrap(),
            Command::Expose(vec!["80/tcp".into(), "53/udp".into(), "8000-8010".into()])
        );
        assert_eq!(one("EXPOSE http", &[]).unwrap_err().to_string(), "Dockerfile:2: invalid containerPort: http");
        assert_eq!(one("ONBUILD RUN echo hi", &[]).unwrap(), Command::Onbuild("RUN echo hi".into()));
        assert!(one("ONBUILD FROM x", &[]).is_err());
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
    }
}
