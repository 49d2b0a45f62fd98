#!/bin/sh
# Builds doca as it is installed, into one directory (default target/dist): doca and doca-shim
# from the release profile, and doca-runc from the `runtime` profile, linked statically (glibc,
# libseccomp) as runc and crun are shipped. A static runtime skips the dynamic loader on every
# container operation and keeps its peak RSS under 3 MB (bench/runtime.sh). The engine finds
# its helpers next to `doca`, so the directory is what goes into PATH.
#
#   sh scripts/dist.sh [--runtime-only] [DIR]
set -eu
cd "$(dirname "$0")/.."
bins="target/release/doca target/release/doca-shim"
if [ "${1:-}" = --runtime-only ]; then bins=""; shift; fi
out=${1:-target/dist}
host=$(rustc -vV | sed -n 's/^host: //p')
[ -z "$bins" ] || cargo build --release -q -p doca-cli -p doca-shim
# With --target, RUSTFLAGS reach only what is built for the target, not build scripts and
# proc-macros (which cannot be static). libseccomp-sys links libseccomp.a when told to.
# Static PIE keeps ASLR; DT_RELR (-z pack-relative-relocs, glibc 2.36+) shrinks its ~10,000
# relative relocations from 240 KB of table, all read at every start, to 3 KB. No unwind tables:
# panics abort (profile.release) and need none.
LIBSECCOMP_LINK_TYPE=static LIBSECCOMP_LIB_PATH=$(pkg-config --variable=libdir libseccomp) \
  RUSTFLAGS="-C target-feature=+crt-static -C force-unwind-tables=no -C link-arg=-Wl,-z,pack-relative-relocs" \
  cargo build --profile runtime -q -p doca-runtime --bin doca-runc --target "$host"
mkdir -p "$out"
for b in $bins "target/$host/runtime/doca-runc"; do
  # Replaced, not rewritten: a running container's monitor may have the old file open.
  cp "$b" "$out/.$(basename "$b").new"
  mv "$out/.$(basename "$b").new" "$out/$(basename "$b")"
done
echo "$out"
