"""The Docker SDK for Python (docker-py) against `doca serve`.

Run by tests/api.rs with DOCKER_HOST pointing at the server, IMAGE naming a busybox image in
its store, CGROUP the cgroup parent for containers and REGISTRY a registry on loopback. Exits
non-zero (with the assertion) on the first difference from what dockerd answers.
"""

import io
import os
import tarfile
import threading
import time

import docker

image = os.environ["IMAGE"]
cgroup = os.environ["CGROUP"]
registry = os.environ["REGISTRY"]
client = docker.from_env(version="auto")
api = client.api

assert client.ping() is True
version = client.version()
assert version["ApiVersion"] == "1.47" and version["MinAPIVersion"] == "1.24", version
assert client.info()["Images"] >= 1

# Events from both fronts, streamed while the rest runs.
events = []
since = int(time.time()) - 1


def watch():
    for e in client.events(since=since, decode=True, filters={"label": ["sdk=1"], "type": "container"}):
        events.append((e["Type"], e["Action"], e["Actor"]["Attributes"].get("name")))
        if e["Action"] == "destroy":
            return


watcher = threading.Thread(target=watch, daemon=True)
watcher.start()

# Containers: run to completion, detached, logs as a stream, exec, wait, remove.
out = client.containers.run(image, ["sh", "-c", "echo out; echo err >&2"], cgroup_parent=cgroup, remove=True, stderr=True)
assert out == b"out\nerr\n", out
c = client.containers.run(
    image,
    ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done; exec sleep 300"],
    detach=True,
    name="sdk-c",
    labels={"sdk": "1"},
    environment={"FOO": "bar"},
    cgroup_parent=cgroup,
)
c.reload()
assert c.status == "running" and c.name == "sdk-c" and c.labels["sdk"] == "1", c.attrs["State"]
assert "FOO=bar" in c.attrs["Config"]["Env"]
lines = []
for chunk in c.logs(stream=True, follow=True):
    lines.append(chunk)
    if b"line3" in b"".join(lines):
        break
assert b"".join(lines) == b"line1\nline2\nline3\n", lines
code, output = c.exec_run(["sh", "-c", "echo $FOO; exit 2"])
assert (code, output) == (2, b"bar\n"), (code, output)
res = c.exec_run(["id", "-u"], user="nobody")
assert res.exit_code == 0 and res.output == b"65534\n", res
assert [x.name for x in client.containers.list(filters={"label": "sdk=1"})] == ["sdk-c"]
assert [x.name for x in client.containers.list(all=True, filters={"name": ["sdk-c"], "status": ["running"]})] == ["sdk-c"]
top = c.top()
assert any("sleep 300" in " ".join(p) for p in top["Processes"]), top
stats = c.stats(stream=False)
assert "precpu_stats" in stats and stats["memory_stats"]["usage"] > 0, stats.keys()
payload = io.BytesIO()
with tarfile.open(fileobj=payload, mode="w") as t:
    info = tarfile.TarInfo("put.txt")
    info.size = 4
    t.addfile(info, io.BytesIO(b"put\n"))
assert c.put_archive("/tmp", payload.getvalue())
assert c.exec_run(["cat", "/tmp/put.txt"]).output == b"put\n"
bits, stat = c.get_archive("/tmp/put.txt")
assert stat["name"] == "put.txt", stat
c.stop(timeout=1)
assert c.wait()["StatusCode"] == 137
c.remove()

# Images: build from a file object, tag, history, save and load, push and pull.
dockerfile = io.BytesIO(f"FROM {image}\nLABEL sdk=built\nRUN echo built > /built\n".encode())
built, logs = client.images.build(fileobj=dockerfile, tag="sdk-built:1", rm=True)
assert "sdk-built:1" in built.tags and built.labels["sdk"] == "built", built.attrs["Config"]
assert any("Successfully built" in l.get("stream", "") for l in logs)
assert client.containers.run("sdk-built:1", ["cat", "/built"], cgroup_parent=cgroup, remove=True) == b"built\n"
assert len(built.history()) >= 2
archive = b"".join(built.save())
client.images.remove("sdk-built:1")
loaded = client.images.load(archive)
assert loaded[0].id == built.id, loaded
remote = f"{registry}/sdk/built"
built.tag(remote, "1")
pushed = [l for l in client.images.push(remote, tag="1", stream=True, decode=True)]
assert any("aux" in l and l["aux"]["Tag"] == "1" for l in pushed), pushed
data = client.images.get_registry_data(f"{remote}:1")
assert data.id.startswith("sha256:") and data.has_platform("linux/amd64"), data.attrs
client.images.remove(f"{remote}:1")
pulled = client.images.pull(remote, tag="1")
assert pulled.id == built.id, (pulled.id, built.id)

# Volumes and networks.
v = client.volumes.create("sdk-vol", labels={"sdk": "1"})
assert v.attrs["Mountpoint"].endswith("/volumes/sdk-vol/_data"), v.attrs
out = client.containers.run(
    image, ["sh", "-c", "echo kept > /d/f; cat /d/f"], volumes={"sdk-vol": {"bind": "/d", "mode": "rw"}}, cgroup_parent=cgroup, remove=True
)
assert out == b"kept\n", out
assert [x.name for x in client.volumes.list(filters={"label": "sdk=1"})] == ["sdk-vol"]
v.remove()
n = client.networks.create("sdk-net", driver="bridge", ipam=docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet="10.232.9.0/24")]))
server = client.containers.run(image, ["sleep", "300"], detach=True, name="sdk-server", network="sdk-net", cgroup_parent=cgroup)
probe = client.containers.create(image, ["ping", "-c1", "-W3", "sdk-server"], cgroup_parent=cgroup)
n.connect(probe, aliases=["probe"])
probe.start()
assert probe.wait()["StatusCode"] == 0, probe.logs()
n.reload()
assert "10.232.9.0/24" == n.attrs["IPAM"]["Config"][0]["Subnet"]
probe.remove(force=True)
server.remove(force=True)
n.remove()

watcher.join(timeout=10)
actions = [a for (_, a, name) in events if name == "sdk-c"]
for want in ["create", "start", "die", "destroy"]:
    assert want in actions, actions
print("sdk ok")
