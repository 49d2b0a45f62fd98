//! The user's terminal never reaches a container process that was not given one (`-t`).
//! The attack: a user types `doca exec C prog` in a terminal; `prog` finds a descriptor of
//! that terminal (its stdio, or `/dev/tty` when the terminal is its controlling one) and
//! pushes a command into the terminal's input queue with ioctl(TIOCSTI). When doca returns,
//! the user's shell reads it as if typed and runs it on the host. The test drives a real
//! shell in a pty (script(1)), runs every non-`-t` way of reaching a container from it, and
//! checks that no injected command ran on the host.

use super::common::Env;
use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const INJECT: &str = r##"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* inject CMD: types CMD and a newline into the first terminal this process can reach. */
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int fds[4] = {0, 1, 2, open("/dev/tty", O_RDWR | O_NOCTTY)};
    if (fds[3] < 0) fprintf(stderr, "attempt /dev/tty: %s\n", strerror(errno));
    for (int i = 0; i < 4; i++) {
        if (fds[i] < 0) continue;
        if (!isatty(fds[i])) { fprintf(stderr, "attempt fd %d: not a terminal\n", i); continue; }
        const char *p;
        char nl = '\n';
        for (p = argv[1]; *p; p++)
            if (ioctl(fds[i], TIOCSTI, p) < 0) break;
        if (*p || ioctl(fds[i], TIOCSTI, &nl) < 0) { fprintf(stderr, "attempt fd %d: TIOCSTI refused: %s\n", i, strerror(errno)); continue; }
        fprintf(stderr, "INJECTED through fd %d\n", i);
        break;
    }
    fprintf(stderr, "inject: finished\n");
    return 0;
}
"##;

/// A shell in a pty of its own, fed line by line.
struct Shell {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: Arc<Mutex<Vec<u8>>>,
    step: u32,
}

impl Shell {
    fn new(env: &[(String, String)]) -> Shell {
        let mut child = Command::new("script")
            .args(["-q", "-f", "-c", "sh", "/dev/null"])
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script (bsdutils)");
        let input = child.stdin.take().unwrap();
        let mut out = child.stdout.take().unwrap();
        let output = Arc::new(Mutex::new(Vec::new()));
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Shell { child, input, output, step: 0 }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Types `line`, waits for the shell's next prompt (after the container's program said it
    /// finished, unless `detached`), then types a line of its own and waits until the shell
    /// has run it: text a container pushed into the input queue meanwhile runs before that.
    /// (Typing ahead would hand the next line to a `-i` command's stdin.)
    fn type_line(&mut self, line: &str, detached: bool) {
        self.step += 1;
        let n = self.step;
        let from = self.output.lock().unwrap().len();
        writeln!(self.input, "{line}").unwrap();
        self.input.flush().unwrap();
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let new = String::from_utf8_lossy(&self.output.lock().unwrap()[from..]).into_owned();
            if (detached || new.contains("inject: finished")) && (new.ends_with("$ ") || new.ends_with("# ")) {
                break;
            }
            assert!(Instant::now() < end, "the shell did not finish {line:?}:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
        // The echoed input shows `$((n * 1000 + 1))`; only the shell's run prints the number.
        let done = format!("step-{}", n * 1000 + 1);
        writeln!(self.input, "echo step-$(({n} * 1000 + 1))").unwrap();
        self.input.flush().unwrap();
        while !self.text().lines().any(|l| l.trim() == done) {
            assert!(Instant::now() < end, "the shell did not finish {line:?}:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        let _ = writeln!(self.input, "exit");
        let _ = self.input.flush();
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_container_without_a_tty_cannot_type_into_the_users_shell() {
    doca_testkit::require_root!();
    doca_testkit::require_tool!("script");
    let e = Env::new();
    let tools = e.tools(&[("inject", &doca_testkit::c_program("inject", INJECT))]);
    let bind = format!("{}:/attack:ro", tools.display());
    let id = e.run_ok(&["-d", "-v", &bind, "busybox", "sleep", "600"]);
    let doca = env!("CARGO_BIN_EXE_doca");
    let env = vec![
        ("DOCA_ROOT".to_string(), e.t.root().display().to_string()),
        ("DOCA_RUN_ROOT".to_string(), e.t.path("run").display().to_string()),
    ];
    let mut sh = Shell::new(&env);
    let cg = format!("--cgroup-parent {}", e.cgroup);
    let cases = [
        ("exec", format!("{doca} exec {id} /attack/inject ARG")),
        ("exec-i", format!("{doca} exec -i {id} /attack/inject ARG")),
        ("exec-privileged", format!("{doca} exec --privileged {id} /attack/inject ARG")),
        ("exec-d", format!("{doca} exec -d {id} /attack/inject ARG; sleep 1")),
        ("run", format!("{doca} run --rm {cg} -v {bind} busybox /attack/inject ARG")),
        ("run-i", format!("{doca} run --rm -i {cg} -v {bind} busybox /attack/inject ARG")),
        ("start-a", format!("{doca} start -a $({doca} create {cg} -v {bind} busybox /attack/inject ARG)")),
    ];
    for (name, line) in &cases {
        // What the container types: a command that leaves a file on the host.
        let marker = e.t.path(&format!("injected-{name}"));
        sh.type_line(&line.replace("ARG", &format!("'touch {}'", marker.display())), *name == "exec-d");
    }
    let text = sh.text();
    for (name, _) in &cases {
        assert!(!e.t.path(&format!("injected-{name}")).exists(), "`{name}`: a container typed a command into the user's shell:\n{text}");
    }
    assert!(!text.contains("INJECTED"), "{text}");
    // The attack was made: the foreground cases reported their attempts on stderr.
    assert!(text.matches("attempt fd 1: not a terminal").count() >= 5, "{text}");
    // Its own session: no controlling terminal to open as /dev/tty (ENXIO).
    assert!(text.matches("attempt /dev/tty: No such device or address").count() >= 5, "{text}");
    e.t.ok(&["rm", "-f", &id]);
}
