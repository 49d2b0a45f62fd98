#!/bin/bash
# doca against an earlier doca, interleaved in one run: what a refactoring cost (issue 16's
# constraint: no regression beyond noise). Both are built as installed (scripts/dist.sh), each
# with a store of its own, and every round runs each operation with one, then the other.
#
#   sudo bench/before_after.sh REV      N=20 rounds by default
#
#   run_rm   `run --rm busybox true`          exec     `exec C true`
#   run_d    `run -d busybox sleep 1000`      inspect  `inspect C`
#   rm_f     `rm -f C`                        ps       `ps -a` with 50 containers
#   runc_run doca-runc alone: `run` of `true` on a busybox bundle (create, start, wait, delete)
set -euo pipefail
REV=${1:?usage: bench/before_after.sh REV}
N=${N:-20}
WORK=${WORK:-/tmp/doca-before-after}
cd "$(dirname "$0")/.."
. bench/lib.sh
mkdir -p "$WORK"
AFTER=$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +changes)
sh scripts/dist.sh "$WORK/after/bin" >/dev/null
if [ ! -d "$WORK/src" ]; then git worktree add -q --detach "$WORK/src" "$REV"; else git -C "$WORK/src" checkout -q --detach "$REV"; fi
(cd "$WORK/src" && sh scripts/dist.sh "$WORK/before/bin" >/dev/null)
sh scripts/mkbusybox.sh "$WORK/bb.tar"

declare -A CLI
for v in before after; do
  CLI[$v]="$WORK/$v/bin/doca --root $WORK/$v/root --run-root $WORK/$v/run"
  ${CLI[$v]} import -c 'CMD ["sh"]' "$WORK/bb.tar" bb >/dev/null
done
cleanup() {
  for v in before after; do
    ${CLI[$v]} rm -f $(${CLI[$v]} ps -aq) >/dev/null 2>&1 || true
    rm -rf "$WORK/$v/root" "$WORK/$v/run"
  done
  for v in before after; do
    for id in $(ls "$WORK/$v/state" 2>/dev/null); do "$WORK/$v/bin/doca-runc" --root "$WORK/$v/state" delete --force "$id" 2>/dev/null || true; done
  done
  git worktree remove --force "$WORK/src" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
run() { ${CLI[$1]} run --network none --cgroup-parent doca-bench "${@:2}"; }
timed() { local k=$1; shift; local a; a=$(now); "$@" >/dev/null; rec "$k" "$(ms "$a" "$(now)")"; }

for _ in $(seq "$N"); do
  for v in before after; do
    timed "run_rm $v" run "$v" --rm bb true
    id=$(run "$v" -d bb sleep 1000)
    timed "exec $v" ${CLI[$v]} exec "$id" true
    timed "inspect $v" ${CLI[$v]} inspect "$id"
    timed "rm_f $v" ${CLI[$v]} rm -f "$id"
    a=$(now); id=$(run "$v" -d bb sleep 1000); rec "run_d $v" "$(ms "$a" "$(now)")"
    ${CLI[$v]} rm -f "$id" >/dev/null
  done
done
for v in before after; do
  for i in $(seq 50); do ${CLI[$v]} create --network none bb true >/dev/null; done
done
for _ in $(seq "$N"); do
  for v in before after; do timed "ps $v" ${CLI[$v]} ps -a; done
done

# The runtime alone, each version's doca-runc on the same bundle.
mkdir -p "$WORK/bundle/rootfs"
tar -C "$WORK/bundle/rootfs" -xf "$WORK/bb.tar"
"$WORK/after/bin/doca-runc" spec --bundle "$WORK/bundle"
python3 - "$WORK/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
c["linux"]["cgroupsPath"] = "/doca-bench/rt"
json.dump(c, open(p, "w"), indent=1)
PY
i=0
for _ in $(seq "$N"); do
  for v in before after; do
    i=$((i + 1))
    timed "runc_run $v" "$WORK/$v/bin/doca-runc" --root "$WORK/$v/state" run --bundle "$WORK/bundle" "b$i"
  done
done

printf '| ms (median of %s) | before (%s) | after (%s) | after/before |\n|---|---|---|---|\n' "$N" "$(git rev-parse --short "$REV")" "$AFTER"
for k in run_rm run_d exec inspect rm_f ps runc_run; do
  b=$(m "$k before"); a=$(m "$k after")
  printf '| %s | %s | %s | %s |\n' "$k" "$b" "$a" "$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')"
done
for d in /sys/fs/cgroup/*/doca-bench; do rmdir "$d"/* "$d" 2>/dev/null || true; done
