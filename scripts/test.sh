#!/bin/sh
# The test command: installs what the tests need, then runs every test, as root (the
# integration tests unpack layers with real ownership, device nodes and xattrs).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast -- --test-threads="$(nproc)"
# The runtime as installed (static, size-optimized: scripts/dist.sh) passes the runtime's tests too.
sh scripts/dist.sh --runtime-only >/dev/null
DOCA_TEST_RUNC=$PWD/target/dist/doca-runc cargo test -p doca-runtime --test runtime -- --test-threads="$(nproc)"
# And again as an unprivileged user (uid 65534, runc's rootless mode): every test that a user
# can run, the others saying why they need root.
DOCA_RT_ROOTLESS=1 DOCA_TEST_RUNC=$PWD/target/dist/doca-runc cargo test -p doca-runtime --test runtime -- --test-threads="$(nproc)"
