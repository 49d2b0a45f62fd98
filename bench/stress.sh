#!/bin/bash
# Concurrency check at scale (issue 4): 8 parallel CLI loops create, start and remove 1,000
# containers in all on one store, with no daemon; then every record must be accounted for and
# nothing left behind: no container, mount, monitor, runtime state or cgroup.
#
#   sudo bench/stress.sh            TOTAL=1000 WORKERS=8 by default
set -euo pipefail
TOTAL=${TOTAL:-1000}
WORKERS=${WORKERS:-8}
cd "$(dirname "$0")/.."
sh scripts/dist.sh >/dev/null
WORK=$(mktemp -d /tmp/doca-stress.XXXXXX)
export DOCA_ROOT=$WORK/root DOCA_RUN_ROOT=$WORK/run
DOCA=$PWD/target/dist/doca
CG=doca-stress-$$
cleanup() {
  $DOCA rm -f $($DOCA ps -aq) >/dev/null 2>&1 || true
  for d in /sys/fs/cgroup/*/$CG; do rmdir "$d"/* "$d" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
sh scripts/mkbusybox.sh "$WORK/bb.tar"
$DOCA import -c 'CMD ["sh"]' "$WORK/bb.tar" busybox >/dev/null
per=$((TOTAL / WORKERS))
start=$(date +%s%N)
for w in $(seq "$WORKERS"); do
  (
    for k in $(seq "$per"); do
      n="w$w-$k"
      case $((k % 3)) in
        0) $DOCA run -d --cgroup-parent $CG --name "$n" busybox sleep 60 >/dev/null && $DOCA rm -f "$n" >/dev/null ;;
        1) $DOCA run --rm --cgroup-parent $CG --name "$n" busybox true ;;
        2) $DOCA create --cgroup-parent $CG --name "$n" busybox true >/dev/null && $DOCA start -a "$n" && $DOCA rm "$n" >/dev/null ;;
      esac || echo "worker $w: $n failed" >&2
    done
  ) &
done
wait
end=$(date +%s%N)
left=$($DOCA ps -aq | wc -l)
mounts=$(grep -c "$WORK" /proc/self/mountinfo || true)
monitors=$(pgrep -fc "$WORK/run/containers" || true)
state=$(ls "$WORK/run/runtime/doca-runc" 2>/dev/null | grep -vc '^@' || true)
cgroups=$(find /sys/fs/cgroup/*/$CG -mindepth 1 -type d 2>/dev/null | wc -l)
dirs=$(ls "$WORK/root/containers" | wc -l)
echo "$TOTAL containers by $WORKERS parallel CLIs in $(( (end - start) / 1000000 )) ms"
echo "left behind: records $left, mounts $mounts, monitors $monitors, runtime state $state, cgroups $cgroups, container dirs $dirs"
[ "$left$mounts$monitors$state$cgroups$dirs" = "000000" ] && echo "clean" || { echo "NOT clean"; exit 1; }
