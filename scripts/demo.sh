#!/bin/sh
# doca's main job end to end, as far as it goes today: make an image, run containers of it
# (foreground, detached, exec, logs, stop) and with a volume, save it, load it into another
# store, and have skopeo read the archive. (Dockerfile builds arrive with their issue; see
# ARCHITECTURE.md.) Uses its own store and run root under /tmp.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
cargo build --release -q
doca=$PWD/target/release/doca
work=$(mktemp -d /tmp/doca-demo.XXXXXX)
export DOCA_ROOT="$work/store" DOCA_RUN_ROOT="$work/run"
trap '$doca rm -f $($doca ps -aq) >/dev/null 2>&1; rm -rf "$work"' EXIT
set -x
sh scripts/mkbusybox.sh "$work/busybox.tar"
$doca import -c 'CMD ["sh"]' -c 'ENV GREETING=hello' -c 'VOLUME /data' "$work/busybox.tar" demo/busybox:1.0
$doca images
$doca inspect --format '{{json .Config}}' demo/busybox:1.0
$doca history demo/busybox:1.0
$doca run --rm demo/busybox:1.0 sh -c 'echo "$GREETING from container $(hostname), pid $$"'
$doca run -d --name ticker -m 64m demo/busybox:1.0 sh -c 'trap "exit 0" TERM; while true; do date; sleep 1; done'
$doca ps
$doca exec ticker sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes; id'
sleep 2
$doca logs --tail 2 ticker
$doca stop ticker
$doca ps -a
$doca rm -v ticker
# A volume outlives its containers: one writes, a later one reads.
$doca run --rm -v demo-data:/data demo/busybox:1.0 sh -c 'echo "written at $(date)" > /data/note'
$doca run --rm -v demo-data:/data:ro demo/busybox:1.0 cat /data/note
$doca volume ls
$doca volume rm demo-data
$doca save -o "$work/demo.tar" demo/busybox:1.0
DOCA_ROOT="$work/store2" $doca load -i "$work/demo.tar"
DOCA_ROOT="$work/store2" $doca images
skopeo inspect "docker-archive:$work/demo.tar" | head -5
$doca system df
$doca system check
