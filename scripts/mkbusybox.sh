#!/bin/sh
# Builds a busybox root filesystem tarball from Debian's busybox-static: the fixture image the
# tests and benchmarks use (no registry needed). Usage: mkbusybox.sh OUT.tar
set -eu
out=${1:?usage: mkbusybox.sh OUT.tar}
bb=/bin/busybox
[ -x "$bb" ] || { echo "mkbusybox: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
file -b "$bb" 2>/dev/null | grep -q 'statically linked' || ldd "$bb" 2>&1 | grep -q 'not a dynamic' || {
  echo "mkbusybox: $bb is not static (apt-get install busybox-static)" >&2; exit 1; }
root=$(mktemp -d)
chmod 755 "$root"   # mktemp makes it 0700; the image root must be traversable by any user
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev" "$root/var/www"
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -s busybox "$root/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
# Fixed times and owners: the same busybox gives the same tarball, hence the same layer digest.
tar --sort=name --mtime=@1700000000 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$out" .
