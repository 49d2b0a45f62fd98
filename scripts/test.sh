#!/bin/sh
# The test command: installs what the tests need, then runs every test, as root (the
# integration tests unpack layers with real ownership, device nodes and xattrs).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
cargo build --workspace --all-targets
cargo test --workspace --no-fail-fast -- --test-threads="$(nproc)"
