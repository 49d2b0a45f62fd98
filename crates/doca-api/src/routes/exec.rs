//! `/containers/{id}/exec`, `/exec/{id}/start|resize|json`: dockerd keeps exec instances in
//! memory, and so does this server. The process is the runtime's `exec`, run by this server
//! with pipes (or a pty from the console socket) that it relays to the client.

use super::attach::{frame, hijack};
use super::Ctx;
use crate::http::{self, json, ApiError, ApiResult};
use bytes::Bytes;
use doca_engine::containers::{ExecContainer, Status};
use hyper::StatusCode;
use serde::Deserialize;
use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase", default)]
struct ExecBody {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    cmd: Vec<String>,
    env: Vec<String>,
    working_dir: String,
    user: String,
    privileged: bool,
    detach_keys: String,
    console_size: Option<[u16; 2]>,
}

#[derive(Default)]
struct ExecState {
    running: bool,
    started: bool,
    exit_code: Option<i32>,
    pid: u32,
    /// The pty master of a `Tty` exec, for resizes.
    master: Option<Arc<std::fs::File>>,
}

pub struct ExecInstance {
    id: String,
    container: String,
    body: ExecBody,
    state: Mutex<ExecState>,
}

impl ExecInstance {
    fn lock(&self) -> std::sync::MutexGuard<'_, ExecState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn instance(ctx: &Ctx, id: &str) -> ApiResult<Arc<ExecInstance>> {
    ctx.state
        .execs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
}

pub async fn create(ctx: Ctx, id: String) -> ApiResult {
    let Ctx { state, req, .. } = ctx;
    let body: ExecBody = http::read_json(req.into_body()).await?;
    if body.cmd.is_empty() {
        return Err(ApiError::bad_request("No exec command specified"));
    }
    let c = state.container(&id).await?;
    match c.state.status {
        Status::Running => {}
        Status::Paused => {
            return Err(ApiError::new(StatusCode::CONFLICT, format!("Container {} is paused, unpause the container before exec", c.id)))
        }
        _ => return Err(ApiError::new(StatusCode::CONFLICT, format!("Container {} is not running", c.id))),
    }
    let exec_id = doca_engine::containers::ContainerId::random()?.to_string();
    let inst = Arc::new(ExecInstance { id: exec_id.clone(), container: c.id.to_string(), body, state: Mutex::default() });
    state.execs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(exec_id.clone(), inst);
    Ok(json(StatusCode::CREATED, &serde_json::json!({ "Id": exec_id })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
    tty: bool,
    console_size: Option<[u16; 2]>,
}

/// The process's output and input, however it was started.
struct Running {
    child: std::process::Child,
    plan: doca_engine::containers::ExecPlan,
    master: Option<Arc<std::fs::File>>,
}

fn spawn(e: &mut doca_engine::Engine, inst: &ExecInstance, start: &StartBody) -> Result<Running, ApiError> {
    let b = &inst.body;
    let tty = b.tty || start.tty;
    let req = ExecContainer {
        cmd: b.cmd.clone(),
        env: b.env.clone(),
        working_dir: (!b.working_dir.is_empty()).then(|| b.working_dir.clone()),
        user: (!b.user.is_empty()).then(|| b.user.clone()),
        tty,
        privileged: b.privileged,
        detach: false,
        console_size: start.console_size.or(b.console_size).map(|[h, w]| (h, w)),
    };
    let mut plan = e.exec_container(&inst.container, &req)?;
    // Never this server's own descriptors: pipes, or the pty the runtime makes.
    plan.command.stdin(if b.attach_stdin && !tty && !start.detach { Stdio::piped() } else { Stdio::null() });
    if tty || start.detach {
        plan.command.stdout(Stdio::null()).stderr(Stdio::null());
    } else {
        plan.command.stdout(Stdio::piped()).stderr(Stdio::piped());
    }
    let listener = plan.console()?;
    let child = plan.command.spawn().map_err(|e| ApiError::internal(format!("run the runtime: {e}")))?;
    let master = match listener {
        Some(l) => l.master(child.id())?.map(Arc::new),
        None => None,
    };
    Ok(Running { child, plan, master })
}

/// Waits for the runtime, then records the exit as docker's exec inspect shows it.
fn finish(inst: &ExecInstance, mut r: Running) {
    let status = r.child.wait();
    let code = match status {
        // The runtime could not start the process: docker's 126.
        _ if r.plan.start_failure().is_some() => 126,
        Ok(s) => s.code().unwrap_or_else(|| 128 + std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(0)),
        Err(_) => 126,
    };
    let mut st = inst.lock();
    st.running = false;
    st.exit_code = Some(code);
    st.master = None;
}

pub async fn start(mut ctx: Ctx, id: String) -> ApiResult {
    let inst = instance(&ctx, &id)?;
    // Taken before the body is read: the connection is handed over once the answer is sent.
    let on_upgrade = ctx.header("Upgrade").is_some().then(|| hyper::upgrade::on(&mut ctx.req));
    let Ctx { state, req, .. } = ctx;
    let start: StartBody = http::read_json(req.into_body()).await?;
    {
        let mut st = inst.lock();
        if st.started {
            return Err(ApiError::new(StatusCode::CONFLICT, format!("Error: Exec command {} has already run", inst.id)));
        }
        st.started = true;
        st.running = true;
    }
    let detach = start.detach;
    let tty = inst.body.tty || start.tty;
    let running = {
        let inst = Arc::clone(&inst);
        crate::state::blocking(move || {
            let mut e = state.lend()?;
            spawn(&mut e, &inst, &start)
        })
        .await
    };
    let mut running = match running {
        Ok(r) => r,
        Err(err) => {
            let mut st = inst.lock();
            st.running = false;
            st.exit_code = Some(126);
            return Err(err);
        }
    };
    {
        let mut st = inst.lock();
        st.pid = running.child.id();
        st.master = running.master.clone();
    }
    if detach {
        std::thread::spawn(move || finish(&inst, running));
        return Ok(http::empty(StatusCode::OK));
    }
    let (out_tx, out_rx) = mpsc::channel::<Bytes>(64);
    let (in_tx, in_rx) = std::sync::mpsc::channel::<Option<Bytes>>();
    let b = &inst.body;
    // Output readers: the pty master, or the two pipes.
    let mut readers: Vec<(u8, Box<dyn Read + Send>)> = Vec::new();
    let mut input: Option<Box<dyn Write + Send>> = None;
    if let Some(m) = &running.master {
        let f = m.try_clone().map_err(|e| ApiError::internal(format!("pty: {e}")))?;
        readers.push((1, Box::new(f)));
        if b.attach_stdin {
            input = Some(Box::new(m.try_clone().map_err(|e| ApiError::internal(format!("pty: {e}")))?));
        }
    } else {
        if let Some(o) = running.child.stdout.take() {
            readers.push((1, Box::new(o)));
        }
        if let Some(o) = running.child.stderr.take() {
            readers.push((2, Box::new(o)));
        }
        if let Some(i) = running.child.stdin.take() {
            input = Some(Box::new(i));
        }
    }
    let want = |s: u8| if s == 1 { b.attach_stdout || tty } else { b.attach_stderr };
    let mut threads = Vec::new();
    for (s, mut r) in readers {
        let mut w = http::writer(out_tx.clone());
        let keep = want(s);
        threads.push(std::thread::spawn(move || {
            let mut buf = vec![0u8; 32 * 1024];
            // EIO from a pty master: the process closed its terminal.
            while let Ok(n) = r.read(&mut buf) {
                if n == 0 || (keep && w.write_all(&frame(tty, s, &buf[..n])).is_err()) {
                    break;
                }
            }
        }));
    }
    // The stream ends only once the exit is recorded: a client inspects the exec as soon as
    // its stream ends, and must find the exit code there.
    let end_of_stream = out_tx;
    if let Some(mut input) = input {
        std::thread::spawn(move || {
            while let Ok(Some(chunk)) = in_rx.recv() {
                if input.write_all(&chunk).is_err() {
                    return;
                }
            }
            // The client's stdin ended: the process's ends too (a pipe closes; a pty keeps
            // its terminal, as docker's).
        });
    }
    {
        let inst = Arc::clone(&inst);
        std::thread::spawn(move || {
            finish(&inst, running);
            for t in threads {
                let _ = t.join();
            }
            drop(end_of_stream);
        });
    }
    Ok(hijack(on_upgrade, out_rx, in_tx, inst.body.attach_stdin))
}

pub fn resize(ctx: Ctx, id: String) -> ApiResult {
    let inst = instance(&ctx, &id)?;
    let (h, w) = (ctx.query.int("h")?.unwrap_or(0), ctx.query.int("w")?.unwrap_or(0));
    let master = inst.lock().master.clone();
    let Some(m) = master else {
        // dockerd's answer for an exec that has ended (clients ignore it).
        return Err(ApiError::internal("cannot resize a stopped container: unknown"));
    };
    let ws = rustix::termios::Winsize {
        ws_row: u16::try_from(h).unwrap_or(0),
        ws_col: u16::try_from(w).unwrap_or(0),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    rustix::termios::tcsetwinsize(&*m, ws).map_err(|e| ApiError::internal(format!("resize: {e}")))?;
    Ok(http::empty(StatusCode::OK))
}

pub fn inspect(ctx: Ctx, id: String) -> ApiResult {
    let inst = instance(&ctx, &id)?;
    let st = inst.lock();
    let b = &inst.body;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "CanRemove": false,
            "ContainerID": inst.container,
            "DetachKeys": b.detach_keys,
            "ExitCode": st.exit_code,
            "ID": inst.id,
            "OpenStderr": b.attach_stderr,
            "OpenStdin": b.attach_stdin,
            "OpenStdout": b.attach_stdout,
            "ProcessConfig": {
                "arguments": b.cmd.iter().skip(1).collect::<Vec<_>>(),
                "entrypoint": b.cmd.first(),
                "privileged": b.privileged,
                "tty": b.tty,
                "user": b.user,
            },
            "Running": st.running,
            "Pid": st.pid,
        }),
    ))
}
