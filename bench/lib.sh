# Sourced by the benchmarks: timing helpers and the peers, each with state of its own.
#
# docker: uses a running dockerd if /var/run/docker.sock answers; otherwise starts one with its
# own --data-root under $WORK (and --bridge=none unless docker0 already exists, so the host's
# network is left as it is) and stops it at the end. podman runs with its own temp root and a
# containers.conf whose default ulimits this host allows (shared/MACHINE-NOTES.md).

now() { date +%s%N; }
# Milliseconds between two `now`s, with one decimal.
ms() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f\n", (b - a) / 1e6 }'; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "-"} else if (NR%2) {print a[(NR+1)/2]} else {printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}}'; }
declare -A T
rec() { T[$1]="${T[$1]:-} $2"; }
m() { echo "${T[$1]:-}" | tr ' ' '\n' | grep -v '^$' | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a == 0) print "-"; else printf "%.1fx\n", b / a }'; }

DOCKER=""
DOCKERD_PID=""
PODMAN=""
peers_start() {
  if ! command -v dockerd >/dev/null || ! command -v podman >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io podman >/dev/null || true
  fi
  if command -v dockerd >/dev/null; then
    if docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; then
      DOCKER="docker -H unix:///var/run/docker.sock"
    else
      local bridge=""
      ip link show docker0 >/dev/null 2>&1 || bridge="--bridge=none"
      dockerd --data-root "$WORK/docker" --exec-root "$WORK/docker-exec" --pidfile "$WORK/docker.pid" \
        -H "unix://$WORK/docker.sock" --iptables=false --ip-masq=false $bridge >"$WORK/dockerd.log" 2>&1 &
      DOCKERD_PID=$!
      for _ in $(seq 50); do docker -H "unix://$WORK/docker.sock" version >/dev/null 2>&1 && break; sleep 0.2; done
      DOCKER="docker -H unix://$WORK/docker.sock"
    fi
  fi
  if command -v podman >/dev/null; then
    printf '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nevents_logger = "file"\ncgroup_manager = "cgroupfs"\nruntime = "runc"\n' >"$WORK/containers.conf"
    export CONTAINERS_CONF=$WORK/containers.conf
    PODMAN="podman --root $WORK/podman/root --runroot $WORK/podman/run --storage-driver overlay --tmpdir $WORK/podman/tmp"
  fi
}
podman_reset() { [ -z "$PODMAN" ] || $PODMAN system reset -f >/dev/null 2>&1 || true; rm -rf "$WORK/podman"; }
peers_stop() {
  if [ -n "$DOCKERD_PID" ]; then kill "$DOCKERD_PID" 2>/dev/null || true; wait "$DOCKERD_PID" 2>/dev/null || true; fi
  # dockerd leaves its network namespace mounts under its exec root (seen after builds with
  # --network host): unmounted so the work directory can go.
  for m in "$WORK"/docker-exec/netns/*; do [ -e "$m" ] && umount -l "$m" 2>/dev/null; done
  true
}

# doca with a store of its own under $WORK, and its removal: containers, the store's default
# bridge and firewall table (named doca-<6 hex of sha256(root)> for a root not /var/lib/doca),
# the store, and the bench's cgroup parent.
doca_start() {
  # doca as installed (static doca-runc): scripts/dist.sh.
  sh scripts/dist.sh >/dev/null
  export DOCA_ROOT=$WORK/doca/root DOCA_RUN_ROOT=$WORK/doca/run
  DOCA="$PWD/target/dist/doca --root $DOCA_ROOT --run-root $DOCA_RUN_ROOT"
}
doca_stop() {
  $DOCA rm -f $($DOCA ps -aq) >/dev/null 2>&1 || true
  local tag
  tag=doca-$(printf '%s' "$DOCA_ROOT" | sha256sum | cut -c1-6)
  ip link del "$tag" 2>/dev/null || true
  nft delete table inet "$tag" 2>/dev/null || true
  rm -rf "$WORK/doca"
  for d in /sys/fs/cgroup/*/doca-bench; do rmdir "$d" 2>/dev/null || true; done
}
