#!/bin/bash
# `doca build` beside `docker build` (classic and BuildKit) and `podman build`, interleaved, on
# the same contexts and the same busybox base image (imported into each):
#   (a) ~10 steps, a context of 1,000 small files and one 50 MB file: cold (no cache), fully
#       cached, one file touched (content unchanged), one file edited;
#   (b) two stages with COPY --from: cached, one source edited;
#   (c) with DEBIAN=1: a debootstrap'd Debian 12 base and `apt-get install python3`, built once
#       per tool (downloads from Debian's mirror, --network host), then cached rebuilds.
# RUN steps of (a) and (b) use --network none everywhere (the build's network is not measured).
# Usage: sudo [DEBIAN=1] bench/build.sh [N]   (medians of N rounds, default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-5}
WORK=$(mktemp -d /tmp/doca-bench-build.XXXXXX)
source bench/lib.sh
cleanup() {
  set +e
  [ -n "$DOCKER" ] && DOCKER_BUILDKIT=1 $DOCKER builder prune -af >/dev/null 2>&1
  peers_stop
  podman_reset
  doca_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
sh scripts/mkbusybox.sh "$WORK/busybox.tar" >/dev/null
doca_start
peers_start

BASE=bench-busybox:latest
$DOCA import -c 'CMD ["sh"]' "$WORK/busybox.tar" $BASE >/dev/null
[ -z "$DOCKER" ] || $DOCKER import -c 'CMD ["sh"]' "$WORK/busybox.tar" $BASE >/dev/null
[ -z "$PODMAN" ] || $PODMAN import -c 'CMD ["sh"]' "$WORK/busybox.tar" $BASE >/dev/null

A=$WORK/a
mkdir -p "$A/files"
for i in $(seq 1000); do echo "file $i" >"$A/files/f$i.txt"; done
head -c 50M /dev/urandom >"$A/big.bin"
cat >"$A/Dockerfile" <<EOF
FROM $BASE
ENV APP=/app
WORKDIR /app
COPY big.bin /data/big.bin
COPY files/ /app/files/
RUN ls /app/files | wc -l > /count
RUN echo built > /built
ARG V=1
LABEL version=\$V
EXPOSE 8080
CMD ["sh"]
EOF
B=$WORK/b
mkdir -p "$B/src"
for i in $(seq 20); do echo "part $i" >"$B/src/p$i"; done
cat >"$B/Dockerfile" <<EOF
FROM $BASE AS build
COPY src/ /src/
RUN cat /src/* > /out.txt
FROM $BASE
COPY --from=build /out.txt /out.txt
CMD ["cat", "/out.txt"]
EOF

# tools: name → how it builds CONTEXT with extra flags; how its cache is emptied.
TOOLS=(doca)
[ -z "$DOCKER" ] || TOOLS+=(classic)
# BuildKit needs the buildx CLI plugin, which Debian 12 does not package: measured when present.
if [ -n "$DOCKER" ] && $DOCKER buildx version >/dev/null 2>&1; then TOOLS+=(buildkit); fi
[ -z "$PODMAN" ] || TOOLS+=(podman)
build() { # tool ctx tag extra...
  local tool=$1 ctx=$2 tag=$3
  shift 3
  case $tool in
    doca) $DOCA build -q --network none --cgroup-parent doca-bench -t "$tag" "$@" "$ctx" ;;
    classic) DOCKER_BUILDKIT=0 $DOCKER build 2>/dev/null -q --network none -t "$tag" "$@" "$ctx" ;;
    buildkit) DOCKER_BUILDKIT=1 $DOCKER build -q --network none -t "$tag" "$@" "$ctx" ;;
    podman) $PODMAN build 2>/dev/null -q --network none --layers -t "$tag" "$@" "$ctx" ;;
  esac >/dev/null
}
forget() { # tool: no cache left for the next build
  case $1 in
    doca) $DOCA rmi -f bench-a-doca bench-b-doca >/dev/null 2>&1 || true; $DOCA builder prune -a -f >/dev/null ;;
    classic) $DOCKER rmi -f bench-a-classic >/dev/null 2>&1 || true; $DOCKER image prune -f >/dev/null ;;
    buildkit) $DOCKER rmi -f bench-a-buildkit >/dev/null 2>&1 || true; DOCKER_BUILDKIT=1 $DOCKER builder prune -af >/dev/null ;;
    podman) $PODMAN rmi -f bench-a-podman >/dev/null 2>&1 || true; $PODMAN image prune -af >/dev/null 2>&1 || true ;;
  esac
}
timed() { # key tool ctx tag
  local t0 t1
  t0=$(now)
  build "$2" "$3" "$4"
  t1=$(now)
  rec "$1/$2" "$(ms "$t0" "$t1")"
}

for round in $(seq "$N"); do
  for tool in "${TOOLS[@]}"; do
    forget "$tool"
    # podman needs its base image again after image prune -a.
    [ "$tool" != podman ] || $PODMAN import -c 'CMD ["sh"]' "$WORK/busybox.tar" $BASE >/dev/null
    timed a-cold "$tool" "$A" "bench-a-$tool"
    timed a-cached "$tool" "$A" "bench-a-$tool"
    touch "$A/files/f500.txt"
    timed a-touched "$tool" "$A" "bench-a-$tool"
    echo "edit $round $tool" >>"$A/files/f500.txt"
    timed a-edited "$tool" "$A" "bench-a-$tool"
    build "$tool" "$B" "bench-b-$tool"
    timed b-cached "$tool" "$B" "bench-b-$tool"
    echo "edit $round $tool" >>"$B/src/p7"
    timed b-edited "$tool" "$B" "bench-b-$tool"
  done
done

CASES="a-cold a-cached a-touched a-edited b-cached b-edited"
if [ "${DEBIAN:-0}" = 1 ]; then
  command -v debootstrap >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }
  debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log"
  tar --numeric-owner -C "$WORK/rootfs" -cf "$WORK/debian.tar" .
  rm -rf "$WORK/rootfs"
  DEB=bench-debian:12
  $DOCA import -c 'CMD ["bash"]' "$WORK/debian.tar" $DEB >/dev/null
  [ -z "$DOCKER" ] || $DOCKER import -c 'CMD ["bash"]' "$WORK/debian.tar" $DEB >/dev/null
  [ -z "$PODMAN" ] || $PODMAN import -c 'CMD ["bash"]' "$WORK/debian.tar" $DEB >/dev/null 2>&1
  C=$WORK/c
  mkdir -p "$C"
  printf 'FROM %s\nRUN apt-get update && apt-get install -y --no-install-recommends python3 && rm -rf /var/lib/apt/lists/*\nCMD ["python3", "--version"]\n' $DEB >"$C/Dockerfile"
  buildc() {
    case $1 in
      doca) $DOCA build -q --network host --cgroup-parent doca-bench -t bench-c "$C" ;;
      classic) DOCKER_BUILDKIT=0 $DOCKER build 2>/dev/null -q --network host -t bench-c "$C" ;;
      buildkit) DOCKER_BUILDKIT=1 $DOCKER build -q --network host -t bench-c "$C" ;;
      podman) $PODMAN build 2>/dev/null -q --layers --network host -t bench-c "$C" ;;
    esac >/dev/null
  }
  for tool in "${TOOLS[@]}"; do
    t0=$(now); buildc "$tool"; t1=$(now)
    rec "c-cold/$tool" "$(ms "$t0" "$t1")"
  done
  for round in $(seq "$N"); do
    for tool in "${TOOLS[@]}"; do
      t0=$(now); buildc "$tool"; t1=$(now)
      rec "c-cached/$tool" "$(ms "$t0" "$t1")"
    done
  done
  CASES="$CASES c-cold c-cached"
fi

printf '\nbuild, medians of %s rounds (ms)\n' "$N"
printf '%-10s %10s %10s %10s %10s %18s %16s\n' case doca classic buildkit podman buildkit/doca classic/doca
for c in $CASES; do
  d=$(m "$c/doca")
  printf '%-10s %10s %10s %10s %10s %18s %16s\n' "$c" "$d" "$(m "$c/classic")" "$(m "$c/buildkit")" "$(m "$c/podman")" \
    "$(ratio "$d" "$(m "$c/buildkit")")" "$(ratio "$d" "$(m "$c/classic")")"
done
