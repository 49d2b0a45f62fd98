#!/bin/bash
# Compose benchmark: `doca compose` vs Debian's docker-compose 1.29 on dockerd (its own data
# root), interleaved in one run (issue 19's targets).
#
#   sudo bench/compose.sh        N=5 rounds by default
#
#   up      `up -d` of a 5-service project (one network, one volume), images cached
#   noop    `up -d` again, nothing changed
#   down    `down -v`
set -euo pipefail
N=${N:-5}
WORK=${WORK:-/tmp/doca-composebench}
cd "$(dirname "$0")/.."
. bench/lib.sh
mkdir -p "$WORK"
doca_start
peers_start
[ -n "$DOCKER" ] || { echo "compose.sh: needs dockerd" >&2; exit 1; }
command -v docker-compose >/dev/null || { apt-get install -y -qq docker-compose >/dev/null; }
cleanup() {
  (cd "$WORK/doca-proj" && $DOCA compose down -v -t 0 >/dev/null 2>&1) || true
  (cd "$WORK/docker-proj" && DOCKER_HOST=${DOCKER##* } docker-compose down -v -t 0 >/dev/null 2>&1) || true
  doca_stop
  $DOCKER rmi -f doca-bench/busybox >/dev/null 2>&1 || true
  peers_stop
}
trap cleanup EXIT
sh scripts/mkbusybox.sh "$WORK/bb.tar"
$DOCA import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null
$DOCKER import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null
project() {
  mkdir -p "$1"
  {
    echo "services:"
    for s in web api worker cache db; do
      # A process that ends on SIGTERM (PID 1 ignores it otherwise), so that down measures
      # the engines, not the stop timeout.
      printf '  %s:\n    image: doca-bench/busybox\n    command: ["sh", "-c", "trap '"'"'exit 0'"'"' TERM; sleep 1000 & wait"]\n    stop_grace_period: 1s\n' "$s"
      [ "$s" = db ] && printf '    volumes: ["data:/data"]\n'
      [ "$s" = api ] && printf '    depends_on: [db]\n'
    done
    printf 'volumes:\n  data: {}\n'
  } > "$1/compose.yaml"
}
project "$WORK/doca-proj"
project "$WORK/docker-proj"
DH=${DOCKER##*-H }
run_doca() { (cd "$WORK/doca-proj" && $DOCA compose -p bench "$@" >/dev/null 2>&1); }
run_docker() { (cd "$WORK/docker-proj" && DOCKER_HOST=$DH docker-compose -p bench "$@" >/dev/null 2>&1); }
for i in $(seq "$N"); do
  order="doca docker"; [ $((i % 2)) = 0 ] && order="docker doca"
  for t in $order; do
    a=$(now); run_$t up -d; b=$(now); rec ${t}_up "$(ms "$a" "$b")"
    a=$(now); run_$t up -d; b=$(now); rec ${t}_noop "$(ms "$a" "$b")"
    a=$(now); run_$t down -v -t 1; b=$(now); rec ${t}_down "$(ms "$a" "$b")"
  done
done
printf '\n| %-32s | %10s | %14s | %8s |\n' "compose, 5 services (ms)" doca docker-compose ratio
printf '|%s|%s|%s|%s|\n' "----------------------------------" "------------" "----------------" "----------"
for k in up noop down; do
  printf '| %-32s | %10s | %14s | %8s |\n' "$k" "$(m doca_$k)" "$(m docker_$k)" "$(ratio "$(m doca_$k)" "$(m docker_$k)")"
done
