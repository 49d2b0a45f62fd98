#!/bin/sh
# doca's main job end to end, as far as it goes today: make an image, list, inspect, save it,
# load it into another store, and have skopeo read the archive. (Dockerfile builds, containers
# and volumes arrive with their issues; see ARCHITECTURE.md.) Uses its own store under /tmp.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
cargo build --release -q
doca=$PWD/target/release/doca
work=$(mktemp -d /tmp/doca-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
export DOCA_ROOT="$work/store"
set -x
sh scripts/mkbusybox.sh "$work/busybox.tar"
$doca import -c 'CMD ["sh"]' -c 'ENV GREETING=hello' -c 'VOLUME /data' "$work/busybox.tar" demo/busybox:1.0
$doca images
$doca inspect --format '{{json .Config}}' demo/busybox:1.0
$doca history demo/busybox:1.0
$doca save -o "$work/demo.tar" demo/busybox:1.0
DOCA_ROOT="$work/store2" $doca load -i "$work/demo.tar"
DOCA_ROOT="$work/store2" $doca images
skopeo inspect "docker-archive:$work/demo.tar" | head -5
$doca system df
$doca system check
