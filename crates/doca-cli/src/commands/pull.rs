//! `doca pull`: docker's lines (`latest: Pulling from library/busybox`, a line per layer,
//! `Digest:`, `Status:`, the full reference), or only the reference with `-q`.

use crate::cli::PullArgs;
use crate::output::print;
use crate::{CmdResult, Failure};
use doca_engine::images::{PullImage, PullProgress};
use doca_engine::Engine;
use std::io::Write;

fn short(d: &doca_engine::Digest) -> &str {
    &d.hex()[..12]
}

pub fn run(e: &mut Engine, a: PullArgs) -> CmdResult {
    let names = if a.all_tags {
        let parsed = doca_engine::Reference::parse(&a.name).map_err(|err| Failure::failed(format!("invalid reference format: {err}")))?;
        if parsed.tag().is_some() || parsed.digest().is_some() {
            return Err(Failure::failed("tag can't be used with --all-tags/-a"));
        }
        let repo = parsed.familiar_name();
        e.remote_tags(&a.name)?.into_iter().map(|t| format!("{repo}:{t}")).collect()
    } else {
        vec![a.name.clone()]
    };
    for name in names {
        let r = pull(e, &name, a.platform.as_deref(), a.quiet, super::attach_io::is_tty(1), &mut std::io::stdout())?;
        if a.quiet {
            print(&format!("{}\n", r.reference))?;
        }
    }
    Ok(())
}

/// Pulls `name` with docker's lines on `out` (nothing with `quiet`): `pull` prints them on
/// stdout, `run`/`create` on stderr.
pub fn pull(
    e: &mut Engine,
    name: &str,
    platform: Option<&str>,
    quiet: bool,
    is_terminal: bool,
    out: &mut (dyn Write + Send),
) -> Result<doca_engine::images::PullResult, Failure> {
    let parsed = doca_engine::Reference::parse(name).map_err(|err| Failure::failed(format!("invalid reference format: {err}")))?;
    if !quiet {
        let mut head = String::new();
        if parsed.tag().is_none() && parsed.digest().is_none() {
            head.push_str("Using default tag: latest\n");
        }
        let what = parsed.digest().map(|d| d.to_string()).unwrap_or_else(|| parsed.tag().unwrap_or("latest").to_string());
        head.push_str(&format!("{what}: Pulling from {}\n", parsed.path()));
        out.write_all(head.as_bytes())?;
        out.flush()?;
    }
    let live = !quiet && is_terminal;
    let out = std::sync::Mutex::new((out, Bars::default()));
    let progress = |p: PullProgress| {
        if quiet {
            return;
        }
        let mut guard = out.lock().expect("out");
        let (out, bars) = &mut *guard;
        if live {
            // A line per layer, redrawn in place as docker's terminal view does.
            match p {
                PullProgress::Resolved { layers, .. } => {
                    bars.layers = layers.iter().map(|d| (short(d).to_string(), "Waiting".to_string())).collect();
                }
                PullProgress::Exists(d) => bars.set(d, "Already exists".into()),
                PullProgress::Downloading { layer, done, total } => bars.set(layer, bar(done, total)),
                PullProgress::Downloaded(d) => bars.set(d, "Download complete".into()),
                PullProgress::Extracting => {
                    let all: Vec<String> = bars.layers.iter().map(|(d, _)| d.clone()).collect();
                    for d in all {
                        if let Some(l) = bars.layers.iter_mut().find(|(x, s)| *x == d && s != "Already exists") {
                            l.1 = "Pull complete".into();
                        }
                    }
                }
            }
            bars.draw(&mut **out);
            return;
        }
        let line = match p {
            PullProgress::Exists(d) => format!("{}: Already exists\n", short(d)),
            PullProgress::Downloaded(d) => format!("{}: Pull complete\n", short(d)),
            _ => return,
        };
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    };
    let r = e.pull_image(&PullImage { reference: name.to_string(), platform: platform.map(String::from), auth: None }, &progress)?;
    if !quiet {
        let status = if r.up_to_date { "Image is up to date for" } else { "Downloaded newer image for" };
        let (out, _) = out.into_inner().expect("out");
        out.write_all(format!("Digest: {}\nStatus: {status} {}\n{}\n", r.manifest_digest, r.reference.familiar(), r.reference).as_bytes())?;
    }
    Ok(r)
}

/// The per-layer lines of the terminal view.
#[derive(Default)]
struct Bars {
    layers: Vec<(String, String)>,
    drawn: usize,
}

impl Bars {
    fn set(&mut self, d: &doca_engine::Digest, status: String) {
        if let Some(l) = self.layers.iter_mut().find(|(x, _)| x == short(d)) {
            l.1 = status;
        }
    }

    fn draw(&mut self, out: &mut dyn Write) {
        let mut text = String::new();
        if self.drawn > 0 {
            text.push_str(&format!("\x1b[{}F", self.drawn));
        }
        for (d, status) in &self.layers {
            text.push_str(&format!("\x1b[2K{d}: {status}\n"));
        }
        self.drawn = self.layers.len();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

/// `Downloading [=====>        ]  12.5MB/49.2MB`, docker's progress bar.
fn bar(done: u64, total: Option<u64>) -> String {
    let size = |b: u64| crate::units::human_size(b);
    match total.filter(|t| *t > 0) {
        Some(t) => {
            const WIDTH: usize = 50;
            let filled = (u128::from(done.min(t)) * WIDTH as u128 / u128::from(t)) as usize;
            let head = if filled == 0 { String::new() } else { format!("{}>", "=".repeat(filled - 1)) };
            format!("Downloading [{head}{}]  {}/{}", " ".repeat(WIDTH - filled), size(done), size(t))
        }
        None => format!("Downloading  {}", size(done)),
    }
}
