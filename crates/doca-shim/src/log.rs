//! The monitor's own log: JSON lines on its stderr, which the engine points at the container's
//! `shim.log` (beside the runtime's `runtime.log`, in the same format as runc's `--log-format
//! json`: `{"level":..,"msg":..,"time":..}`), so one reader serves both. Errors are always
//! written; debug lines only when the engine ran at debug level (`ShimConfig::debug`).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static DEBUG: AtomicBool = AtomicBool::new(false);

pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

pub fn error(msg: impl std::fmt::Display) {
    write("error", &msg.to_string());
}

pub fn warn(msg: impl std::fmt::Display) {
    write("warning", &msg.to_string());
}

/// `msg` is built only when debug logging is on.
pub fn debug(msg: impl FnOnce() -> String) {
    if DEBUG.load(Ordering::Relaxed) {
        write("debug", &msg());
    }
}

fn write(level: &str, msg: &str) {
    let line = serde_json::json!({"level": level, "msg": msg, "time": crate::config::rfc3339_now()});
    // One write per line: the runtime's children may share this file.
    let _ = std::io::stderr().lock().write_all(format!("{line}\n").as_bytes());
}

#[cfg(test)]
mod tests {
    #[test]
    fn debug_lines_are_not_built_unless_asked() {
        super::set_debug(false);
        super::debug(|| unreachable!("built while debug is off"));
    }
}
