"""The emulator counts the requests it serves by verb (what the scale benchmark reads)."""

from __future__ import annotations

import http.client
import json

from acm_sync_testbed.emulators.kube.server import KubeEmulator


def call(kube: KubeEmulator, method: str, path: str, body: object = None) -> None:
    kind = "merge-patch+json" if method == "PATCH" else "json"
    connection = http.client.HTTPConnection(kube.host, kube.port, timeout=10)
    try:
        data = json.dumps(body) if body is not None else None
        connection.request(method, path, data, {"Content-Type": f"application/{kind}"})
        response = connection.getresponse()
        response.read()
        assert response.status < 300, (method, path, response.status)
    finally:
        connection.close()


def test_gets_lists_and_writes_are_counted_apart(kube: KubeEmulator) -> None:
    before = kube.requests.snapshot()
    secrets = "/api/v1/namespaces/default/secrets"
    call(kube, "POST", secrets, {"metadata": {"name": "a"}, "type": "Opaque"})
    call(kube, "GET", secrets + "/a")
    call(kube, "GET", secrets + "/a")
    call(kube, "GET", secrets + "?limit=500")
    call(kube, "GET", "/api/v1/secrets")
    call(kube, "PATCH", secrets + "/a", {"metadata": {"labels": {"x": "y"}}})
    call(kube, "GET", "/api/v1/namespaces/default")
    after = kube.requests.snapshot()
    served = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    assert served == {
        "create secrets": 1,
        "get secrets": 2,
        "list secrets": 2,
        "patch secrets": 1,
        "get namespaces": 1,
    }
