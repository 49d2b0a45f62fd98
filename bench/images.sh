#!/bin/bash
# Image-store benchmark: doca vs docker vs podman, interleaved in one run, on a ~200 MB Debian
# image (debootstrap --variant=minbase). Prints medians and ratios.
#
#   sudo bench/images.sh            # N=7 rounds; WORK=/tmp/doca-bench keeps the rootfs between runs
#
# What it times (each round, tools in rotating order, each from a fresh state):
#   load    `doca load -i` into an empty store | `docker load -i` (then rmi) | `podman load -i` into an empty store
#   save    `doca save -o` | `docker save -o` | `podman save -o`
#   images  `doca images` on a store of 1,000 images (target: under 20 ms)
#   rss     peak RSS of `doca load` (target: under 64 MB whatever the image size)
# Before every timed operation of every tool: sync and drop the page, dentry and inode caches.
# ext4 otherwise charges inode allocation for recently deleted inodes that are still in the
# buffer cache (recently_deleted() in fs/ext4/ialloc.c), so whoever runs right after another
# tool's cleanup is slowed 2-4x. Each tool starts cold, archive read from disk included.
# The peers are set up by bench/lib.sh.
set -euo pipefail
N=${N:-7}
WORK=${WORK:-/tmp/doca-bench}
cd "$(dirname "$0")/.."
. bench/lib.sh
sh scripts/dist.sh >/dev/null
DOCA=$PWD/target/dist/doca
mkdir -p "$WORK"
export DEBIAN_FRONTEND=noninteractive
for p in debootstrap hyperfine; do command -v $p >/dev/null || { apt-get update -qq; apt-get install -y -qq debootstrap time hyperfine >/dev/null; }; done
[ -x /usr/bin/time ] || { apt-get update -qq; apt-get install -y -qq time >/dev/null; }

# The image: a minbase Debian rootfs tarball, made once.
if [ ! -s "$WORK/rootfs.tar" ]; then
  rm -rf "$WORK/rootfs"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log"
  tar --numeric-owner --xattrs -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
  rm -rf "$WORK/rootfs"
fi

SRC=$WORK/src-store
rm -rf "$SRC"
DOCA_ROOT=$SRC "$DOCA" import -c 'CMD ["bash"]' "$WORK/rootfs.tar" bench/debian:1 >/dev/null
DOCA_ROOT=$SRC "$DOCA" save -o "$WORK/image.tar" bench/debian:1
SIZE=$(stat -c %s "$WORK/image.tar")
echo "image: bench/debian:1, archive $(( SIZE / 1000000 )) MB"

peers_start
cleanup() {
  [ -n "$DOCKER" ] && $DOCKER rmi -f bench/debian:1 >/dev/null 2>&1 || true
  peers_stop
  rm -rf "$WORK/doca-store" "$WORK/podman" "$WORK/out.tar" "$WORK/many"
}
trap cleanup EXIT

cold() { sync; echo 3 >/proc/sys/vm/drop_caches; }
for i in $(seq "$N"); do
  order="doca docker podman"
  case $((i % 3)) in 1) order="docker podman doca";; 2) order="podman doca docker";; esac
  for tool in $order; do
    case $tool in
      doca)
        rm -rf "$WORK/doca-store"; cold
        a=$(now); DOCA_ROOT=$WORK/doca-store "$DOCA" load -q -i "$WORK/image.tar"; b=$(now); rec doca_load "$(ms "$a" "$b")"
        cold
        a=$(now); DOCA_ROOT=$WORK/doca-store "$DOCA" save -o "$WORK/out.tar" bench/debian:1; b=$(now); rec doca_save "$(ms "$a" "$b")"
        ;;
      docker)
        [ -n "$DOCKER" ] || continue
        $DOCKER rmi -f bench/debian:1 >/dev/null 2>&1 || true; cold
        a=$(now); $DOCKER load -q -i "$WORK/image.tar" >/dev/null; b=$(now); rec docker_load "$(ms "$a" "$b")"
        cold
        a=$(now); $DOCKER save -o "$WORK/out.tar" bench/debian:1; b=$(now); rec docker_save "$(ms "$a" "$b")"
        ;;
      podman)
        [ -n "$PODMAN" ] || continue
        podman_reset; cold
        a=$(now); $PODMAN load -q -i "$WORK/image.tar" >/dev/null; b=$(now); rec podman_load "$(ms "$a" "$b")"
        cold
        a=$(now); $PODMAN save -q -o "$WORK/out.tar" bench/debian:1 >/dev/null; b=$(now); rec podman_save "$(ms "$a" "$b")"
        ;;
    esac
    rm -f "$WORK/out.tar"
  done
done
podman_reset

# Peak memory of a doca load.
rm -rf "$WORK/doca-store"; cold
RSS=$( { /usr/bin/time -f %M env DOCA_ROOT="$WORK/doca-store" "$DOCA" load -q -i "$WORK/image.tar"; } 2>&1 | tail -1)

# `doca images` with 1,000 images.
rm -rf "$WORK/many"; mkdir -p "$WORK/many"
for k in $(seq 1000); do
  printf '%s' "$k" >"$WORK/many/f"; tar -C "$WORK/many" -cf "$WORK/many/l.tar" f
  DOCA_ROOT=$WORK/many/store "$DOCA" import -m "$k" "$WORK/many/l.tar" "many/img:$k" >/dev/null
done
# hyperfine: the shell's own forks around a 10 ms command would dominate a date-based timing.
DOCA_ROOT=$WORK/many/store hyperfine -N -w 3 -r 30 --export-json "$WORK/images.json" "$DOCA images" >/dev/null
IMAGES_MS=$(python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$WORK/images.json")

printf '\n%-8s %10s %10s %10s %16s %16s\n' op doca docker podman "docker/doca" "podman/doca"
for op in load save; do
  d=$(m doca_$op); k=$(m docker_$op); p=$(m podman_$op)
  printf '%-8s %8sms %8sms %8sms %16s %16s\n' "$op" "$d" "$k" "$p" "$(ratio "$d" "$k")" "$(ratio "$d" "$p")"
done
printf '%-8s %7sms   (1,000 images; target < 20 ms)\n' images "$IMAGES_MS"
printf '%-8s %7sMB   (peak RSS of doca load; target < 64 MB)\n' rss "$(( RSS / 1024 ))"
echo "rounds: $N, archive: $(( SIZE / 1000000 )) MB; medians of interleaved runs"
echo "samples (ms):"
for k in doca_load docker_load podman_load doca_save docker_save podman_save; do printf '  %-12s%s\n' "$k" "${T[$k]:-}"; done
