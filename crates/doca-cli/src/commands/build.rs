//! `doca build` and `doca builder prune`. The context is read in place; the output is docker's
//! classic builder's (`Step N/M : ...`, RUN output as it comes, `Successfully built ...`).

use crate::cli::{BuildArgs, BuilderPruneArgs};
use crate::output::print;
use crate::{CmdResult, Failure};
use doca_engine::build::{BuildImage, BuilderPrune, Event, Plain, Progress};
use doca_engine::Engine;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// `--build-arg K=V`, or `--build-arg K` for K's value in doca's environment (docker's rule;
/// unset means not given).
fn build_args(list: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for a in list {
        match a.split_once('=') {
            Some((k, v)) => {
                out.insert(k.to_string(), v.to_string());
            }
            None => {
                if let Ok(v) = std::env::var(a) {
                    out.insert(a.clone(), v);
                }
            }
        }
    }
    out
}

/// The time every timestamp of a reproducible build takes: SOURCE_DATE_EPOCH (environment or
/// build argument), else the last commit's time when the context is a git checkout.
fn epoch(context: &Path, args: &BTreeMap<String, String>) -> Result<Option<i64>, Failure> {
    if let Some(v) = args.get("SOURCE_DATE_EPOCH").cloned().or_else(|| std::env::var("SOURCE_DATE_EPOCH").ok()) {
        return v
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| Failure::failed(format!("invalid SOURCE_DATE_EPOCH {v:?}: want seconds since 1970")));
    }
    let in_git = context.ancestors().any(|d| d.join(".git").exists());
    if !in_git {
        return Ok(None);
    }
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(context)
        .args(["log", "-1", "--format=%ct"])
        .stderr(std::process::Stdio::null())
        .output();
    Ok(out.ok().filter(|o| o.status.success()).and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok()))
}

fn read_stdin() -> Result<String, Failure> {
    let mut s = String::new();
    std::io::stdin()
        .read_to_string(&mut s)
        .map_err(|e| Failure::failed(format!("read the Dockerfile from stdin: {}", super::io_reason(&e))))?;
    Ok(s)
}

/// Set when a signal stopped the build: the thread that cleans up exits the process, and the
/// build's own failure (its RUN container was killed) must not exit first with another code.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Waits for the cleaning thread to exit the process, if a signal came.
fn unless_interrupted() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::park();
    }
}

/// Removes what an interrupted build leaves (its containers, mounts, temp files), then exits
/// as a shell does on SIGINT.
fn cleanup_on_signal(engine: doca_engine::EngineConfig, build_id: String) {
    super::attach_io::on_interrupt(move || {
        INTERRUPTED.store(true, Ordering::SeqCst);
        eprintln!("\nbuild interrupted: removing its containers");
        if let Ok(mut e) = Engine::open(engine) {
            let _ = e.build_cleanup(&build_id);
        }
    });
}

pub fn run(e: &mut Engine, a: BuildArgs) -> CmdResult {
    if !matches!(a.progress.as_str(), "auto" | "plain" | "tty" | "quiet") {
        return Err(Failure::failed(format!("invalid progress mode {:?}: auto, plain, tty or quiet", a.progress)));
    }
    if let Some(p) = a.platform.as_deref().filter(|p| !matches!(*p, "linux/amd64" | "linux/x86_64" | "amd64")) {
        return Err(Failure::failed(format!("platform {p:?} is not supported: doca builds for linux/amd64 (this host)")));
    }
    let pull = match a.pull.as_deref() {
        None | Some("missing") | Some("false") => "missing",
        Some("always") | Some("true") => "always",
        Some("never") => "never",
        Some(p) => return Err(Failure::failed(format!("invalid pull option {p:?}: always, missing or never"))),
    };
    let network = a.network.clone().unwrap_or_else(|| "default".into());
    let network = if network == "bridge" { "default".to_string() } else { network };
    if !matches!(network.as_str(), "default" | "none" | "host") {
        return Err(Failure::failed(format!("network mode {network:?} not supported by the builder (default, none, host)")));
    }
    if a.path.starts_with("http://") || a.path.starts_with("https://") || a.path.starts_with("git@") {
        return Err(Failure::failed(format!("unable to prepare context: {}: remote contexts are not supported yet", a.path)));
    }
    // `-`: the Dockerfile on stdin and no context (an empty directory).
    let empty;
    let (context, dockerfile, dockerfile_path) = if a.path == "-" {
        empty = tempfile::tempdir().map_err(|e| Failure::failed(format!("create an empty context: {e}")))?;
        (empty.path().to_path_buf(), read_stdin()?, None)
    } else {
        let context = std::fs::canonicalize(&a.path)
            .map_err(|_| Failure::failed(format!("unable to prepare context: path {:?} not found", a.path)))?;
        if !context.is_dir() {
            return Err(Failure::failed(format!("unable to prepare context: context must be a directory: {}", context.display())));
        }
        match a.file.as_deref() {
            Some("-") => (context, read_stdin()?, None),
            Some(f) => {
                let p = PathBuf::from(f);
                let text = std::fs::read_to_string(&p)
                    .map_err(|e| Failure::failed(format!("unable to read Dockerfile {f}: {}", super::io_reason(&e))))?;
                (context, text, Some(p))
            }
            None => {
                let p = context.join("Dockerfile");
                let text = std::fs::read_to_string(&p).map_err(|_| {
                    Failure::failed(format!(
                        "unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat {}: no such file or directory",
                        p.display()
                    ))
                })?;
                (context, text, Some(p))
            }
        }
    };
    // `<Dockerfile>.dockerignore` beside the Dockerfile wins over the context's .dockerignore.
    let ignore = dockerfile_path
        .as_ref()
        .and_then(|p| std::fs::read_to_string(format!("{}.dockerignore", p.display())).ok())
        .or_else(|| std::fs::read_to_string(context.join(".dockerignore")).ok())
        .unwrap_or_default();
    let args = build_args(&a.build_arg);
    let req = BuildImage {
        epoch: epoch(&context, &args)?,
        context,
        dockerfile,
        dockerfile_name: dockerfile_path
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Dockerfile".into()),
        ignore,
        tags: a.tag.clone(),
        build_args: args,
        target: a.target.clone(),
        no_cache: a.no_cache,
        labels: super::key_values(&a.label, "label", crate::exit::Verb::Other)?,
        network,
        platform: a.platform.clone(),
        build_id: hex_id()?,
        cgroup_parent: a.cgroup_parent.clone(),
        pull: pull.to_string(),
    };
    cleanup_on_signal(e.config().clone(), req.build_id.clone());
    let quiet = a.quiet || a.progress == "quiet";
    let tty = a.progress == "tty" || (a.progress == "auto" && super::attach_io::is_tty(1));
    let stdout = std::io::stdout();
    let mut plain = Plain(stdout.lock());
    let mut sink = Plain(std::io::sink());
    let mut live = Live::new(std::io::stdout());
    let out: &mut dyn Progress = match (quiet, tty) {
        (true, _) => &mut sink,
        (false, true) => &mut live,
        (false, false) => &mut plain,
    };
    let built = e.build_image(&req, out);
    live.finish();
    unless_interrupted();
    let built = built?;
    if !built.unused_args.is_empty() {
        eprintln!("[Warning] One or more build-args [{}] were not consumed", built.unused_args.join(" "));
    }
    if let Some(f) = &a.iidfile {
        std::fs::File::create(f)
            .and_then(|mut file| {
                crate::user_file_mode(&file)?;
                std::io::Write::write_all(&mut file, built.id.as_str().as_bytes())
            })
            .map_err(|e| Failure::failed(format!("write the image id to {}: {}", f.display(), super::io_reason(&e))))?;
    }
    drop(plain);
    if quiet {
        return print(&format!("{}\n", built.id));
    }
    let mut text = format!("Successfully built {}\n", &built.id.hex()[..12]);
    for t in &built.tags {
        let r = doca_engine::Reference::parse(t).map(|r| r.familiar()).unwrap_or_else(|_| t.clone());
        text.push_str(&format!("Successfully tagged {r}\n"));
    }
    print(&text)
}

fn hex_id() -> Result<String, Failure> {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).map_err(|e| Failure::failed(format!("random id: {e}")))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

pub fn prune(e: &mut Engine, a: BuilderPruneArgs) -> CmdResult {
    let mut req = BuilderPrune { all: a.all, until: None };
    for f in &a.filter {
        match f.split_once('=') {
            Some(("until", v)) => {
                let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
                let t = doca_engine::containers::parse_time(v, now)?;
                req.until = Some((t / 1_000_000_000) as i64);
            }
            _ => return Err(Failure::failed(format!("invalid filter '{f}' (builder prune takes until=)"))),
        }
    }
    if !a.force && !super::confirm("WARNING! This will remove all dangling build cache. Are you sure you want to continue? [y/N] ")? {
        return Ok(());
    }
    let (mut text, reclaimed) = prune_build_cache(e, &req)?;
    text.push_str(&format!("Total reclaimed space: {}\n", crate::units::human_size(reclaimed)));
    print(&text)
}

/// Removes build cache: docker's "Deleted build cache objects" block and the bytes freed.
pub fn prune_build_cache(e: &mut Engine, req: &BuilderPrune) -> Result<(String, u64), Failure> {
    let r = e.prune_build_cache(req)?;
    Ok((crate::output::deleted_section("Deleted build cache objects", r.deleted.iter().map(|d| d.hex().to_string())), r.reclaimed))
}

/// The build as a compact view redrawn in place on a terminal: a header with the time and the
/// step count, one line per step (its time, or CACHED), and the last lines of the running
/// step's output (`--progress plain` shows all of it, and a failing RUN's error repeats its
/// last lines).
struct Live<W: Write> {
    out: W,
    started: std::time::Instant,
    /// (instruction, started, finished, cached)
    steps: Vec<(String, std::time::Instant, Option<std::time::Instant>, bool)>,
    total: usize,
    tail: std::collections::VecDeque<String>,
    partial: String,
    drawn: usize,
    last_draw: Option<std::time::Instant>,
    width: usize,
}

/// Lines of a running step's output kept on screen.
const TAIL: usize = 6;

impl<W: Write> Live<W> {
    fn new(out: W) -> Self {
        let width = super::attach_io::terminal_size().map(|(_, c)| c as usize).unwrap_or(100).max(40);
        Live {
            out,
            started: std::time::Instant::now(),
            steps: Vec::new(),
            total: 0,
            tail: Default::default(),
            partial: String::new(),
            drawn: 0,
            last_draw: None,
            width,
        }
    }

    fn end_step(&mut self) {
        if let Some(s) = self.steps.last_mut() {
            s.2.get_or_insert_with(std::time::Instant::now);
        }
        self.tail.clear();
        self.partial.clear();
    }

    fn cut(&self, s: &str, room: usize) -> String {
        let room = room.max(10);
        if s.chars().count() <= room {
            s.to_string()
        } else {
            s.chars().take(room - 1).collect::<String>() + "…"
        }
    }

    fn draw(&mut self, force: bool) {
        let now = std::time::Instant::now();
        if !force && self.last_draw.is_some_and(|t| now.duration_since(t) < std::time::Duration::from_millis(80)) {
            return;
        }
        self.last_draw = Some(now);
        let mut text = String::new();
        if self.drawn > 0 {
            // Back to the first line drawn, and clear everything below.
            text.push_str(&format!("\x1b[{}F\x1b[J", self.drawn));
        }
        let mut lines = vec![format!(
            "[+] Building {:.1}s ({}/{})",
            now.duration_since(self.started).as_secs_f64(),
            self.steps.iter().filter(|s| s.2.is_some()).count(),
            self.total
        )];
        for (i, (ins, start, end, cached)) in self.steps.iter().enumerate() {
            let time = match (cached, end) {
                (true, _) => "CACHED".to_string(),
                (false, Some(e)) => format!("{:.1}s", e.duration_since(*start).as_secs_f64()),
                (false, None) => format!("{:.1}s", now.duration_since(*start).as_secs_f64()),
            };
            let head = format!(" => [{}/{}] ", i + 1, self.total);
            let room = self.width.saturating_sub(head.len() + time.len() + 2);
            let ins = self.cut(ins, room);
            let pad = room.saturating_sub(ins.chars().count());
            lines.push(format!("{head}{ins}{} {time}", " ".repeat(pad)));
        }
        for l in self.tail.iter().chain((!self.partial.is_empty()).then_some(&self.partial)) {
            lines.push(format!(" => => {}", self.cut(l, self.width.saturating_sub(8))));
        }
        self.drawn = lines.len();
        for l in lines {
            text.push_str(&l);
            text.push('\n');
        }
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    fn finish(&mut self) {
        if self.steps.is_empty() {
            return;
        }
        self.end_step();
        self.draw(true);
    }
}

impl<W: Write> Progress for Live<W> {
    fn event(&mut self, e: Event) {
        match e {
            Event::Step { total, instruction, .. } => {
                self.end_step();
                self.total = total;
                self.steps.push((instruction.to_string(), std::time::Instant::now(), None, false));
                self.draw(true);
            }
            Event::Cached(_) => {
                if let Some(s) = self.steps.last_mut() {
                    s.3 = true;
                }
                self.end_step();
                self.draw(true);
            }
            Event::Output(b) => {
                self.partial.push_str(&String::from_utf8_lossy(b));
                while let Some(at) = self.partial.find('\n') {
                    let line: String = self.partial.drain(..=at).collect();
                    self.tail.push_back(line.trim_end().to_string());
                    if self.tail.len() > TAIL {
                        self.tail.pop_front();
                    }
                }
                self.draw(false);
            }
            Event::Trigger(_) | Event::Image(_) | Event::Removed(_) => {}
        }
    }
}
