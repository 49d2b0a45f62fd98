#!/bin/bash
# Engine API benchmark: `doca serve` vs dockerd, driven by the same Docker SDK for Python
# client, interleaved in one run (issue 18's targets).
#
#   sudo bench/api.sh        N=5 rounds of the loop by default
#
#   loop      create -> start -> wait -> remove of `true`, LOOP=100 times (total seconds)
#   list      GET /containers/json?all=1 with 100 containers (median of 50, ms)
#   streams   200 clients each following a container's logs and the events at once: how many
#             were served, and the slowest first event (ms)
#   rss       the server's resident memory idle (doca serve; dockerd + containerd)
set -euo pipefail
N=${N:-5}
LOOP=${LOOP:-100}
WORK=${WORK:-/tmp/doca-apibench}
cd "$(dirname "$0")/.."
. bench/lib.sh
mkdir -p "$WORK"
doca_start
peers_start
[ -n "$DOCKER" ] || { echo "api.sh: needs dockerd" >&2; exit 1; }
DOCKER_SOCK=${DOCKER##*unix://}
DOCA_SOCK=$WORK/doca.sock
$DOCA serve -H "unix://$DOCA_SOCK" >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
cleanup() {
  kill "$SERVE_PID" 2>/dev/null || true
  doca_stop
  $DOCKER rm -f $($DOCKER ps -aq --filter label=doca-bench) >/dev/null 2>&1 || true
  $DOCKER rmi -f doca-bench/busybox >/dev/null 2>&1 || true
  peers_stop
}
trap cleanup EXIT
# The SDK in a virtualenv of the bench's own.
[ -x "$WORK/venv/bin/python" ] || { /usr/bin/python3 -m venv "$WORK/venv" && "$WORK/venv/bin/pip" install -q docker; }
PY="$WORK/venv/bin/python bench/api_clients.py"
sh scripts/mkbusybox.sh "$WORK/bb.tar"
$DOCA import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null
$DOCKER import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null
for _ in $(seq 50); do [ -S "$DOCA_SOCK" ] && break; sleep 0.1; done

rss_kb() { local t=0; for p in "$@"; do v=$(awk '/^VmRSS:/ {print $2}' /proc/$p/status 2>/dev/null || echo 0); t=$((t + ${v:-0})); done; echo $t; }
DOCA_IDLE=$(rss_kb "$SERVE_PID")
DOCKER_IDLE=$(rss_kb $(pgrep -x dockerd) $(pgrep -x containerd))

sock() { [ "$1" = doca ] && echo "$DOCA_SOCK" || echo "$DOCKER_SOCK"; }
extra() { [ "$1" = doca ] && echo '{"host_config": {"cgroup_parent": "doca-bench"}}' || echo '{"labels": {"doca-bench": "1"}}'; }
for i in $(seq "$N"); do
  order="doca docker"; [ $((i % 2)) = 0 ] && order="docker doca"
  for t in $order; do rec ${t}_loop "$($PY loop "$(sock $t)" doca-bench/busybox "$LOOP" "$(extra $t)")"; done
done
declare -A LIST STREAMS
for t in doca docker; do
  c=$([ $t = doca ] && echo "$DOCA" || echo "$DOCKER")
  x=$([ $t = doca ] && echo "--cgroup-parent doca-bench" || echo "--label doca-bench=1")
  for k in $(seq 100); do $c create --network none $x doca-bench/busybox true >/dev/null; done
  LIST[$t]=$($PY list "$(sock $t)" 50 | median)
  $c rm -f $($c ps -aq --filter status=created) >/dev/null
  STREAMS[$t]=$($PY streams "$(sock $t)" doca-bench/busybox "${CLIENTS:-200}" "$(extra $t)")
done
DOCA_AFTER=$(rss_kb "$SERVE_PID")

printf '\n| %-34s | %10s | %10s | %8s |\n' "API (doca serve vs dockerd)" doca docker "ratio"
printf '|%s|%s|%s|%s|\n' "------------------------------------" "------------" "------------" "----------"
printf '| %-34s | %9ss | %9ss | %8s |\n' "SDK loop x$LOOP (create..remove)" \
  "$(awk -v v="$(m doca_loop)" 'BEGIN{printf "%.2f", v/1000}')" "$(awk -v v="$(m docker_loop)" 'BEGIN{printf "%.2f", v/1000}')" "$(ratio "$(m doca_loop)" "$(m docker_loop)")"
printf '| %-34s | %8sms | %8sms | %8s |\n' "GET /containers/json, 100" "${LIST[doca]}" "${LIST[docker]}" "$(ratio "${LIST[doca]}" "${LIST[docker]}")"
printf '| %-34s | %10s | %10s | %8s |\n' "200 streams: logs, events, slowest" "${STREAMS[doca]}" "${STREAMS[docker]}" ""
printf '| %-34s | %8sMB | %8sMB | %8s |\n' "idle RSS (server; dockerd+containerd)" "$((DOCA_IDLE / 1024))" "$((DOCKER_IDLE / 1024))" "$(ratio "$DOCA_IDLE" "$DOCKER_IDLE")"
printf '| %-34s | %8sMB | %10s | %8s |\n' "doca serve RSS after the runs" "$((DOCA_AFTER / 1024))" "" ""
