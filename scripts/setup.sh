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
# libc6-dev: the attack tests compile small static programs to run inside containers.
PKGS="busybox-static skopeo podman attr gzip zstd xz-utils uidmap file ca-certificates libseccomp-dev pkg-config procps bsdutils nftables iproute2 docker-registry apache2-utils curl runc openssl gcc libc6-dev"
missing=""
for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"; done
if [ -n "$missing" ]; then
  apt-get update -qq
  # shellcheck disable=SC2086
  apt-get install -y -qq $missing >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "setup.sh: cargo not found: doca needs Rust 1.85 or newer (rustup); Debian 12's cargo is too old" >&2
  exit 1
fi
