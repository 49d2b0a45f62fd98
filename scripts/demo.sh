#!/bin/sh
# doca's main job end to end: build an image from a Dockerfile (on a base image made from
# Debian's busybox-static, as no registry is reachable here), run containers of it (foreground,
# detached, exec, logs, stop), with a volume, on networks (a published port, names that
# resolve), rebuild it from the cache, save it, load it into another store, and have skopeo
# read the archive. Uses its own store and run root under /tmp.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
sh scripts/dist.sh >/dev/null
doca=$PWD/target/dist/doca
work=$(mktemp -d /tmp/doca-demo.XXXXXX)
export DOCA_ROOT="$work/store" DOCA_RUN_ROOT="$work/run"
# The store's default bridge and firewall table are named after its root (not /var/lib/doca).
tag=doca-$(printf '%s' "$DOCA_ROOT" | sha256sum | cut -c1-6)
trap 'set +e; $doca rm -f $($doca ps -aq) >/dev/null 2>&1; $doca network prune -f >/dev/null 2>&1; ip link del $tag 2>/dev/null; nft delete table inet $tag 2>/dev/null; for d in /sys/fs/cgroup/*/doca; do rmdir "$d" 2>/dev/null; done; rm -rf "$work"' EXIT
set -x
sh scripts/mkbusybox.sh "$work/busybox.tar"
$doca import -c 'CMD ["sh"]' "$work/busybox.tar" busybox:latest
# The seed's kind of Dockerfile: FROM, RUN, ENV, VOLUME, COPY, EXPOSE, CMD.
mkdir -p "$work/app"
echo 'port=8080' > "$work/app/app.conf"
cat > "$work/app/Dockerfile" <<'EOF'
FROM busybox
RUN mkdir -p /etc/app /data && echo "built on $(date -u +%F)" > /etc/app/built
ENV GREETING=hello
VOLUME /data
COPY app.conf /etc/app/
EXPOSE 80
CMD ["sh"]
EOF
$doca build -t demo/busybox:1.0 "$work/app"
$doca build -t demo/busybox:1.0 "$work/app" | tail -3
$doca images
$doca inspect --format '{{json .Config}}' demo/busybox:1.0
$doca history demo/busybox:1.0
$doca run --rm demo/busybox:1.0 sh -c 'echo "$GREETING from container $(hostname), pid $$"; cat /etc/app/built /etc/app/app.conf'
$doca run -d --name ticker -m 64m demo/busybox:1.0 sh -c 'trap "exit 0" TERM; while true; do date; sleep 1; done'
$doca ps
$doca exec ticker sh -c 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes; id'
sleep 2
$doca logs --tail 2 ticker
$doca stop ticker
$doca ps -a
$doca rm -v ticker
# A volume outlives its containers: one writes, a later one reads.
$doca run --rm -v demo-data:/data demo/busybox:1.0 sh -c 'echo "written at $(date)" > /data/note'
$doca run --rm -v demo-data:/data:ro demo/busybox:1.0 cat /data/note
$doca volume ls
$doca volume rm demo-data
# Networks: a web server published on the host, and two containers that find each other by name.
$doca run -d --name web -p 127.0.0.1:18080:80 demo/busybox:1.0 sh -c 'echo "hello from $(hostname)" > /data/index.html; exec httpd -f -p 80 -h /data'
sleep 0.5
curl -s http://127.0.0.1:18080/
$doca port web
$doca network create demo-net
$doca run -d --name db --network demo-net demo/busybox:1.0 sleep 300
$doca run --rm --network demo-net demo/busybox:1.0 sh -c 'nslookup db | tail -2; ping -c1 -w2 db'
$doca rm -f web db
$doca network rm demo-net
$doca save -o "$work/demo.tar" demo/busybox:1.0
DOCA_ROOT="$work/store2" $doca load -i "$work/demo.tar"
DOCA_ROOT="$work/store2" $doca images
skopeo inspect "docker-archive:$work/demo.tar" | head -5
$doca system df
$doca system check
