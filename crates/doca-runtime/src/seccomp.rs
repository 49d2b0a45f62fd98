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

/// A compiled filter: the BPF program and the seccomp(2) flags to load it with.
///
/// libseccomp generates BPF anew for every load, and for Docker's default profile (hundreds of
/// rules, argument filters on three architectures) that takes ~20 ms: most of a container's
/// start. The program depends only on the profile, the native architecture and libseccomp, so
/// it is kept under the runtime's root keyed by their hash, and the init loads the bytes with
/// seccomp(2) itself.
#[derive(Debug, Clone)]
pub struct Filter {
    bpf: Vec<u8>,
    flags: libc::c_ulong,
}

/// Compiles `s` (or takes it from `cache`, a directory): errors come before any process exists.
pub fn prepare(s: &LinuxSeccomp, cache: Option<&std::path::Path>) -> Result<Filter> {
    use sha2::Digest;
    let mut flags: libc::c_ulong = 0;
    for f in s.flags().iter().flatten() {
        flags |= match name_of(f).as_str() {
            "SECCOMP_FILTER_FLAG_TSYNC" => libc::SECCOMP_FILTER_FLAG_TSYNC,
            "SECCOMP_FILTER_FLAG_LOG" => libc::SECCOMP_FILTER_FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => libc::SECCOMP_FILTER_FLAG_SPEC_ALLOW,
            other => return Err(spec_err(format!("unknown flag {other:?}"))),
        };
    }
    let version = libseccomp::ScmpVersion::current().map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro)).unwrap_or_default();
    let mut h = sha2::Sha256::new();
    h.update(serde_json::to_vec(s).expect("json"));
    h.update(format!("|{}|{version}|v1", std::env::consts::ARCH));
    let key: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    // '@' is not allowed in container ids: the cache never meets a container's state directory.
    let cached = cache.map(|d| d.join("@seccomp").join(&key));
    if let Some(bpf) = cached.as_ref().and_then(|p| std::fs::read(p).ok()).filter(|b| !b.is_empty() && b.len() % 8 == 0) {
        return Ok(Filter { bpf, flags });
    }
    let bpf = export(&compile(s)?)?;
    if let Some(p) = cached {
        // Best effort: a cache that cannot be written only costs the next start some time.
        let _ = write_cache(&p, &bpf);
    }
    Ok(Filter { bpf, flags })
}

/// libseccomp writes BPF to a descriptor: a pipe holds a filter (at most 4096 instructions of 8
/// bytes, BPF_MAXINSNS) without blocking.
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>> {
    use std::io::Read;
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let _ = nix::fcntl::fcntl(&w, nix::fcntl::FcntlArg::F_SETPIPE_SZ(64 << 10));
    let mut w = std::fs::File::from(w);
    ctx.export_bpf(&mut w).map_err(|e| RuntimeError::Sys(format!("export seccomp filter: {e}")))?;
    drop(w);
    let mut bpf = Vec::new();
    std::fs::File::from(r).read_to_end(&mut bpf).map_err(|e| RuntimeError::Sys(format!("read seccomp filter: {e}")))?;
    Ok(bpf)
}

fn write_cache(path: &std::path::Path, bpf: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path.parent().expect("cache dir");
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let tmp = dir.join(format!(".tmp-{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp)?;
    f.write_all(bpf)?;
    std::fs::rename(&tmp, path)
}

/// Loads the filter into this process (and, with TSYNC, its threads): seccomp(2)
/// SECCOMP_SET_MODE_FILTER, which needs no_new_privs or CAP_SYS_ADMIN.
pub fn load(f: &Filter) -> Result<()> {
    let prog = libc::sock_fprog { len: (f.bpf.len() / 8) as u16, filter: f.bpf.as_ptr() as *mut libc::sock_filter };
    // SAFETY: prog points at len instructions that live as long as `f`; the kernel copies them.
    let r = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, f.flags, &prog as *const libc::sock_fprog) };
    if r != 0 {
        return Err(RuntimeError::Sys(format!("load seccomp filter: {}", std::io::Error::last_os_error())));
    }
    Ok(())
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
        // The cached program is the one compiled.
        let dir = tempfile::tempdir().unwrap();
        let first = prepare(&s, Some(dir.path())).unwrap();
        assert_eq!(std::fs::read_dir(dir.path().join("@seccomp")).unwrap().count(), 1);
        let again = prepare(&s, Some(dir.path())).unwrap();
        assert_eq!(first.bpf, again.bpf);
        assert_eq!(first.bpf, prepare(&s, None).unwrap().bpf);
        let bad: LinuxSeccomp = serde_json::from_value(serde_json::json!({"defaultAction": "SCMP_ACT_NOTIFY"})).unwrap();
        assert!(compile(&bad).is_err());
    }
}
