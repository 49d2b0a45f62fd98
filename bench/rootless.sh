#!/bin/bash
# Rootless benchmark (issue 20): rootless doca vs rootless podman, both run by the same
# ordinary user (doca-test, made by scripts/setup.sh) with stores of their own, interleaved in
# one run; and rootless doca vs doca as root for a build.
#
#   sudo bench/rootless.sh              N=15 rounds by default
#
#   run_rm      `run --rm --network none busybox true`, wall time of the CLI
#   run_rm_net  `run --rm busybox true` on the default network (doca: a bridge in the user's
#               network namespace; podman: netavark in its rootless-netns)
#   run_d       `run -d --network none busybox sleep 1000` (removed untimed)
#   build       `build --no-cache` of a three-step Dockerfile: rootless doca vs doca as root
#   pull        `pull` of a two-layer image (busybox and 64 MiB of random bytes) from Debian's
#               docker-registry on loopback: rootless doca vs doca as root
#   publish     MB/s of a 1 GiB download through a published port (busybox httpd in the
#               container, curl on the host's loopback): rootless doca and rootless podman vs
#               doca as root (its bridge and DNAT)
#
# Each command goes through setpriv(1) to become the user (for both tools alike), so the
# figures include one exec of setpriv.
set -euo pipefail
N=${N:-15}
WORK=${WORK:-/tmp/doca-rlbench}
USER_NAME=${USER_NAME:-doca-test}
cd "$(dirname "$0")/.."
. bench/lib.sh
id "$USER_NAME" >/dev/null || { echo "rootless.sh: no user $USER_NAME (scripts/setup.sh makes it)" >&2; exit 1; }
command -v podman >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman >/dev/null; }
rm -rf "$WORK"
mkdir -p "$WORK"
chmod 755 "$WORK"
doca_start
# The user's copies of the installed binaries, and their homes (stores, run roots, podman's conf).
mkdir -p "$WORK/bin" "$WORK/u"
cp target/dist/doca target/dist/doca-shim target/dist/doca-runc "$WORK/bin/"
chmod -R 755 "$WORK/bin"
sh scripts/mkbusybox.sh "$WORK/bb.tar"
chmod 644 "$WORK/bb.tar"
mkdir -p "$WORK/u/home" "$WORK/u/xdg" "$WORK/u/ctx"
printf 'FROM doca-bench/busybox\nRUN echo one > /one\nRUN mkdir -p /a/b && echo two > /a/b/two\nRUN rm /one && echo three > /three\n' >"$WORK/u/ctx/Dockerfile"
printf '[containers]\ndefault_ulimits = ["nofile=1024:1024"]\n[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n' >"$WORK/u/containers.conf"
chown -R "$USER_NAME:" "$WORK/u"
chmod 700 "$WORK/u/xdg"
as_user() {
  setpriv --reuid="$USER_NAME" --regid="$USER_NAME" --init-groups -- env -i PATH=/usr/bin:/bin HOME="$WORK/u/home" \
    XDG_DATA_HOME="$WORK/u/home/data" XDG_RUNTIME_DIR="$WORK/u/xdg" CONTAINERS_CONF="$WORK/u/containers.conf" "$@"
}
RDOCA="$WORK/bin/doca"
RPODMAN="podman --root $WORK/u/podman/root --runroot $WORK/u/podman/run --storage-driver overlay"
cleanup() {
  as_user $RDOCA rm -f $(as_user $RDOCA ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  pid=$(cut -d' ' -f1 "$WORK/u/xdg/doca/pause.pid" 2>/dev/null || true)
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  as_user $RPODMAN rm -f -a >/dev/null 2>&1 || true
  as_user $RPODMAN system reset -f >/dev/null 2>&1 || true
  doca_stop
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT
as_user $RDOCA import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null
as_user $RPODMAN import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null 2>&1
$DOCA import -c 'CMD ["sh"]' "$WORK/bb.tar" doca-bench/busybox >/dev/null
# Warm both: the first command starts doca's pause process and podman's.
as_user $RDOCA run --rm --network none doca-bench/busybox true
as_user $RPODMAN run --rm --network none doca-bench/busybox true 2>/dev/null

for i in $(seq "$N"); do
  order="doca podman"
  [ $((i % 2)) = 0 ] && order="podman doca"
  for t in $order; do
    c=$RDOCA
    [ "$t" = podman ] && c=$RPODMAN
    a=$(now); as_user $c run --rm --network none doca-bench/busybox true 2>/dev/null; b=$(now); rec ${t}_run_rm "$(ms "$a" "$b")"
    a=$(now); as_user $c run --rm doca-bench/busybox true 2>/dev/null; b=$(now); rec ${t}_run_rm_net "$(ms "$a" "$b")"
    a=$(now); id=$(as_user $c run -d --network none doca-bench/busybox sleep 1000 2>/dev/null); b=$(now); rec ${t}_run_d "$(ms "$a" "$b")"
    # podman's rm -f waits out its 10 s stop timeout for a PID 1 that ignores SIGTERM.
    if [ "$t" = podman ]; then as_user $c rm -f -t 0 "$id" >/dev/null 2>&1; else as_user $c rm -f "$id" >/dev/null 2>&1; fi
  done
done
for i in $(seq "$N"); do
  a=$(now); as_user $RDOCA build -q --no-cache --network none -t b "$WORK/u/ctx" >/dev/null; b=$(now); rec rootless_build "$(ms "$a" "$b")"
  a=$(now); $DOCA build -q --no-cache --network none --cgroup-parent doca-bench -t b "$WORK/u/ctx" >/dev/null; b=$(now); rec root_build "$(ms "$a" "$b")"
done

# Pulls from a registry on the host's loopback.
REGPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$WORK/reg"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$WORK/reg/data" "$REGPORT" >"$WORK/reg/config.yml"
docker-registry serve "$WORK/reg/config.yml" >/dev/null 2>&1 &
REGPID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$REGPORT/v2/" >/dev/null && break; sleep 0.1; done
IMG=127.0.0.1:$REGPORT/bench/big:1
mkdir -p "$WORK/bigctx"
printf 'FROM doca-bench/busybox\nRUN dd if=/dev/urandom of=/big bs=1M count=64 2>/dev/null\n' >"$WORK/bigctx/Dockerfile"
$DOCA build -q --network none --cgroup-parent doca-bench -t "$IMG" "$WORK/bigctx" >/dev/null
$DOCA push -q "$IMG" >/dev/null
$DOCA rmi "$IMG" >/dev/null
for i in $(seq "$N"); do
  a=$(now); as_user $RDOCA pull -q "$IMG" >/dev/null; b=$(now); rec rootless_pull "$(ms "$a" "$b")"
  a=$(now); $DOCA pull -q "$IMG" >/dev/null; b=$(now); rec root_pull "$(ms "$a" "$b")"
  as_user $RDOCA rmi "$IMG" >/dev/null
  $DOCA rmi "$IMG" >/dev/null
done
kill "$REGPID" 2>/dev/null || true

# Throughput through a published port: a 1 GiB file in a tmpfs, served by busybox httpd.
serve='dd if=/dev/zero of=/www/big bs=1M count=1024 2>/dev/null && exec httpd -f -p 8080 -h /www'
get() { # PORT: MB/s of one download, once the server answers
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$1/none" 2>/dev/null; [ $? = 22 ] && break; sleep 0.1; done
  curl -s -o /dev/null -w '%{speed_download}' "http://127.0.0.1:$1/big" | awk '{ printf "%.0f\n", $1 / 1e6 }'
}
as_user $RDOCA run -d --name tp -p 18081:8080 --tmpfs /www:size=1100m doca-bench/busybox sh -c "$serve" >/dev/null
as_user $RPODMAN run -d --name tp -p 18082:8080 --tmpfs /www:size=1100m doca-bench/busybox sh -c "$serve" >/dev/null 2>&1
$DOCA run -d --name tp -p 18083:8080 --cgroup-parent doca-bench --tmpfs /www:size=1100m doca-bench/busybox sh -c "$serve" >/dev/null
for i in $(seq 3); do
  rec rootless_tp "$(get 18081)"
  rec podman_tp "$(get 18082)"
  rec root_tp "$(get 18083)"
done
as_user $RDOCA rm -f tp >/dev/null 2>&1 || true
as_user $RPODMAN rm -f -t 0 tp >/dev/null 2>&1 || true
$DOCA rm -f tp >/dev/null 2>&1 || true

printf '\n%-11s %14s %15s %14s  %s\n' op "rootless doca" "rootless podman" "podman/doca" "target"
row() {
  local d p
  d=$(m doca_$1); p=$(m podman_$1)
  printf '%-11s %12sms %13sms %14s  %s\n' "$1" "$d" "$p" "$(ratio "$d" "$p")" "$2"
}
row run_rm ">= 4x"
row run_rm_net ""
row run_d ">= 4x"
d=$(m rootless_build); r=$(m root_build)
printf '\n%-11s %14s %15s %14s  %s\n' op "rootless doca" "doca as root" "rootless/root" "target"
printf '%-11s %12sms %13sms %14s  %s\n' build "$d" "$r" "$(awk -v a="$r" -v b="$d" 'BEGIN { printf "%.2fx", b / a }')" "<= 1.2x"
d=$(m rootless_pull); r=$(m root_pull)
printf '%-11s %12sms %13sms %14s  %s\n' pull "$d" "$r" "$(awk -v a="$r" -v b="$d" 'BEGIN { printf "%.2fx", b / a }')" "<= 1.2x"
d=$(m rootless_tp); p=$(m podman_tp); r=$(m root_tp)
printf '\n%-11s %14s %15s %14s %14s  %s\n' op "rootless doca" "rootless podman" "doca as root" "rootless/root" "target"
printf '%-11s %10sMB/s %11sMB/s %10sMB/s %14s  %s\n' publish "$d" "$p" "$r" "$(awk -v a="$r" -v b="$d" 'BEGIN { printf "%.2fx", b / a }')" ">= 0.8x"
echo "rounds: $N; medians of interleaved runs (ms); publish: median of 3 downloads each"
