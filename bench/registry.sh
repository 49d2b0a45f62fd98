#!/bin/bash
# Pull and push of a Debian 12 image (debootstrap --variant=minbase, gzip layers as skopeo
# pushes them) through Debian's docker-registry on loopback, interleaved:
#   pull, into an image ready to run: doca, docker, podman (and skopeo copy to a directory,
#        which does not unpack);
#   push to a second registry, emptied before each push (so nothing can be mounted or
#        skipped): doca, docker, podman, skopeo (from a directory).
# Usage: sudo bench/registry.sh [N]   (medians of N rounds, default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5}
WORK=$(mktemp -d /tmp/doca-bench-registry.XXXXXX)
source bench/lib.sh
REGS=()
cleanup() {
  set +e
  for p in "${REGS[@]}"; do kill "$p" 2>/dev/null; done
  [ -z "$DOCKER" ] || $DOCKER image prune -af >/dev/null 2>&1
  peers_stop
  podman_reset
  doca_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
doca_start
peers_start

declare -A REGPID
registry() { # port: (re)starts it with empty storage
  if [ -n "${REGPID[$1]:-}" ]; then kill "${REGPID[$1]}" 2>/dev/null || true; wait "${REGPID[$1]}" 2>/dev/null || true; fi
  rm -rf "$WORK/reg-$1"
  mkdir -p "$WORK/reg-$1"
  printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$WORK/reg-$1/data" "$1" >"$WORK/reg-$1/config.yml"
  docker-registry serve "$WORK/reg-$1/config.yml" >/dev/null 2>&1 &
  REGS+=($!)
  REGPID[$1]=$!
  for _ in $(seq 50); do curl -s "http://127.0.0.1:$1/v2/" >/dev/null && break; sleep 0.1; done
}
SRC=127.0.0.1:5801
DST=127.0.0.1:5802
registry 5801
registry 5802

debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log"
tar --numeric-owner -C "$WORK/rootfs" -cf "$WORK/debian.tar" .
rm -rf "$WORK/rootfs"
$DOCA import -c 'CMD ["bash"]' "$WORK/debian.tar" bench/debian:12 >/dev/null
$DOCA save -o "$WORK/debian-image.tar" bench/debian:12
skopeo copy -q --dest-tls-verify=false "docker-archive:$WORK/debian-image.tar" "docker://$SRC/bench/debian:12"
IMG=$SRC/bench/debian:12
# The imported image is the pushed one (same config): untagged, or every pull would find it.
$DOCA rmi bench/debian:12 >/dev/null
SIZE=$(du -sb "$WORK/reg-5801/data" | cut -f1)
echo "image: $IMG, $((SIZE / 1000000)) MB in the registry (compressed)"

TOOLS=(doca)
[ -z "$DOCKER" ] || TOOLS+=(docker)
[ -z "$PODMAN" ] || TOOLS+=(podman)
TOOLS+=(skopeo)
pull() {
  case $1 in
    doca) $DOCA rmi -f "$IMG" >/dev/null 2>&1 || true ;;
    docker) $DOCKER rmi -f "$IMG" >/dev/null 2>&1 || true ;;
    podman) $PODMAN rmi -f "$IMG" >/dev/null 2>&1 || true ;;
    skopeo) rm -rf "$WORK/skopeo-dir" ;;
  esac
  sync
  local t0 t1
  t0=$(now)
  case $1 in
    doca) $DOCA pull -q "$IMG" >/dev/null ;;
    docker) $DOCKER pull -q "$IMG" >/dev/null ;;
    podman) $PODMAN pull -q --tls-verify=false "$IMG" >/dev/null 2>&1 ;;
    skopeo) skopeo copy -q --src-tls-verify=false "docker://$IMG" "dir:$WORK/skopeo-dir" ;;
  esac
  t1=$(now)
  rec "pull/$1" "$(ms "$t0" "$t1")"
}
push() { # tool round
  # An empty registry each time: the peers remember where blobs went and would mount them.
  registry 5802
  local dest=$DST/push/$1-$2:1 t0 t1
  case $1 in
    doca) $DOCA tag "$IMG" "$dest" ;;
    docker) $DOCKER tag "$IMG" "$dest" ;;
    podman) $PODMAN tag "$IMG" "$dest" ;;
    skopeo) ;;
  esac
  t0=$(now)
  case $1 in
    doca) $DOCA push -q "$dest" >/dev/null ;;
    docker) $DOCKER push -q "$dest" >/dev/null ;;
    podman) $PODMAN push -q --tls-verify=false "$dest" >/dev/null 2>&1 ;;
    skopeo) skopeo copy -q --dest-tls-verify=false "dir:$WORK/skopeo-dir" "docker://$dest" ;;
  esac
  t1=$(now)
  rec "push/$1" "$(ms "$t0" "$t1")"
  # Untagged again, so that the next round's pull starts from nothing.
  case $1 in
    doca) $DOCA rmi "$dest" >/dev/null ;;
    docker) $DOCKER rmi "$dest" >/dev/null ;;
    podman) $PODMAN rmi "$dest" >/dev/null 2>&1 ;;
  esac
}

# Each pull must start from an empty store: checked once.
$DOCA pull -q "$IMG" >/dev/null
$DOCA rmi "$IMG" >/dev/null
[ "$($DOCA images -aq | wc -l)" = 0 ] || { echo "doca still has images before the pulls" >&2; exit 1; }
for round in $(seq "$N"); do
  for tool in "${TOOLS[@]}"; do
    pull "$tool"
    push "$tool" "$round"
  done
done
# Memory: doca's peak RSS for one pull and one push.
$DOCA rmi -f "$IMG" >/dev/null 2>&1 || true
PULL_RSS=$(/usr/bin/time -f %M $DOCA pull -q "$IMG" 2>&1 >/dev/null | tail -1)
$DOCA tag "$IMG" "$DST/push/rss:1"
PUSH_RSS=$(/usr/bin/time -f %M $DOCA push -q "$DST/push/rss:1" 2>&1 >/dev/null | tail -1)

printf '\nregistry, medians of %s rounds (ms)\n' "$N"
printf '%-6s %10s %10s %10s %10s %14s %14s\n' op doca docker podman skopeo doca/docker doca/skopeo
for op in pull push; do
  d=$(m "$op/doca")
  printf '%-6s %10s %10s %10s %10s %14s %14s\n' "$op" "$d" "$(m "$op/docker")" "$(m "$op/podman")" "$(m "$op/skopeo")" \
    "$(awk -v a="$d" -v b="$(m "$op/docker")" 'BEGIN { if (b == "-" || b == 0) print "-"; else printf "%.2fx\n", a / b }')" \
    "$(awk -v a="$d" -v b="$(m "$op/skopeo")" 'BEGIN { if (b == "-" || b == 0) print "-"; else printf "%.2fx\n", a / b }')"
done
echo "doca peak RSS: pull ${PULL_RSS} KB, push ${PUSH_RSS} KB"
