//! linux.seccomp (config-linux.md "Seccomp") compiled by libseccomp and loaded in the init.
//!
//! libseccomp, not a BPF compiler of our own: it is what runc, crun and podman use, and it
//! owns the subtle parts (per-architecture syscall tables, multiplexed syscalls such as
//! socketcall on x86, argument comparisons on 32/64-bit ABIs, filter flags). Syscall names this
//! libseccomp does not know are skipped, as runc does, so newer profiles still load.

use crate::error::{Result, RuntimeError};
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall};
use oci_spec::runtime::{LinuxSeccomp, LinuxSyscall};
use std::str::FromStr;

use crate::spec::enum_name as name_of;

fn spec_err(msg: String) -> RuntimeError {
    RuntimeError::Spec(format!("linux.seccomp: {msg}"))
}

fn action(name: &str, errno: Option<u32>, default_errno: Option<u32>) -> Result<ScmpAction> {
    Ok(match name {
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        // EPERM unless the profile says otherwise (runtime spec: errnoRet defaults to EPERM).
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(errno.or(default_errno).unwrap_or(libc::EPERM as u32) as i32),
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_TRACE" => ScmpAction::Trace(errno.or(default_errno).unwrap_or(libc::EPERM as u32) as u16),
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_NOTIFY" => {
            return Err(RuntimeError::Unsupported(
                "SCMP_ACT_NOTIFY".into(),
                "seccomp user notification needs a listenerPath agent; not implemented".into(),
            ))
        }
        other => return Err(spec_err(format!("unknown action {other:?}"))),
    })
}

fn compare(a: &oci_spec::runtime::LinuxSeccompArg) -> Result<ScmpArgCompare> {
    let op = match name_of(&a.op()).as_str() {
        "SCMP_CMP_NE" => ScmpCompareOp::NotEqual,
        "SCMP_CMP_LT" => ScmpCompareOp::Less,
        "SCMP_CMP_LE" => ScmpCompareOp::LessOrEqual,
        "SCMP_CMP_EQ" => ScmpCompareOp::Equal,
        "SCMP_CMP_GE" => ScmpCompareOp::GreaterEqual,
        "SCMP_CMP_GT" => ScmpCompareOp::Greater,
        // The spec's value is the mask and valueTwo the datum (runc does the same).
        "SCMP_CMP_MASKED_EQ" => {
            return Ok(ScmpArgCompare::new(a.index() as u32, ScmpCompareOp::MaskedEqual(a.value()), a.value_two().unwrap_or(0)))
        }
        other => return Err(spec_err(format!("unknown operator {other:?}"))),
    };
    Ok(ScmpArgCompare::new(a.index() as u32, op, a.value()))
}

/// Builds the filter (not loaded yet).
pub fn compile(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    let lib = |what: &str| {
        let what = what.to_string();
        move |e: libseccomp::error::SeccompError| spec_err(format!("{what}: {e}"))
    };
    let default = action(&name_of(&s.default_action()), s.default_errno_ret(), None)?;
    let mut ctx = ScmpFilterContext::new(default).map_err(lib("create filter"))?;
    // no_new_privs is the init's decision (process.noNewPrivileges), not libseccomp's.
    ctx.set_ctl_nnp(false).map_err(lib("set NNP attribute"))?;
    for a in s.architectures().iter().flatten() {
        let n = name_of(a);
        let arch = ScmpArch::from_str(&n).map_err(|_| spec_err(format!("unknown architecture {n:?}")))?;
        match ctx.add_arch(arch) {
            Ok(_) => {}
            // The native architecture is already in the filter.
            Err(e) if e.errno() == Some(libseccomp::error::SeccompErrno::EEXIST) => {}
            Err(e) => return Err(spec_err(format!("add architecture {n}: {e}"))),
        }
    }
    for f in s.flags().iter().flatten() {
        match name_of(f).as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => {
                ctx.set_ctl_tsync(true).map_err(lib("set TSYNC"))?;
            }
            "SECCOMP_FILTER_FLAG_LOG" => {
                ctx.set_ctl_log(true).map_err(lib("set LOG"))?;
            }
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => {
                ctx.set_ctl_ssb(true).map_err(lib("set SPEC_ALLOW"))?;
            }
            other => return Err(spec_err(format!("unknown flag {other:?}"))),
        }
    }
    for rule in s.syscalls().iter().flatten() {
        add_rule(&mut ctx, rule, s.default_errno_ret())?;
    }
    Ok(ctx)
}

fn add_rule(ctx: &mut ScmpFilterContext, rule: &LinuxSyscall, default_errno: Option<u32>) -> Result<()> {
    let act = action(&name_of(&rule.action()), rule.errno_ret(), default_errno)?;
    let args: Vec<ScmpArgCompare> = rule.args().iter().flatten().map(compare).collect::<Result<_>>()?;
    for name in rule.names() {
        let Ok(sc) = ScmpSyscall::from_name(name) else {
            // Unknown to this libseccomp (a newer syscall, or another architecture's).
            continue;
        };
        let r = if args.is_empty() { ctx.add_rule(act, sc) } else { ctx.add_rule_conditional(act, sc, &args) };
        match r {
            Ok(_) => {}
            // A rule whose action equals the default action is redundant; libseccomp refuses it.
            Err(e) if e.errno() == Some(libseccomp::error::SeccompErrno::EACCES) => {}
            Err(e) => return Err(spec_err(format!("rule for {name}: {e}"))),
        }
    }
    Ok(())
}

/// Loads the filter into this process (and, with TSYNC, its threads).
pub fn load(ctx: &ScmpFilterContext) -> Result<()> {
    ctx.load().map_err(|e| RuntimeError::Sys(format!("load seccomp filter: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiles_a_docker_like_profile() {
        let s: LinuxSeccomp = serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 1,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["read", "write", "no_such_syscall_zz"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}
            ]
        }))
        .unwrap();
        compile(&s).unwrap();
        let bad: LinuxSeccomp = serde_json::from_value(serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"})).unwrap();
        assert!(compile(&bad).is_err());
    }
}
