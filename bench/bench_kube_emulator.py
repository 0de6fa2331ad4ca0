"""Kubernetes API emulator figures: create+watch throughput and the memory of 10,000 Secrets.

Prints the figures; asserts nothing (targets: 1,000 creates with a watch delivering every event
in under 5 s; 10,000 Secrets in under 200 MB).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import threading
import time

from acm_sync_testbed.emulators.kube.server import KubeEmulator

# A TLS Secret of realistic size: an RSA-2048 leaf plus one intermediate, and its key.
PEM_SIZE = {"tls.crt": 2_600, "tls.key": 1_700, "ca.crt": 1_300}


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _secret(i: int) -> bytes:
    data = {k: base64.b64encode(os.urandom(n)).decode() for k, n in PEM_SIZE.items()}
    body = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": f"cert-{i:05d}", "labels": {"app": "bench"}},
        "type": "kubernetes.io/tls",
        "data": data,
    }
    return json.dumps(body).encode()


def _create(kube: KubeEmulator, count: int, start: int = 0) -> None:
    connection = http.client.HTTPConnection(kube.host, kube.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    for i in range(start, start + count):
        connection.request("POST", "/api/v1/namespaces/default/secrets", _secret(i), headers)
        response = connection.getresponse()
        response.read()
        if response.status != 201:
            raise RuntimeError(f"create failed: {response.status}")
    connection.close()


def bench_create_and_watch(count: int = 1_000) -> None:
    with KubeEmulator() as kube:
        connection = http.client.HTTPConnection(kube.host, kube.port, timeout=30)
        connection.request(
            "GET", f"/api/v1/namespaces/default/secrets?watch=true&resourceVersion={kube.store.rv}"
        )
        response = connection.getresponse()
        received: list[str] = []

        def read() -> None:
            while len(received) < count:
                line = response.readline()
                if not line:
                    return
                received.append(json.loads(line)["type"])

        reader = threading.Thread(target=read)
        started = time.perf_counter()
        reader.start()
        _create(kube, count)
        reader.join(60)
        elapsed = time.perf_counter() - started
        connection.close()
    print(
        f"{count} Secret creates over HTTP with a watch delivering {len(received)} events: "
        f"{elapsed:.2f} s"
    )


def bench_memory(count: int = 10_000) -> None:
    before = _rss_mb()
    with KubeEmulator() as kube:
        _create(kube, count)
        after = _rss_mb()
        stored = len(kube.store.objects[("", "secrets")])
    print(
        f"{stored} TLS Secrets (~{sum(PEM_SIZE.values()) * 4 // 3 // 1024} KiB of data each): "
        f"process RSS {before:.0f} MB -> {after:.0f} MB (+{after - before:.0f} MB)"
    )


if __name__ == "__main__":
    bench_create_and_watch()
    bench_memory()
