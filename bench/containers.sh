#!/bin/bash
# Container lifecycle benchmark: doca vs docker vs podman, interleaved in one run (issue 4's
# targets). Every tool runs the same busybox image with --network none (doca has no bridge
# networks yet; the peers are measured the same way so that the comparison is fair).
#
#   sudo bench/containers.sh            N=15 rounds by default; MANY=100 for the batch tests
#
#   run_rm   `run --rm busybox true`, wall time of the CLI
#   run_d    `run -d busybox sleep 1000`
#   exec     `exec C true` into that container
#   rm_f     `rm -f C`
#   batch    MANY detached containers started one after another (total seconds)
#   ps       `ps` with MANY running containers; `ps -a` with 1,000 (doca only)
#   memory   PSS of the per-container monitor (doca-shim, containerd-shim, conmon)
set -euo pipefail
N=${N:-15}
MANY=${MANY:-100}
WORK=${WORK:-/tmp/doca-cbench}
cd "$(dirname "$0")/.."
. bench/lib.sh
mkdir -p "$WORK"
doca_start
peers_start
cleanup() {
  doca_stop
  [ -n "$DOCKER" ] && { $DOCKER rm -f $($DOCKER ps -aq --filter label=doca-bench) >/dev/null 2>&1 || true; $DOCKER rmi -f doca-bench/busybox >/dev/null 2>&1 || true; }
  [ -n "$PODMAN" ] && podman_reset
  peers_stop
}
trap cleanup EXIT
sh scripts/mkbusybox.sh "$WORK/bb.tar"
$DOCA import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null
[ -z "$DOCKER" ] || $DOCKER import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null
[ -z "$PODMAN" ] || $PODMAN import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null

# The same command line for each tool; doca's containers go under their own cgroup parent.
cli() {
  case $1 in
    doca) echo "$DOCA" ;;
    docker) echo "$DOCKER" ;;
    podman) echo "$PODMAN" ;;
  esac
}
extra() { [ "$1" = doca ] && echo "--cgroup-parent doca-bench" || echo "--label doca-bench=1"; }
TOOLS="doca"
[ -z "$DOCKER" ] || TOOLS="$TOOLS docker"
[ -z "$PODMAN" ] || TOOLS="$TOOLS podman"

for i in $(seq "$N"); do
  order=$TOOLS
  case $((i % 3)) in 1) order=$(echo $TOOLS | awk '{for (i=NF;i>0;i--) printf "%s ", $i}');; esac
  for t in $order; do
    c=$(cli $t); x=$(extra $t)
    a=$(now); $c run --rm --network none $x doca-bench/busybox true; b=$(now); rec ${t}_run_rm "$(ms "$a" "$b")"
    a=$(now); id=$($c run -d --network none $x doca-bench/busybox sleep 1000); b=$(now); rec ${t}_run_d "$(ms "$a" "$b")"
    a=$(now); $c exec "$id" true; b=$(now); rec ${t}_exec "$(ms "$a" "$b")"
    a=$(now); $c rm -f "$id" >/dev/null; b=$(now); rec ${t}_rm_f "$(ms "$a" "$b")"
  done
done

# MANY detached containers, then ps and the monitors' memory, then removal.
pss_of() { # total PSS (kB) of processes whose command name is $1
  local total=0
  for p in $(pgrep -f "^[^ ]*$1" || true); do
    v=$(awk '/^Pss:/ {print $2}' /proc/$p/smaps_rollup 2>/dev/null || echo 0); total=$((total + ${v:-0}))
  done
  echo $total
}
declare -A BATCH PS MEM
for t in $TOOLS; do
  c=$(cli $t); x=$(extra $t)
  a=$(now)
  for k in $(seq "$MANY"); do $c run -d --network none $x doca-bench/busybox sleep 1000 >/dev/null; done
  b=$(now)
  BATCH[$t]=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
  for k in $(seq 10); do a=$(now); $c ps >/dev/null; b=$(now); rec ${t}_ps "$(ms "$a" "$b")"; done
  case $t in
    doca) MEM[$t]=$(( $(pss_of doca-shim) / MANY )) ;;
    docker) MEM[$t]=$(( $(pss_of containerd-shim) / MANY )) ;;
    podman) MEM[$t]=$(( $(pss_of conmon) / MANY )) ;;
  esac
  $c rm -f $($c ps -aq) >/dev/null 2>&1 || true
done

# `doca ps -a` with 1,000 containers (created: the listing, not the processes, is measured).
for k in $(seq 1000); do $DOCA create --cgroup-parent doca-bench doca-bench/busybox true >/dev/null; done
for k in $(seq 10); do a=$(now); $DOCA ps -a >/dev/null; b=$(now); rec doca_ps1000 "$(ms "$a" "$b")"; done

printf '\n%-8s %10s %10s %10s %12s %12s  %s\n' op doca docker podman docker/doca podman/doca "doca target"
row() {
  local d k p
  d=$(m doca_$1); k=$(m docker_$1); p=$(m podman_$1)
  printf '%-8s %8sms %8sms %8sms %12s %12s  %s\n' "$1" "$d" "$k" "$p" "$(ratio "$d" "$k")" "$(ratio "$d" "$p")" "$2"
}
row run_rm "<= docker/10"
row run_d "<= 25 ms"
row exec "<= 10 ms"
row rm_f "<= 20 ms"
row ps "<= 30 ms (1,000)"
printf '%-8s %9ss %9ss %9ss %25s  %s\n' batch "${BATCH[doca]:--}" "${BATCH[docker]:--}" "${BATCH[podman]:--}" "" "<= 3 s ($MANY containers)"
printf '%-8s %8sKB %8sKB %8sKB %25s  %s\n' memory "${MEM[doca]:--}" "${MEM[docker]:--}" "${MEM[podman]:--}" "" "<= 300 KB PSS per monitor"
printf '%-8s %8sms %35s  %s\n' ps_1000 "$(m doca_ps1000)" "" "<= 30 ms"
echo "rounds: $N; medians of interleaved runs (ms)"
