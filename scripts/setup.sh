#!/bin/sh
# Installs what doca's build, tests and benchmarks need on Debian 12, as root. Idempotent.
set -eu
if [ "$(id -u)" != 0 ]; then echo "setup.sh: run as root" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
# busybox-static: the fixture image; skopeo, podman: peers the tests exchange archives with;
# attr: getfattr for the xattr checks; gzip/zstd/xz: compressed inputs; uidmap: podman;
# libseccomp-dev: doca-runc links libseccomp to compile seccomp profiles; procps (pgrep) and
# bsdutils (script, for a terminal) for the container tests; nftables (nft: doca's firewall
# table) and iproute2 (ip: the network tests look at links and routes); docker-registry (a
# registry on loopback for pull/push) and apache2-utils (htpasswd, for its basic auth); curl;
# runc (podman runs the images doca pushed with it: crun refuses this cgroup hybrid); gcc and
# libc6-dev: the attack tests compile small static programs to run inside containers;
# docker.io: its docker CLI (20.10, /usr/bin/docker) is the client `doca serve` is tested with
# (its dockerd is never started by the tests); docker-compose (1.29) and python3-venv (for the
# Docker SDK for Python from PyPI) are the other clients; debootstrap: the Debian base of the
# shipped example (examples/ml-pipeline); slirp4netns (and uidmap's newuidmap/newgidmap):
# rootless doca's way out of the user's network namespace; fuse-overlayfs: rootless doca's
# rootfs for --userns=keep-id, and where the kernel refuses overlayfs in a user namespace.
PKGS="busybox-static slirp4netns fuse-overlayfs skopeo podman attr gzip zstd xz-utils uidmap file ca-certificates libseccomp-dev pkg-config procps bsdutils nftables iproute2 docker-registry apache2-utils curl runc openssl gcc libc6-dev docker.io docker-compose python3-venv debootstrap"
missing=""
for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"; done
if [ -n "$missing" ]; then
  apt-get update -qq
  # Installing must not start services (docker.io's dockerd would take the host's networking):
  # policy-rc.d refuses every start while apt runs, unless the host has its own policy.
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  # shellcheck disable=SC2086
  apt-get install -y -qq $missing >/dev/null
  if [ -n "$policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
fi
# Rootless doca's tests run as an ordinary user with subordinate ids (useradd(8) gives a new
# user a range in /etc/subuid and /etc/subgid; added here if it did not).
if ! id doca-test >/dev/null 2>&1; then
  useradd -m -U -s /bin/sh doca-test
fi
grep -q '^doca-test:' /etc/subuid || usermod --add-subuids 3000000000-3000065535 doca-test
grep -q '^doca-test:' /etc/subgid || usermod --add-subgids 3000000000-3000065535 doca-test
# And one with none (useradd gives none with SUB_UID_COUNT=0): rootless doca maps its one id.
if ! id doca-test-single >/dev/null 2>&1; then
  useradd -m -U -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 doca-test-single
fi
sed -i '/^doca-test-single:/d' /etc/subuid /etc/subgid
# An ordinary user opens /dev/net/tun for slirp4netns and /dev/fuse for fuse-overlayfs:
# Debian's udev rules make them 0666, and a host without udev (a container, this VM) leaves
# the kernel's 0600.
for dev in /dev/net/tun /dev/fuse; do
  if [ -c "$dev" ]; then chmod 0666 "$dev"; fi
done
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup.sh: cargo not found: doca needs Rust 1.85 or newer (rustup); Debian 12's cargo is too old" >&2
  exit 1
fi
