//! `exec`

use crate::cli::ExecArgs;
use anyhow::Context;
use doca_runtime::state::State;
use std::path::Path;

pub fn run(root: &Path, a: ExecArgs) -> anyhow::Result<u8> {
    let state = State::load(root, &a.id)?;
    let process = match &a.process {
        Some(p) => serde_json::from_slice(&std::fs::read(p).with_context(|| format!("read {}", p.display()))?)
            .with_context(|| format!("parse {}", p.display()))?,
        None => {
            if a.command.is_empty() {
                anyhow::bail!("exec: no command given (and no --process)");
            }
            let user = a
                .user
                .as_deref()
                .map(|u| -> anyhow::Result<(u32, Option<u32>)> {
                    let (uid, gid) = u.split_once(':').map(|(a, b)| (a, Some(b))).unwrap_or((u, None));
                    Ok((
                        uid.parse().with_context(|| format!("--user {u}: uid must be numeric"))?,
                        gid.map(|g| g.parse()).transpose().with_context(|| format!("--user {u}: gid must be numeric"))?,
                    ))
                })
                .transpose()?;
            doca_runtime::exec::process_for(
                &state,
                &doca_runtime::exec::ExecOverrides {
                    args: &a.command,
                    env: &a.env,
                    cwd: a.cwd.as_deref(),
                    user,
                    additional_gids: &a.additional_gids,
                    caps: &a.cap,
                    no_new_privs: a.no_new_privs,
                    tty: a.tty,
                },
            )?
        }
    };
    let code = doca_runtime::exec::exec(&doca_runtime::exec::ExecOptions {
        id: a.id.clone(),
        root: root.to_path_buf(),
        process,
        detach: a.detach,
        pid_file: a.io.pid_file.clone(),
        preserve_fds: a.io.preserve_fds,
        console_socket: a.io.console_socket.clone(),
    })?;
    Ok(code.clamp(0, 255) as u8)
}
