//! docker's exit codes, chosen here and nowhere else: from an engine error's kind (never from
//! its text), or named for what the CLI itself refuses. The API server maps the same kinds to
//! HTTP statuses.

use crate::Failure;
use doca_engine::{EngineError, ErrorKind};

/// Output stopped because its reader went away (`| head`): a quiet end, as docker's.
pub const SUCCESS: u8 = 0;
/// The request failed (docker CLI: "Error response from daemon", exit 1).
pub const FAILED: u8 = 1;
/// `run`/`create`/`exec` failed before the process ran, a usage error, or refused untrusted
/// input: docker's 125.
pub const NOT_RUN: u8 = 125;
/// The command is there and cannot be executed (docker's and the shell's 126).
pub const CANNOT_INVOKE: u8 = 126;
/// The command is not in the container (127).
pub const COMMAND_NOT_FOUND: u8 = 127;

/// Which of docker's two tables an error is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Every command but the ones that run a process for the caller.
    Other,
    /// `run` (and `exec`'s own failures): 125 unless the command could not be invoked or
    /// found. (`create` exits 1 for what the engine refuses, as docker's CLI does for what its
    /// daemon refuses; 125 only for its own usage errors.)
    Run,
}

pub fn code(kind: ErrorKind, verb: Verb) -> u8 {
    match (verb, kind) {
        (Verb::Run, ErrorKind::CommandNotFound) => COMMAND_NOT_FOUND,
        (Verb::Run, ErrorKind::CannotInvoke) => CANNOT_INVOKE,
        (Verb::Run, _) => NOT_RUN,
        (_, ErrorKind::Usage) => NOT_RUN,
        // doca's own addition: refused archives and tarballs (load, import) are usage errors.
        (Verb::Other, ErrorKind::BadInput) => NOT_RUN,
        (
            Verb::Other,
            ErrorKind::NotFound
            | ErrorKind::Conflict
            | ErrorKind::CannotInvoke
            | ErrorKind::CommandNotFound
            | ErrorKind::InvalidArgument
            | ErrorKind::Internal,
        ) => FAILED,
    }
}

/// An engine error as `run`/`create` report it.
pub fn run_failure(e: EngineError) -> Failure {
    Failure::new(code(e.kind(), Verb::Run), e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_tells_the_shells_codes_apart_and_other_commands_do_not() {
        assert_eq!(code(ErrorKind::CommandNotFound, Verb::Run), 127);
        assert_eq!(code(ErrorKind::CannotInvoke, Verb::Run), 126);
        assert_eq!(code(ErrorKind::NotFound, Verb::Run), 125);
        assert_eq!(code(ErrorKind::CommandNotFound, Verb::Other), 1);
        assert_eq!(code(ErrorKind::Conflict, Verb::Other), 1);
        assert_eq!(code(ErrorKind::BadInput, Verb::Other), 125);
    }
}
