//! `doca compose build`, `pull`, `push` and `create`.

use crate::cli::{ComposeBuildArgs, ComposeServicesArgs};
use crate::{CmdResult, Failure};
use doca_compose::up::{Compose, ImageRule};
use doca_engine::Engine;

pub fn build(e: &mut Engine, c: &Compose, a: ComposeBuildArgs) -> CmdResult {
    let mut build_args = Vec::new();
    for b in &a.build_arg {
        // `KEY` alone takes the value from the environment, as docker compose's.
        match b.split_once('=') {
            Some((k, v)) => build_args.push((k.to_string(), v.to_string())),
            None => match c.env.get(b) {
                Some(v) => build_args.push((b.clone(), v.clone())),
                None if b.is_empty() => return Err(Failure::failed("invalid --build-arg \"\": want KEY=VALUE")),
                None => {}
            },
        }
    }
    let rule = ImageRule { no_cache: a.no_cache, pull: a.pull, build_args, ..Default::default() };
    Ok(c.build(e, &a.services, &rule, &mut super::progress)?)
}

pub fn pull(e: &mut Engine, c: &Compose, a: ComposeServicesArgs) -> CmdResult {
    Ok(c.pull(e, &a.services, &mut super::progress)?)
}

pub fn push(e: &mut Engine, c: &Compose, a: ComposeServicesArgs) -> CmdResult {
    Ok(c.push(e, &a.services, &mut super::progress)?)
}

pub fn create(e: &mut Engine, c: &Compose, a: ComposeServicesArgs) -> CmdResult {
    let req = doca_compose::up::Up { services: a.services, no_start: true, ..Default::default() };
    Ok(c.up(e, &req, &mut super::progress)?)
}
