//! Compiles doca-init (init/doca-init.rs) with rustc directly: it must be a static executable
//! without libc (panic=abort, no startup files, no PIE), which a crate of this workspace cannot
//! be under the dev profile's unwinding panics. The engine embeds the result for `--init`.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let src = "init/doca-init.rs";
    println!("cargo:rerun-if-changed={src}");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("doca-init");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("x86_64") {
        // Only x86_64 has the system call code; elsewhere `--init` says it is unsupported.
        std::fs::write(&out, b"").expect("write doca-init placeholder");
        return;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let mut cmd = Command::new(rustc);
    cmd.args(["--edition=2021", "--crate-type=bin", "--crate-name=doca_init", "-C", "panic=abort", "-C", "opt-level=s"]);
    cmd.args(["-C", "relocation-model=static", "-C", "strip=symbols", "-C", "debuginfo=0"]);
    for a in ["-nostartfiles", "-nostdlib", "-static", "-no-pie"] {
        cmd.arg("-C").arg(format!("link-arg={a}"));
    }
    let status = cmd.arg("-o").arg(&out).arg(src).status().expect("run rustc for doca-init");
    assert!(status.success(), "compiling {src} failed");
}
