#!/bin/bash
# Network benchmark (issue 6), interleaved in one run:
#   attach   `run --rm busybox true` on the default bridge minus the same with --network none:
#            what attaching to a bridge adds (doca target <= 5 ms). doca and podman; the
#            private dockerd of bench/lib.sh runs without a bridge (it must not touch the
#            host's docker0/iptables), so docker's bridge is not measured here.
#   publish  1 GB pushed through a published port (host -> 127.0.0.1:PORT -> container) against
#            the same push to a listener on the host's loopback (target: within 10%).
#
#   sudo bench/networks.sh            N=15 rounds by default
set -euo pipefail
N=${N:-15}
WORK=${WORK:-/tmp/doca-nbench}
cd "$(dirname "$0")/.."
. bench/lib.sh
mkdir -p "$WORK"
doca_start
peers_start
cleanup() {
  doca_stop
  [ -n "$PODMAN" ] && { $PODMAN rm -af >/dev/null 2>&1 || true; podman_reset; }
  peers_stop
}
trap cleanup EXIT
sh scripts/mkbusybox.sh "$WORK/bb.tar"
$DOCA import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null
[ -z "$PODMAN" ] || $PODMAN import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null
TOOLS="doca"; [ -z "$PODMAN" ] || TOOLS="$TOOLS podman"
cli() { case $1 in doca) echo "$DOCA" ;; podman) echo "$PODMAN" ;; esac; }
extra() { [ "$1" = doca ] && echo "--cgroup-parent doca-bench" || true; }
# Warm up: the default bridge and the firewall table are made on first use.
for t in $TOOLS; do $(cli $t) run --rm $(extra $t) doca-bench/busybox true >/dev/null; done
for i in $(seq "$N"); do
  for t in $TOOLS; do
    c=$(cli $t); x=$(extra $t)
    a=$(now); $c run --rm --network none $x doca-bench/busybox true; b=$(now); rec "${t}_none" "$(ms "$a" "$b")"
    a=$(now); $c run --rm $x doca-bench/busybox true; b=$(now); rec "${t}_bridge" "$(ms "$a" "$b")"
  done
done
# 1 GB through a published port vs the host's loopback, with busybox nc as the receiver both
# times and bash's /dev/tcp as the sender.
BB=$(command -v busybox)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])')
push() { dd if=/dev/zero bs=1M count=1024 2>/dev/null > "/dev/tcp/127.0.0.1/$1"; }
for i in $(seq 5); do
  "$BB" nc -l -p "$PORT" > /dev/null & nc_pid=$!; sleep 0.2
  # (only the receiver: the peers' daemons are background jobs of this shell too)
  a=$(now); push "$PORT"; b=$(now); rec host_push "$(ms "$a" "$b")"; wait "$nc_pid"
  id=$($DOCA run --cgroup-parent doca-bench -d -p "$PORT:5000" doca-bench/busybox sh -c 'nc -l -p 5000 > /dev/null')
  sleep 0.3
  a=$(now); push "$PORT"; b=$(now); rec doca_push "$(ms "$a" "$b")"
  $DOCA rm -f "$id" >/dev/null
done
printf '\n%-28s %10s %10s\n' op doca podman
printf '%-28s %8sms %8sms\n' "run --rm, --network none" "$(m doca_none)" "$(m podman_none)"
printf '%-28s %8sms %8sms\n' "run --rm, default bridge" "$(m doca_bridge)" "$(m podman_bridge)"
printf '%-28s %8sms %8sms   (doca target <= 5 ms)\n' "bridge adds" \
  "$(awk -v a="$(m doca_none)" -v b="$(m doca_bridge)" 'BEGIN{printf "%.1f", b-a}')" \
  "$(awk -v a="$(m podman_none)" -v b="$(m podman_bridge)" 'BEGIN{if (a=="-") print "-"; else printf "%.1f", b-a}')"
printf '%-28s %8sms host loopback %sms, ratio %s (target <= 1.10)\n' "1 GB via published port" "$(m doca_push)" "$(m host_push)" \
  "$(awk -v a="$(m host_push)" -v b="$(m doca_push)" 'BEGIN{printf "%.2f", b/a}')"
echo "rounds: $N (push: 5); medians"
