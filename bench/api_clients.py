"""Engine API measurements for bench/api.sh, with the Docker SDK for Python.

  api_clients.py loop SOCK IMAGE N EXTRA_JSON   create -> start -> wait -> remove of `true`, N times: total ms
  api_clients.py list SOCK K                    K x GET /containers/json?all=1: one ms per line
  api_clients.py streams SOCK IMAGE CLIENTS EXTRA_JSON
      CLIENTS threads, each following a container's logs and the event stream at once; prints
      how many got their first log line and their first event, and the slowest wait (ms)
"""

import json
import sys
import threading
import time

import docker

cmd, sock = sys.argv[1], sys.argv[2]
api = docker.APIClient(base_url=f"unix://{sock}", version="1.41", timeout=120)

if cmd == "loop":
    image, n, extra = sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5])
    host_config = api.create_host_config(network_mode="none", **extra.get("host_config", {}))
    t0 = time.monotonic()
    for _ in range(n):
        c = api.create_container(image, ["true"], host_config=host_config, labels=extra.get("labels", {}))
        api.start(c)
        api.wait(c)
        api.remove_container(c)
    print(f"{(time.monotonic() - t0) * 1000:.1f}")
elif cmd == "list":
    for _ in range(int(sys.argv[3])):
        t0 = time.monotonic()
        api.containers(all=True)
        print(f"{(time.monotonic() - t0) * 1000:.2f}")
elif cmd == "streams":
    image, clients, extra = sys.argv[3], int(sys.argv[4]), json.loads(sys.argv[5])
    host_config = api.create_host_config(network_mode="none", **extra.get("host_config", {}))
    c = api.create_container(image, ["sh", "-c", "while true; do echo tick; sleep 0.2; done"], host_config=host_config, labels=extra.get("labels", {}))
    api.start(c)
    got_log, got_event, slowest = [0], [0], [0.0]
    lock = threading.Lock()
    start = time.monotonic()

    def follow(i):
        own = docker.APIClient(base_url=f"unix://{sock}", version="1.41", timeout=60)
        t0 = time.monotonic()
        for _ in own.logs(c, stream=True, follow=True):
            with lock:
                got_log[0] += 1
            break
        since = int(time.time()) - 600
        for _ in own.events(since=since, decode=True):
            with lock:
                got_event[0] += 1
                slowest[0] = max(slowest[0], (time.monotonic() - t0) * 1000)
            break

    threads = [threading.Thread(target=follow, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    api.remove_container(c, force=True)
    print(got_log[0], got_event[0], f"{slowest[0]:.0f}")
