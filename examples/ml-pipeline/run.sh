#!/bin/sh
# The seed's story end to end, on one machine, as root: person A builds the project's images
# on a store of their own and pushes them to a registry; person B and server C pull them into
# their own stores and run the project; everyone gets the same image digests and the same
# results. Each person is a doca store (--root/--run-root) under a temp directory, the registry
# is Debian's docker-registry on loopback, and the Debian base comes from debootstrap (no
# Docker Hub needed; see README.md to use debian:bookworm from Docker Hub instead).
#
#   sudo sh examples/ml-pipeline/run.sh          DOCA=path/to/doca to use another build
set -eu
cd "$(dirname "$0")"
HERE=$PWD
DOCA=${DOCA:-doca}
WORK=$(mktemp -d /tmp/ml-pipeline.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export REGISTRY=127.0.0.1:$PORT
REG_PID=""
cleanup() {
  for p in A B C; do
    [ -d "$WORK/$p" ] || continue
    (cd "$HERE" && "$DOCA" --root "$WORK/$p/root" --run-root "$WORK/$p/run" compose down -v -t 1 >/dev/null 2>&1) || true
    tag=doca-$(printf '%s' "$WORK/$p/root" | sha256sum | cut -c1-6)
    ip link del "$tag" 2>/dev/null || true
    nft delete table inet "$tag" 2>/dev/null || true
  done
  [ -n "$REG_PID" ] && kill "$REG_PID" 2>/dev/null || true
  # The default cgroup parent, when no container is left in it (rmdir of a non-empty one fails;
  # a monitor removes its container's cgroup a moment after the container is gone).
  for _ in $(seq 20); do
    left=0
    for d in /sys/fs/cgroup/*/doca; do [ -d "$d" ] && { rmdir "$d" 2>/dev/null || left=1; }; done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
doca_as() { p=$1; shift; "$DOCA" --root "$WORK/$p/root" --run-root "$WORK/$p/run" "$@"; }

echo "== a registry on $REGISTRY"
mkdir -p "$WORK/registry"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' "$WORK/registry/data" "$REGISTRY" > "$WORK/registry/config.yml"
docker-registry serve "$WORK/registry/config.yml" >/dev/null 2>&1 &
REG_PID=$!
for _ in $(seq 50); do curl -fs "http://$REGISTRY/v2/" >/dev/null 2>&1 && break; sleep 0.1; done

echo "== person A: a Debian base from debootstrap, then the project's images"
if [ -n "${BASE_TAR:-}" ] && [ -f "$BASE_TAR" ]; then
  cp "$BASE_TAR" "$WORK/debian.tar"
else
  debootstrap --variant=minbase bookworm "$WORK/rootfs" http://deb.debian.org/debian >/dev/null
  tar -C "$WORK/rootfs" --numeric-owner -cf "$WORK/debian.tar" .
  rm -rf "$WORK/rootfs"
fi
doca_as A import -c 'CMD ["bash"]' "$WORK/debian.tar" debian:bookworm >/dev/null
doca_as A compose build
doca_as A compose push
doca_as A compose up -d
doca_as A compose wait pipeline >/dev/null
doca_as A compose logs --no-log-prefix pipeline > "$WORK/A.out"
doca_as A compose down -v -t 1 2>/dev/null

for p in B C; do
  echo "== person $p: pull and run (no build)"
  doca_as $p compose up -d --no-build
  doca_as $p compose wait pipeline >/dev/null
  doca_as $p compose logs --no-log-prefix pipeline > "$WORK/$p.out"
  doca_as $p compose exec -T db psql -U postgres -tAc 'SELECT slope, intercept, r2, n FROM fits' > "$WORK/$p.db"
  doca_as $p compose down -v -t 1 2>/dev/null
done

echo "== the same everywhere"
for img in db pipeline; do
  ids=$(for p in A B C; do doca_as $p inspect -f '{{.Id}}' "$REGISTRY/ml-pipeline/$img:1"; done | sort -u)
  [ "$(echo "$ids" | wc -l)" = 1 ] || { echo "image $img differs: $ids" >&2; exit 1; }
  echo "$img: $ids (A, B, C)"
done
cmp "$WORK/A.out" "$WORK/B.out" && cmp "$WORK/A.out" "$WORK/C.out" || { echo "results differ" >&2; exit 1; }
cmp "$WORK/B.db" "$WORK/C.db" || { echo "databases differ" >&2; exit 1; }
echo "pipeline: $(cat "$WORK/A.out")"
echo "database: $(cat "$WORK/B.db")"
echo "same images, same results on A, B and C"
