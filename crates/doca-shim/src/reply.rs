//! What doca-shim tells the engine that started it: one JSON line on stdout, written by the
//! shim and read by the engine with these same types.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The container is created; its init waits for the runtime's `start`.
    Created { pid: i32, monitor: i32 },
    /// The container could not be created.
    Failed { error: String, cause: StartCause },
}

/// Why a container's process could not be started, as docker tells the cases apart: `docker
/// run` exits 127 and 126 as a shell does, and records 128 for anything else (moby's
/// daemon/start.go).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartCause {
    /// The command is not in the container.
    CommandNotFound,
    /// The command is there and cannot be executed (a directory, no execute permission, not
    /// an executable format).
    CannotInvoke,
    Other,
}

impl StartCause {
    /// docker's exit code for the cause.
    pub fn exit_code(self) -> i32 {
        match self {
            StartCause::CommandNotFound => 127,
            StartCause::CannotInvoke => 126,
            StartCause::Other => 128,
        }
    }

    /// The cause a runtime's failed `create` or `exec` reports. doca-runc exits 127 and 126
    /// for these (its `RuntimeError::Init`), typed end to end. runc exits 1 whatever failed,
    /// so for a runtime that says nothing in its status its message is read the way dockerd
    /// reads runc's (moby daemon/start.go, translateContainerdStartErr): the one place doca
    /// looks at a message's words, and only for a foreign runtime's.
    pub fn of_runtime(exit_code: Option<i32>, message: &str) -> StartCause {
        match exit_code {
            Some(127) => StartCause::CommandNotFound,
            Some(126) => StartCause::CannotInvoke,
            _ => {
                let m = message.to_ascii_lowercase();
                if m.contains("executable file not found") || m.contains("no such file or directory") {
                    StartCause::CommandNotFound
                } else if m.contains("permission denied") || m.contains("is a directory") || m.contains("exec format error") {
                    StartCause::CannotInvoke
                } else {
                    StartCause::Other
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_read_back_as_written() {
        for r in [
            Reply::Created { pid: 42, monitor: 41 },
            Reply::Failed { error: "exec: \"x\": executable file not found in $PATH".into(), cause: StartCause::CommandNotFound },
        ] {
            let line = serde_json::to_string(&r).unwrap();
            assert!(!line.contains('\n'));
            assert_eq!(serde_json::from_str::<Reply>(&line).unwrap(), r);
        }
    }

    #[test]
    fn doca_runc_says_the_cause_in_its_exit_status() {
        // The status decides, whatever the words.
        assert_eq!(StartCause::of_runtime(Some(127), "anything"), StartCause::CommandNotFound);
        assert_eq!(StartCause::of_runtime(Some(126), "not found"), StartCause::CannotInvoke);
        assert_eq!(StartCause::of_runtime(Some(1), "cgroup: invalid argument"), StartCause::Other);
    }

    #[test]
    fn runcs_words_as_dockerd_reads_them() {
        let runc = |m: &str| StartCause::of_runtime(Some(1), m);
        assert_eq!(runc("exec: \"nope\": executable file not found in $PATH"), StartCause::CommandNotFound);
        assert_eq!(runc("exec /etc/passwd: permission denied"), StartCause::CannotInvoke);
        assert_eq!(runc("exec: \"/etc\": is a directory"), StartCause::CannotInvoke);
    }
}
