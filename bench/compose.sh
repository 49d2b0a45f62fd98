#!/bin/bash
# Compose benchmark: `doca compose` vs Debian's docker-compose 1.29 on dockerd (its own data
# root) and Debian's podman-compose 1.0.3 on podman (its own root), interleaved in one run
# (issue 19's targets).
#
#   sudo bench/compose.sh        N=5 rounds by default
#
#   up      `up -d` of a 5-service project (one network, one volume), images cached
#   noop    `up -d` again, nothing changed (podman-compose 1.0.3 runs `podman run` for every
#           service again, each refused for its name in use, and exits 0: timed as it is)
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
command -v podman-compose >/dev/null || { apt-get install -y -qq podman-compose >/dev/null || true; }
# podman-compose runs `podman`, given podman's own root through --podman-args (one argument).
PODMAN_COMPOSE=""
if [ -n "$PODMAN" ] && command -v podman-compose >/dev/null; then PODMAN_COMPOSE=1; fi
pc() { podman-compose --podman-args="${PODMAN#podman }" -p bench "$@"; }
cleanup() {
  (cd "$WORK/doca-proj" && $DOCA compose down -v -t 0 >/dev/null 2>&1) || true
  (cd "$WORK/docker-proj" && DOCKER_HOST=${DOCKER##* } docker-compose down -v -t 0 >/dev/null 2>&1) || true
  [ -z "$PODMAN_COMPOSE" ] || (cd "$WORK/podman-proj" && pc down -v -t 0 >/dev/null 2>&1) || true
  podman_reset
  doca_stop
  $DOCKER rmi -f doca-bench/busybox >/dev/null 2>&1 || true
  peers_stop
}
trap cleanup EXIT
sh scripts/mkbusybox.sh "$WORK/bb.tar"
$DOCA import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null
$DOCKER import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null
[ -z "$PODMAN_COMPOSE" ] || $PODMAN import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null
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
project "$WORK/podman-proj"
# podman-compose names the image as written; podman's local name has the localhost/ prefix.
sed -i 's#image: doca-bench/busybox#image: localhost/doca-bench/busybox#' "$WORK/podman-proj/compose.yaml"
DH=${DOCKER##*-H }
run_doca() { (cd "$WORK/doca-proj" && $DOCA compose -p bench "$@" >/dev/null 2>&1); }
run_docker() { (cd "$WORK/docker-proj" && DOCKER_HOST=$DH docker-compose -p bench "$@" >/dev/null 2>&1); }
run_podman() { (cd "$WORK/podman-proj" && pc "$@" >/dev/null 2>&1); }
ENGINES="doca docker"; [ -n "$PODMAN_COMPOSE" ] && ENGINES="doca docker podman"
for i in $(seq "$N"); do
  # Rotated each round, so that no engine always runs first.
  set -- $ENGINES
  order=""; for j in $(seq 0 $(($# - 1))); do k=$(((i + j) % $# + 1)); order="$order ${!k}"; done
  for t in $order; do
    a=$(now); run_$t up -d; b=$(now); rec ${t}_up "$(ms "$a" "$b")"
    a=$(now); run_$t up -d; b=$(now); rec ${t}_noop "$(ms "$a" "$b")"
    a=$(now); run_$t down -v -t 1; b=$(now); rec ${t}_down "$(ms "$a" "$b")"
  done
done
printf '\n| %-26s | %8s | %14s | %8s | %14s | %8s |\n' "compose, 5 services (ms)" doca docker-compose ratio podman-compose ratio
printf '|%s|%s|%s|%s|%s|%s|\n' "----------------------------" "----------" "----------------" "----------" "----------------" "----------"
for k in up noop down; do
  p=$(m podman_$k); p=${p:--}
  printf '| %-26s | %8s | %14s | %8s | %14s | %8s |\n' "$k" "$(m doca_$k)" "$(m docker_$k)" "$(ratio "$(m doca_$k)" "$(m docker_$k)")" \
    "$p" "$(ratio "$(m doca_$k)" "$p")"
done
