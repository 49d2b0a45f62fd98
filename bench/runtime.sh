#!/bin/bash
# Runtime benchmark: create + start + wait + delete of `true` on a busybox bundle, through each
# runtime's own `run` (which does exactly that), interleaved: doca-runc, runc, and crun where it
# runs. Median of N (default 30) per runtime, and ratios.
#
#   sudo [N=30] [PAUSE=0.2] bench/runtime.sh
#
# PAUSE (seconds) sleeps before each run. Back to back, runs flatter every runtime alike: on
# cgroup v1 the first migration into a cgroup after a quiet spell waits for an RCU grace period
# (~10 ms here), which runs a few ms apart mostly skip; a container an engine starts pays it.
#
# crun 1.8 refuses this host's hybrid cgroup layout, so it runs inside a private mount namespace
# where /sys/fs/cgroup/unified is unmounted (shared/MACHINE-NOTES.md); that costs an nsenter,
# which is included in its time.
set -euo pipefail
N=${N:-30}
cd "$(dirname "$0")/.."
# doca-runc as installed: static, built for size (scripts/dist.sh). The cargo release build
# (dynamic) is measured for its peak RSS beside it.
sh scripts/dist.sh --runtime-only >/dev/null
cargo build --release -q -p doca-runtime
DOCA=$PWD/target/dist/doca-runc
DYN=$PWD/target/release/doca-runc
WORK=$(mktemp -d /tmp/doca-rtbench.XXXXXX)
HOLDER=""
cleanup() {
  [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null || true
  for st in "$WORK"/state-*; do
    case $st in *-runc) r=runc ;; *-crun) continue ;; *) r=$DOCA ;; esac
    for id in $(ls "$st" 2>/dev/null); do "$r" --root "$st" delete --force "$id" 2>/dev/null || true; done
  done
  rm -rf "$WORK"
  for d in /sys/fs/cgroup/*/doca-rtbench; do rmdir "$d"/* "$d" 2>/dev/null || true; done
}
trap cleanup EXIT
sh scripts/mkbusybox.sh "$WORK/bb.tar"
mkdir -p "$WORK/bundle/rootfs"
tar -C "$WORK/bundle/rootfs" -xf "$WORK/bb.tar"
"$DOCA" spec --bundle "$WORK/bundle"
python3 - "$WORK/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
c["linux"]["cgroupsPath"] = "/doca-rtbench/c"
json.dump(c, open(p, "w"), indent=1)
PY
now() { date +%s%N; }
declare -A T
rec() { T[$1]="${T[$1]:-} $2"; }
RUNTIMES="doca runc"
if command -v crun >/dev/null; then
  unshare --mount --propagation slave sleep infinity &
  HOLDER=$!
  sleep 0.2
  nsenter -t "$HOLDER" -m umount /sys/fs/cgroup/unified 2>/dev/null || true
  if nsenter -t "$HOLDER" -m crun --root "$WORK/state-crun" run --bundle "$WORK/bundle" probe >/dev/null 2>&1; then
    RUNTIMES="$RUNTIMES crun"
  else
    echo "crun does not run here; left out"
  fi
fi
i=0
for n in $(seq "$N"); do
  for r in $RUNTIMES; do
    i=$((i + 1)); id="b$i"
    [ -z "${PAUSE:-}" ] || sleep "$PAUSE"
    case $r in
      doca) a=$(now); "$DOCA" --root "$WORK/state-doca" run --bundle "$WORK/bundle" "$id"; b=$(now) ;;
      runc) a=$(now); runc --root "$WORK/state-runc" run --bundle "$WORK/bundle" "$id"; b=$(now) ;;
      crun) a=$(now); nsenter -t "$HOLDER" -m crun --root "$WORK/state-crun" run --bundle "$WORK/bundle" "$id"; b=$(now) ;;
    esac
    rec "$r" $(( (b - a) / 1000 ))
  done
done
# exec `true` into a running container (target: <= 5 ms for doca-runc).
cp -r "$WORK/bundle" "$WORK/long"
python3 - "$WORK/long/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["args"] = ["sleep", "1000"]
c["linux"]["cgroupsPath"] = "/doca-rtbench/long"
json.dump(c, open(p, "w"), indent=1)
PY
"$DOCA" --root "$WORK/state-doca" run -d --bundle "$WORK/long" long-doca
runc --root "$WORK/state-runc" run -d --bundle "$WORK/long" long-runc >/dev/null 2>&1 </dev/null
for n in $(seq "$N"); do
  a=$(now); "$DOCA" --root "$WORK/state-doca" exec long-doca true; b=$(now); rec exec_doca $(( (b - a) / 1000 ))
  a=$(now); runc --root "$WORK/state-runc" exec long-runc true; b=$(now); rec exec_runc $(( (b - a) / 1000 ))
done
"$DOCA" --root "$WORK/state-doca" delete --force long-doca
runc --root "$WORK/state-runc" delete --force long-runc

# Peak RSS (KB) of each operation: the largest of the runtime and the processes it waits for.
# (Through a file: a created container keeps the runtime's stdio open.)
rss() { /usr/bin/time -o "$WORK/rss" -f %M "$@" </dev/null >/dev/null 2>&1; cat "$WORK/rss"; }
peak_rss() {
  local r=$1 st=$WORK/state-rss-$2 max=0 v
  for v in $(rss "$r" --root "$st" run --bundle "$WORK/bundle" rss-run) \
    $(rss "$r" --root "$st" create --bundle "$WORK/long" rss-c) \
    $(rss "$r" --root "$st" start rss-c) \
    $(rss "$r" --root "$st" exec rss-c true) \
    $(rss "$r" --root "$st" state rss-c) \
    $(rss "$r" --root "$st" kill rss-c KILL) \
    $(rss "$r" --root "$st" delete --force rss-c); do
    [ "$v" -gt "$max" ] && max=$v
  done
  echo "$max"
}
sed -i 's|/doca-rtbench/long|/doca-rtbench/rss|' "$WORK/long/config.json"
RSS=$(peak_rss "$DOCA" static)
RSS_DYN=$(peak_rss "$DYN" dynamic)
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
d=$(echo "${T[doca]}" | median)
printf '\n%-10s %12s %12s\n' runtime "median (ms)" "vs doca"
for r in $RUNTIMES; do
  m=$(echo "${T[$r]}" | median)
  printf '%-10s %12.2f %11.2fx\n' "$r" "$(awk -v x="$m" 'BEGIN{print x/1000}')" "$(awk -v a="$m" -v b="$d" 'BEGIN{print a/b}')"
done
ed=$(echo "${T[exec_doca]}" | median); er=$(echo "${T[exec_runc]}" | median)
printf '%-10s %12.2f %11.2fx\n' "exec doca" "$(awk -v x="$ed" 'BEGIN{print x/1000}')" 1
printf '%-10s %12.2f %11.2fx\n' "exec runc" "$(awk -v x="$er" 'BEGIN{print x/1000}')" "$(awk -v a="$er" -v b="$ed" 'BEGIN{print a/b}')"
echo "doca-runc peak RSS over run/create/start/exec/state/kill/delete: ${RSS} KB (as installed), ${RSS_DYN} KB (cargo release build, dynamic); targets: doca <= 0.4x runc and <= crun; exec <= 5 ms; RSS <= 3 MB"
echo "N=$N create+start+wait+delete of true, interleaved${PAUSE:+, each after a ${PAUSE}s pause}"
