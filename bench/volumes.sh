#!/bin/bash
# Volume benchmark (issue 5): writing 1 GB with dd into a named volume, against the same dd on
# the host's filesystem, for doca, docker and podman interleaved; and copy-up of an image
# directory of 10,000 files into a new volume (the whole `run --rm -v NEWVOL:/data IMG true`).
#
#   sudo bench/volumes.sh            N=5 rounds by default
set -euo pipefail
N=${N:-5}
WORK=${WORK:-/tmp/doca-vbench}
cd "$(dirname "$0")/.."
. bench/lib.sh
mkdir -p "$WORK"
doca_start
peers_start
cleanup() {
  doca_stop
  [ -n "$DOCKER" ] && { $DOCKER rm -f $($DOCKER ps -aq --filter label=doca-bench) >/dev/null 2>&1 || true; $DOCKER volume prune -af >/dev/null 2>&1 || $DOCKER volume prune -f >/dev/null 2>&1 || true; $DOCKER rmi -f doca-vbench/busybox doca-vbench/many >/dev/null 2>&1 || true; }
  [ -n "$PODMAN" ] && podman_reset
  peers_stop
  rm -rf "$WORK/host" "$WORK/many"
}
trap cleanup EXIT
sh scripts/mkbusybox.sh "$WORK/bb.tar"
# The copy-up image: busybox plus /data with 10,000 small files, as one more tarball.
rm -rf "$WORK/many" && mkdir -p "$WORK/many/root" && tar -C "$WORK/many/root" -xf "$WORK/bb.tar"
mkdir -p "$WORK/many/root/data" && (cd "$WORK/many/root/data" && seq 10000 | xargs -n 500 sh -c 'for i; do echo "$i" > "f$i"; done' sh)
tar -C "$WORK/many/root" -cf "$WORK/many.tar" .
for t in doca docker podman; do
  case $t in doca) c=$DOCA ;; docker) c=$DOCKER ;; podman) c=$PODMAN ;; esac
  [ -n "$c" ] || continue
  $c import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-vbench/busybox >/dev/null
  $c import -c 'CMD ["sh"]' "$WORK/many.tar" doca-vbench/many >/dev/null
done
TOOLS="doca"; [ -z "$DOCKER" ] || TOOLS="$TOOLS docker"; [ -z "$PODMAN" ] || TOOLS="$TOOLS podman"
cli() { case $1 in doca) echo "$DOCA" ;; docker) echo "$DOCKER" ;; podman) echo "$PODMAN" ;; esac; }
DD='dd if=/dev/zero of=/data/f bs=1M count=1024 conv=fsync 2>/dev/null'
mkdir -p "$WORK/host"
for i in $(seq "$N"); do
  for t in $TOOLS; do
    c=$(cli $t)
    # The host's own dd on the same filesystem, just before each tool's: this VM's disk drifts
    # by tens of percent within a minute, so each tool is compared with its own neighbour and
    # the ratio's median is reported.
    sync
    # The same busybox dd as in the containers, so only the place differs.
    a=$(now); "$WORK/many/root/bin/busybox" dd if=/dev/zero of="$WORK/host/f" bs=1M count=1024 conv=fsync 2>/dev/null; b=$(now); hd=$(ms "$a" "$b"); rec host_dd "$hd"
    # Freeing 1 GB costs the next writer on ext4: every dd follows a delete and a sync.
    rm -f "$WORK/host/f"; sync
    $c volume create "vb$i" >/dev/null
    # Timed inside the container, so the engine's own start and stop are not counted.
    # (busybox's date has no %N: its `time`, to 10 ms, is precise enough for a write of seconds.)
    out=$($c run --rm --network none --label doca-bench=1 -v "vb$i:/data" doca-vbench/busybox time sh -c "$DD" 2>&1)
    td=$(echo "$out" | awk '/^real/ { printf "%.1f", ($2 + 0) * 60000 + ($3 + 0) * 1000 }')
    rec "${t}_dd" "$td"
    rec "${t}_ddratio" "$(awk -v a="$hd" -v b="$td" 'BEGIN{printf "%.3f", b/a}')"
    $c volume rm "vb$i" >/dev/null; sync
    a=$(now); $c run --rm --network none --label doca-bench=1 -v "cu$i:/data" doca-vbench/many true; b=$(now); rec "${t}_copyup" "$(ms "$a" "$b")"
    [ "$($c run --rm --network none -v "cu$i:/data" doca-vbench/busybox sh -c 'ls /data | wc -l')" = 10000 ] || echo "$t: copy-up incomplete" >&2
    $c volume rm "cu$i" >/dev/null
  done
done
h=$(m host_dd)
printf '\n%-10s %10s %10s %10s %10s\n' op host doca docker podman
printf '%-10s %8sms %8sms %8sms %8sms\n' "dd 1 GB" "$h" "$(m doca_dd)" "$(m docker_dd)" "$(m podman_dd)"
printf '%-10s %10s %9sx %9sx %9sx   (median of tool/host-just-before; doca target <= 1.10x)\n' "ratio" "" \
  "$(m doca_ddratio)" "$(m docker_ddratio)" "$(m podman_ddratio)"
printf '%-10s %10s %8sms %8sms %8sms   (run --rm with a new volume over 10,000 files; doca target <= docker)\n' "copy-up" "" "$(m doca_copyup)" "$(m docker_copyup)" "$(m podman_copyup)"
echo "rounds: $N; medians"
