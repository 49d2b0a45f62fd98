//! Device rules on cgroup v2: v2 has no `devices.allow`/`devices.deny`; access to device nodes
//! is decided by an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE attached to the cgroup
//! (Documentation/admin-guide/cgroup-v2.rst, "Device controller"). This builds that program
//! from the spec's rules with v1's meaning (the last rule that matches decides; no match is a
//! denial; the default devices the runtime must supply are allowed on top), as runc's
//! libcontainer/cgroups/devices/devicefilter does, then loads and attaches it with bpf(2).
//! Hand-assembled: the program is a few dozen fixed-shape instructions, not worth a BPF crate.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// One rule: `None` for a wildcard type/major/minor; access bits as the kernel's
/// BPF_DEVCG_ACC_* (mknod 1, read 2, write 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub allow: bool,
    /// BPF_DEVCG_DEV_BLOCK (1) or BPF_DEVCG_DEV_CHAR (2); `None` for "a".
    pub kind: Option<u32>,
    pub major: Option<u32>,
    pub minor: Option<u32>,
    pub access: u32,
}

pub const BLOCK: u32 = 1;
pub const CHAR: u32 = 2;
const ALL_ACCESS: u32 = 1 | 2 | 4;

impl Rule {
    /// From the runtime spec's `type` ("a", "b", "c"), major, minor and `access` ("rwm").
    pub fn from_spec(allow: bool, kind: &str, major: Option<i64>, minor: Option<i64>, access: &str) -> Rule {
        let kind = match kind {
            "b" => Some(BLOCK),
            "c" | "u" => Some(CHAR),
            _ => None,
        };
        let access = access.chars().map(|c| match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => 0,
        });
        let access = access.fold(0, |a, b| a | b);
        let num = |n: Option<i64>| n.filter(|n| *n >= 0).map(|n| n as u32);
        Rule { allow, kind, major: num(major), minor: num(minor), access: if access == 0 { ALL_ACCESS } else { access } }
    }
}

/// struct bpf_insn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    code: u8,
    regs: u8,
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn { code, regs: (src << 4) | (dst & 0x0f), off, imm }
}

// Opcodes (include/uapi/linux/bpf.h, bpf_common.h).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x54;
const ALU32_RSH_K: u8 = 0x74;
const ALU32_MOV_X: u8 = 0xbc;
const ALU64_MOV_K: u8 = 0xb7;
const JMP32_JNE_K: u8 = 0x56; // BPF_JMP32 | BPF_JNE | BPF_K
const EXIT: u8 = 0x95;

/// The program: registers r2..r5 hold the request's type, access, major and minor (struct
/// bpf_cgroup_dev_ctx: access_type = access << 16 | type, then major, minor); each rule, last
/// first, is a block that jumps past itself on any mismatch and otherwise returns its verdict;
/// nothing matching returns 0 (deny).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        insn(LDX_MEM_W, 2, 1, 0, 0),
        insn(ALU32_AND_K, 2, 0, 0, 0xffff),
        insn(LDX_MEM_W, 3, 1, 0, 0),
        insn(ALU32_RSH_K, 3, 0, 0, 16),
        insn(LDX_MEM_W, 4, 1, 4, 0),
        insn(LDX_MEM_W, 5, 1, 8, 0),
    ];
    for r in rules.iter().rev() {
        // The checks, each a jump of (the rest of the block) on mismatch.
        let mut checks: Vec<Vec<Insn>> = Vec::new();
        if let Some(k) = r.kind {
            checks.push(vec![insn(JMP32_JNE_K, 2, 0, 0, k as i32)]);
        }
        if r.access != ALL_ACCESS {
            // The request must ask nothing the rule does not grant: (access & ~rule) == 0.
            checks.push(vec![insn(ALU32_MOV_X, 6, 3, 0, 0), insn(ALU32_AND_K, 6, 0, 0, !r.access as i32), insn(JMP32_JNE_K, 6, 0, 0, 0)]);
        }
        if let Some(m) = r.major {
            checks.push(vec![insn(JMP32_JNE_K, 4, 0, 0, m as i32)]);
        }
        if let Some(m) = r.minor {
            checks.push(vec![insn(JMP32_JNE_K, 5, 0, 0, m as i32)]);
        }
        let verdict = [insn(ALU64_MOV_K, 0, 0, 0, i32::from(r.allow)), insn(EXIT, 0, 0, 0, 0)];
        if checks.is_empty() {
            // A rule that matches everything ends the program: the verifier refuses the
            // unreachable instructions that would follow.
            p.extend(verdict);
            return p;
        }
        let total: usize = checks.iter().map(Vec::len).sum::<usize>() + verdict.len();
        let mut emitted = 0;
        for c in checks {
            for mut i in c {
                emitted += 1;
                if i.code == JMP32_JNE_K {
                    // Jump offsets count the instructions after the jump.
                    i.off = (total - emitted) as i16;
                }
                p.push(i);
            }
        }
        p.extend(verdict);
    }
    p.push(insn(ALU64_MOV_K, 0, 0, 0, 0));
    p.push(insn(EXIT, 0, 0, 0, 0));
    p
}

/// What the program answers for one request, computed the same way in Rust (for tests, and
/// the meaning the program must have).
pub fn decide(rules: &[Rule], kind: u32, major: u32, minor: u32, access: u32) -> bool {
    rules
        .iter()
        .rev()
        .find(|r| {
            r.kind.is_none_or(|k| k == kind)
                && access & !r.access == 0
                && r.major.is_none_or(|m| m == major)
                && r.minor.is_none_or(|m| m == minor)
        })
        .is_some_and(|r| r.allow)
}

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

#[repr(C)]
#[derive(Default)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    // The rest of union bpf_attr for this command, zero.
    _rest: [u64; 12],
}

#[repr(C)]
#[derive(Default)]
struct ProgAttach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    _rest: [u32; 11],
}

fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> std::io::Result<i64> {
    // SAFETY: bpf(2) reads `size` bytes of `attr`, a #[repr(C)] prefix of union bpf_attr with
    // the rest zeroed; the pointers inside it point at live buffers for the call's duration.
    let r = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, std::mem::size_of::<T>()) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// Loads the program for `rules` and attaches it to the cgroup v2 directory `dir` (with
/// BPF_F_ALLOW_MULTI, as runc and systemd do, so programs of parent cgroups still apply).
pub fn attach(dir: &Path, rules: &[Rule]) -> std::io::Result<()> {
    let insns = program(rules);
    let license = b"Apache-2.0\0";
    let mut log = vec![0u8; 64 << 10];
    let mut load = ProgLoad {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        ..Default::default()
    };
    let prog = bpf(BPF_PROG_LOAD, &mut load).map_err(|e| {
        let text = String::from_utf8_lossy(&log[..log.iter().position(|b| *b == 0).unwrap_or(0)]).into_owned();
        std::io::Error::new(
            e.kind(),
            format!("load the device program: {e}{}", if text.is_empty() { String::new() } else { format!(": {text}") }),
        )
    })?;
    // SAFETY: bpf(2) returned a new descriptor that nothing else owns.
    let prog = unsafe { OwnedFd::from_raw_fd(prog as i32) };
    let cgroup = std::fs::File::open(dir)?;
    let mut at = ProgAttach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..Default::default()
    };
    bpf(BPF_PROG_ATTACH, &mut at)
        .map_err(|e| std::io::Error::new(e.kind(), format!("attach the device program to {}: {e}", dir.display())))?;
    // The cgroup keeps the program; our descriptors can go.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker_like() -> Vec<Rule> {
        vec![
            Rule::from_spec(false, "a", None, None, "rwm"),
            Rule::from_spec(true, "c", Some(1), Some(3), "rwm"),
            Rule::from_spec(true, "c", Some(1), Some(5), "r"),
            Rule::from_spec(true, "b", Some(8), None, "rw"),
            Rule::from_spec(false, "b", Some(8), Some(1), "w"),
        ]
    }

    #[test]
    fn the_last_matching_rule_decides_as_in_v1() {
        let r = docker_like();
        assert!(decide(&r, CHAR, 1, 3, 2 | 4));
        assert!(decide(&r, CHAR, 1, 5, 2));
        assert!(!decide(&r, CHAR, 1, 5, 4), "write not granted");
        assert!(!decide(&r, CHAR, 1, 7, 2), "denied by the first rule");
        assert!(decide(&r, BLOCK, 8, 0, 2 | 4));
        assert!(!decide(&r, BLOCK, 8, 1, 4), "a later deny wins");
        assert!(decide(&r, BLOCK, 8, 1, 2));
        assert!(!decide(&[], CHAR, 1, 3, 2), "no rule: denied");
    }

    #[test]
    fn the_program_has_the_shape_the_verifier_wants() {
        let p = program(&docker_like());
        assert_eq!(p.last().unwrap().code, EXIT);
        // Every jump lands inside the program, on or before the final default.
        for (i, insn) in p.iter().enumerate() {
            if insn.code == JMP32_JNE_K {
                let target = i as i64 + 1 + i64::from(insn.off);
                assert!(target > i as i64 && (target as usize) < p.len(), "jump {i} -> {target}");
                // A jump lands on the first instruction of the next block or the default.
                let prev = p[target as usize - 1];
                assert_eq!(prev.code, EXIT, "jump {i} lands after an exit");
            }
        }
    }
}
