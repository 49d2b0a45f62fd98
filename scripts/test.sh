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
